import Crypto
import Execution
import Foundation
import GRDB

/// One entry of the tamper-evident audit log.
public struct AuditEntry: Codable, Sendable, Equatable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "audit"
    /// 1, 2, 3… with no gaps.
    public var seq: Int64
    /// ISO 8601 with milliseconds, UTC.
    public var time: String
    public var loop: String
    /// What happened: `loop_start`, `step`, `decision`, `budget_trip`, `pause`, `approval`, …
    public var kind: String
    /// Who did it: `ratchet` for the loop itself, or a person.
    public var actor: String
    /// The event's details as canonical JSON (sorted keys).
    public var payload: String
    public var prevHash: String
    /// SHA-256 over the previous hash and the canonical encoding of this entry.
    public var hash: String

    /// The bytes hashed: every field but `hash`, one per line, in a fixed order.
    var canonical: String { "\(seq)\n\(time)\n\(loop)\n\(kind)\n\(actor)\n\(payload)\n\(prevHash)" }

    static func digest(_ text: String) -> String {
        SHA256.hash(data: Data(text.utf8)).map { String(format: "%02x", $0) }.joined()
    }

    var expectedHash: String { Self.digest(canonical) }

    /// The payload decoded, for display.
    public var fields: [String: String] {
        (try? JSONDecoder().decode([String: String].self, from: Data(payload.utf8))) ?? [:]
    }
}

/// The result of `AuditLog.verify`.
public struct AuditVerification: Sendable, Equatable, Codable {
    public var entries: Int
    public var ok: Bool
    /// The first bad entry's sequence number, when there is one.
    public var firstBad: Int64?
    public var problem: String?
}

/// Appends events to a SHA-256 hash chain in the store and anchors its head outside the
/// table: in a head file (`audit.head`, rewritten after every append) and in the
/// `Ratchet-Audit` trailer of every commit the loop makes. Editing, deleting or reordering
/// entries breaks the chain; truncating the tail or appending out of band disagrees with
/// the anchors.
public final class AuditLog: Sendable {
    public static let genesis = String(repeating: "0", count: 64)
    let store: Store
    public let headPath: String

    public init(store: Store, headPath: String) {
        self.store = store
        self.headPath = headPath
    }

    /// How `AuditEntry.time` is written (UTC, no zone suffix), and read back.
    public static let timeFormat: Date.ISO8601FormatStyle = .iso8601.year().month().day().time(includingFractionalSeconds: true)

