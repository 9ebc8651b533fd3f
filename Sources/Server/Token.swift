import Core
import Foundation
import Store

#if canImport(Glibc)
    import Glibc
#endif

/// Why the daemon or the review server cannot start or do what was asked, with what the
/// user can do about it.
public struct DaemonError: Error, Sendable, CustomStringConvertible {
    public enum Kind: String, Sendable {
        case config, io, usage, store
    }

    public var kind: Kind
    public var message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { message }
}

/// The shared token of Ratchet before personal tokens: 32 random bytes as hex in
/// `<state>/token`. It is no longer made; an existing one is adopted as the `admin` named
/// `owner` (see `AccessStore`) and keeps working until `ratchet token revoke owner`, which
/// also deletes the file.
public struct SharedTokenFile: Sendable {
    public let value: String
    public let path: String

    /// The shared token in `directory`, or `nil` when there is none.
    /// - Throws: `DaemonError` `.io` when the file exists but cannot be read or holds no token.
    public static func load(directory: String) throws(DaemonError) -> SharedTokenFile? {
        let path = directory + "/token"
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        if let mode = (try? FileManager.default.attributesOfItem(atPath: path))?[.posixPermissions] as? Int, mode & 0o077 != 0 {
            guard chmod(path, 0o600) == 0 else {
                throw DaemonError(.io, "\(path) is readable by others and cannot be made private (chmod 600): \(String(cString: strerror(errno)))")
            }
        }
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw DaemonError(.io, "cannot read \(path); check its owner and permissions, or delete it (personal tokens replace it)")
        }
        let token = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard token.count >= 32, token.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber) }) else {
            throw DaemonError(.io, "\(path) does not hold a token (32+ letters or digits); delete it (personal tokens replace it)")
        }
        return SharedTokenFile(value: token, path: path)
    }

    /// 32 bytes from the system's random source, as 64 hex digits.
    static func random() -> String {
        var generator = SystemRandomNumberGenerator()
        return (0..<4).map { _ in
            let hex = String(generator.next() as UInt64, radix: 16)
            return String(repeating: "0", count: 16 - hex.count) + hex
        }.joined()
    }

    /// Compares in time independent of where the strings differ.
    static func constantTimeEqual(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8), y = Array(b.utf8)
        var difference = UInt8(x.count == y.count ? 0 : 1)
        for index in 0..<max(x.count, y.count) {
            difference |= (index < x.count ? x[index] : 0) ^ (index < y.count ? y[index] : 0)
        }
        return difference == 0
    }
}

/// The personal tokens of a daemon: kept (as hashes) in the store of its state folder,
/// `<state>/ratchet.sqlite`, and changed only by `ratchet token add|revoke`, each change
/// audited. The daemon reads them on every request, so a revocation takes effect at once,
/// even while the daemon runs.
public final class AccessStore: Sendable {
    public let directory: String
    public let store: Store
    public let audit: AuditLog

    init(directory: String, store: Store) {
        self.directory = directory
        self.store = store
        audit = AuditLog(store: store, headPath: directory + "/audit.head")
    }

    /// Opens the tokens of the state folder `directory` (creating the folder and store), and
    /// adopts the shared token file there, if any, as `owner`.
    /// - Throws: `DaemonError` `.io` or `.store`.
    public static func open(directory: String) throws(DaemonError) -> AccessStore {
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw DaemonError(.io, "cannot create state folder \(directory): \(error.localizedDescription)")
        }
        let access: AccessStore
        do {
            access = AccessStore(directory: directory, store: try Store(path: directory + "/ratchet.sqlite"))
        } catch {
            throw DaemonError(.store, error.description)
        }
        if let shared = try SharedTokenFile.load(directory: directory) {
            do {
                if let adopted = try access.store.adoptLegacyToken(shared.value) {
                    try access.audit.append(
                        loop: "", kind: "token_adopted", actor: ApprovalTally.loopIdentity,
                        ["name": adopted.name, "role": adopted.role.rawValue, "token_id": String(adopted.id ?? 0), "file": shared.path])
                }
            } catch {
                throw DaemonError(.store, error.description)
            }
        }
        return access
    }

    /// Makes a personal token; the secret is in the result and nowhere else.
    /// - Throws: `DaemonError` `.usage` for a bad or taken name, `.store` otherwise.
    public func add(name: String, role: Role, by actor: Actor) throws(DaemonError) -> IssuedToken {
        if let problem = AccessTokenRecord.problem(withName: name) { throw DaemonError(.usage, "token name '\(name)': \(problem)") }
        do {
            let issued = try store.addToken(name: name, role: role, createdBy: actor.name)
            try audit.append(
                loop: "", kind: "token_added", actor: actor.name,
                actor.auditFields.merging(["name": name, "role": role.rawValue, "token_id": String(issued.record.id ?? 0)]) { _, new in new })
            return issued
        } catch {
            if error.message.contains("already named") { throw DaemonError(.usage, error.message) }
            throw DaemonError(.store, error.description)
        }
    }

    /// Revokes the live token `name`: every request and browser session made with it is
    /// refused from now on. Revoking the adopted shared token also deletes `<state>/token`.
    /// - Throws: `DaemonError` `.usage` when no live token has that name.
    public func revoke(name: String, by actor: Actor) throws(DaemonError) -> AccessTokenRecord {
        let record: AccessTokenRecord
        do {
            guard let revoked = try store.revokeToken(name: name, by: actor.name) else {
                let live = try store.tokens().filter(\.isLive).map(\.name)
                throw DaemonError(.usage, "no live token named '\(name)' (live: \(live.isEmpty ? "none" : live.joined(separator: ", ")))")
            }
            record = revoked
            try audit.append(
                loop: "", kind: "token_revoked", actor: actor.name,
                actor.auditFields.merging(["name": name, "role": record.role.rawValue, "token_id": String(record.id ?? 0)]) { _, new in new })
        } catch let error as DaemonError {
            throw error
        } catch {
            throw DaemonError(.store, "\(error)")
        }
        if record.legacy, let shared = try? SharedTokenFile.load(directory: directory), AccessTokenRecord.hash(shared.value) == record.hash {
            unlink(shared.path)
        }
        return record
    }
}