    /// Appends one event and moves the head anchor; returns the new entry.
    @discardableResult
    public func append(loop: String, kind: String, actor: String = "ratchet", _ fields: [String: String] = [:]) throws(StoreError) -> AuditEntry {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let payload = (try? encoder.encode(fields)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
        let entry: AuditEntry = try store.write("append audit entry") { db in
            let last = try AuditEntry.order(Column("seq").desc).fetchOne(db)
            var entry = AuditEntry(
                seq: (last?.seq ?? 0) + 1, time: Date().formatted(Self.timeFormat), loop: loop, kind: kind, actor: actor,
                payload: payload, prevHash: last?.hash ?? Self.genesis, hash: "")
            entry.hash = entry.expectedHash
            try entry.insert(db)
            return entry
        }
        try writeHead(entry)
        return entry
    }

    /// Moves the head anchor to `entry`. Several writers may share one state folder (loops
    /// side by side in `ratchet daemon`, a review while a loop runs), each with its own
    /// `AuditLog`: a lock file serialises them, each uses its own temporary file, and the
    /// head never moves back to an older entry.
    func writeHead(_ entry: AuditEntry) throws(StoreError) {
        let lock: FileLock
        do throws(LockError) {
            lock = try FileLock(path: headPath + ".lock")
            try lock.lock(.exclusive)
        } catch {
            throw StoreError(path: error.path, operation: "lock audit head", message: error.message)
        }
        defer { lock.unlock() }
        if let current = head(), current.seq >= entry.seq { return }
        let text = "\(entry.seq) \(entry.hash)\n"
        let temporary = headPath + ".tmp.\(getpid()).\(entry.seq)"
        do {
            try Data(text.utf8).write(to: URL(fileURLWithPath: temporary))
        } catch {
            throw StoreError(path: headPath, operation: "write audit head", message: "\(error)")
        }
        guard rename(temporary, headPath) == 0 else {
            let message = String(cString: strerror(errno))
            unlink(temporary)
            throw StoreError(path: headPath, operation: "write audit head", message: message)
        }
    }

    /// The anchored head (`seq`, `hash`), or `nil` when no head file exists.
    public func head() -> (seq: Int64, hash: String)? {
        guard let text = try? String(contentsOfFile: headPath, encoding: .utf8) else { return nil }
        let parts = text.split(whereSeparator: { $0 == " " || $0 == "\n" })
        guard parts.count >= 2, let seq = Int64(parts[0]) else { return nil }
        return (seq, String(parts[1]))
    }

    /// `seq:hash` of the newest entry, for commit trailers.
    public func anchor() throws(StoreError) -> String? {
        try store.read("read audit head") { try AuditEntry.order(Column("seq").desc).fetchOne($0) }.map { "\($0.seq):\($0.hash)" }
    }

    public func entries(loop: String? = nil) throws(StoreError) -> [AuditEntry] {
        try store.read("read audit log") { db in
            var request = AuditEntry.order(Column("seq"))
            if let loop { request = request.filter(Column("loop") == loop) }
            return try request.fetchAll(db)
        }
    }

    /// After a crash between the store's commit and the head file's rewrite, the table is
    /// one entry ahead of the head file. Adopt that one entry if it chains onto the head.
    public func reconcile() throws(StoreError) {
        guard let head = head() else {
            if let last = try entries().last { try writeHead(last) }
            return
        }
        let all = try entries()
        guard let last = all.last, last.seq == head.seq + 1, last.prevHash == head.hash, last.hash == last.expectedHash else { return }
        try writeHead(last)
    }

    /// Checks the whole chain and its anchors.
    /// - Parameter commitAnchors: `seq:hash` values found in commit trailers.
    public func verify(commitAnchors: [String] = []) throws(StoreError) -> AuditVerification {
        let all = try entries()
        var previous = Self.genesis
        for (index, entry) in all.enumerated() {
            let expectedSeq = Int64(index + 1)
            if entry.seq != expectedSeq {
                return bad(all.count, expectedSeq, "entry \(expectedSeq) is missing (found \(entry.seq) in its place): entries were deleted")
            }
            if entry.prevHash != previous {
                return bad(all.count, entry.seq, "entry \(entry.seq) does not follow entry \(entry.seq - 1): entries were deleted or reordered")
            }
            if entry.hash != entry.expectedHash {
                return bad(all.count, entry.seq, "entry \(entry.seq) (\(entry.kind)) was edited: its hash does not match its content")
            }
            previous = entry.hash
        }
        for anchor in commitAnchors {
            let parts = anchor.split(separator: ":")
            guard parts.count == 2, let seq = Int64(parts[0]) else { continue }
            guard seq <= all.count else {
                return bad(all.count, seq, "a commit anchors entry \(seq) but the log ends at \(all.count): the tail was truncated")
            }
            if all[Int(seq) - 1].hash != parts[1] {
                return bad(all.count, seq, "entry \(seq) differs from the one anchored in a commit trailer: it was rewritten")
            }
        }
        if let head = head() {
            if head.seq > all.count {
                return bad(
                    all.count, Int64(all.count + 1),
                    "the head file anchors entry \(head.seq) but the log ends at \(all.count): the tail was truncated")
            }
            if head.seq >= 1, all[Int(head.seq) - 1].hash != head.hash {
                return bad(all.count, head.seq, "entry \(head.seq) differs from the anchored head: the log was rewritten")
            }
            if head.seq < all.count {
                return bad(all.count, head.seq + 1, "entries \(head.seq + 1)–\(all.count) come after the anchored head: appended out of band")
            }
        } else if !all.isEmpty {
            return bad(all.count, 1, "the head file \(headPath) is missing")
        }
        return AuditVerification(entries: all.count, ok: true, firstBad: nil, problem: nil)
    }

    private func bad(_ count: Int, _ seq: Int64, _ problem: String) -> AuditVerification {
        AuditVerification(entries: count, ok: false, firstBad: seq, problem: problem)
    }
}
