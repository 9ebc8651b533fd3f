import Core
import Crypto
import Foundation
import GRDB

#if canImport(Glibc)
    import Glibc
#endif

/// Who did something, and how Ratchet knows: recorded with every human action in the store
/// and the audit log.
public struct Actor: Sendable, Equatable {
    public enum Auth: String, Sendable, Codable {
        /// An API request with a personal token (`Authorization: Bearer`).
        case token
        /// A browser session opened with a personal token.
        case session
        /// A CLI action: the OS user running `ratchet`.
        case osUser = "os-user"
        /// A name given by hand and not checked (library callers, entries from before personal tokens).
        case typed
    }

    public var name: String
    public var auth: Auth
    /// `token 3`, `uid 1000`.
    public var id: String?
    /// More about the actor, kept in the audit entry: git's identity, the session, a name
    /// an API client sent in `as`.
    public var details: [String: String]

    public init(name: String, auth: Auth, id: String? = nil, details: [String: String] = [:]) {
        self.name = name
        self.auth = auth
        self.id = id
        self.details = details
    }

    /// A name nobody checked.
    public static func typed(_ name: String) -> Actor { Actor(name: name, auth: .typed) }

    /// The OS user running this process, with git's `user.name <user.email>` when set.
    public static func local(gitIdentity: String?) -> Actor {
        var details: [String: String] = [:]
        if let gitIdentity, !gitIdentity.isEmpty { details["git_user"] = gitIdentity }
        return Actor(name: LocalUser.name, auth: .osUser, id: "uid \(getuid())", details: details)
    }

    /// The fields an audit entry carries about its actor: `auth`, `actor_id` and the details.
    public var auditFields: [String: String] {
        var fields = details
        fields["auth"] = auth.rawValue
        if let id { fields["actor_id"] = id }
        return fields
    }

    /// How an audit entry's actor was established, from its fields: `token 3 (session)`,
    /// `OS user (uid 1000, git: Ada <ada@example.com>)`, `the loop`, or `typed, unchecked`
    /// for entries made before personal tokens.
    public static func established(actor: String, fields: [String: String]) -> String {
        switch fields["auth"].flatMap(Auth.init(rawValue:)) {
        case .token: return "token" + (fields["actor_id"].map { " (\($0))" } ?? "")
        case .session: return "browser session of " + (fields["actor_id"] ?? "a token")
        case .osUser:
            var parts = [fields["actor_id"]].compactMap { $0 }
            if let git = fields["git_user"] { parts.append("git: \(git)") }
            return "OS user" + (parts.isEmpty ? "" : " (\(parts.joined(separator: ", ")))")
        case .typed: return "typed, unchecked"
        case nil: return actor == ApprovalTally.loopIdentity ? "the loop" : "typed, unchecked"
        }
    }
}

/// The OS user running this process, from the password database (not `$USER`, which any
/// process can set).
public enum LocalUser {
    public static var name: String {
        if let entry = getpwuid(getuid()), let name = entry.pointee.pw_name {
            let text = String(cString: name)
            if !text.isEmpty { return text }
        }
        return "uid \(getuid())"
    }
}

/// A personal access token: a name, a role, and the SHA-256 of the secret (the secret itself
/// is shown once when made and never stored).
public struct AccessTokenRecord: Codable, Sendable, Equatable, FetchableRecord, MutablePersistableRecord {
    public static let databaseTableName = "access_token"
    public var id: Int64?
    public var name: String
    public var role: Role
    /// SHA-256 of the secret, hex.
    public var hash: String
    /// The shared token of `<state>/token` from before personal tokens, adopted as `owner`.
    public var legacy: Bool
    public var createdAt: Date
    public var createdBy: String
    public var revokedAt: Date?
    public var revokedBy: String?
    public var lastUsedAt: Date?

    public var isLive: Bool { revokedAt == nil }

    public mutating func didInsert(_ inserted: InsertionSuccess) { id = inserted.rowID }

    /// Why `name` cannot name a token, or `nil`: 1-64 letters, digits, `.`, `_`, `-`, `@`,
    /// and not the loop's own identity.
    public static func problem(withName name: String) -> String? {
        let allowed = name.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || ".-_@".contains($0)) }
        guard !name.isEmpty, name.count <= 64, allowed else {
            return "a token name is 1-64 letters, digits, '.', '_', '-' or '@' (use the person's login name, e.g. ada)"
        }
        if name.lowercased() == ApprovalTally.loopIdentity { return "'\(name)' is the loop's own identity; pick the person's name" }
        return nil
    }

    /// SHA-256 of a secret, hex. Secrets are 32 random bytes, so a fast hash is enough: there
    /// is nothing to guess from it.
    public static func hash(_ secret: String) -> String {
        SHA256.hash(data: Data(secret.utf8)).map { String(format: "%02x", $0) }.joined()
    }

    /// A new secret: `rat_` and 32 random bytes as hex.
    public static func newSecret() -> String {
        var generator = SystemRandomNumberGenerator()
        return "rat_"
            + (0..<4).map { _ in
                let hex = String(generator.next() as UInt64, radix: 16)
                return String(repeating: "0", count: 16 - hex.count) + hex
            }.joined()
    }
}

/// A token just made: its record and the secret, which is shown once.
public struct IssuedToken: Sendable {
    public var record: AccessTokenRecord
    public var secret: String
}

extension Store {
    /// Makes a personal token for `name`; only its hash is stored.
    /// - Throws: `StoreError` when the name is unusable or a live token already has it.
    public func addToken(name: String, role: Role, createdBy: String) throws(StoreError) -> IssuedToken {
        if let problem = AccessTokenRecord.problem(withName: name) {
            throw StoreError(path: path, operation: "add token '\(name)'", message: problem)
        }
        let secret = AccessTokenRecord.newSecret()
        let record: AccessTokenRecord = try write("add token '\(name)'") { db in
            if try AccessTokenRecord.filter(Column("name") == name && Column("revokedAt") == nil).fetchCount(db) > 0 {
                throw TokenNameTaken(name: name)
            }
            var record = AccessTokenRecord(
                name: name, role: role, hash: AccessTokenRecord.hash(secret), legacy: false, createdAt: Date(), createdBy: createdBy)
            try record.insert(db)
            return record
        }
        return IssuedToken(record: record, secret: secret)
    }

    /// Adopts the shared token of `<state>/token` as the `admin` named `owner`, once: a secret
    /// whose hash is already known (live or revoked) is left as it is.
    @discardableResult
    public func adoptLegacyToken(_ secret: String) throws(StoreError) -> AccessTokenRecord? {
        let hash = AccessTokenRecord.hash(secret)
        return try write("adopt the shared token") { db -> AccessTokenRecord? in
            if try AccessTokenRecord.filter(Column("hash") == hash).fetchCount(db) > 0 { return nil }
            let taken = try AccessTokenRecord.filter(Column("name") == "owner" && Column("revokedAt") == nil).fetchCount(db) > 0
            var record = AccessTokenRecord(
                name: taken ? "owner-shared" : "owner", role: .admin, hash: hash, legacy: true, createdAt: Date(), createdBy: "the shared token file")
            try record.insert(db)
            return record
        }
    }

    /// Every token, live and revoked, oldest first.
    public func tokens() throws(StoreError) -> [AccessTokenRecord] {
        try read("list tokens") { try AccessTokenRecord.order(Column("id")).fetchAll($0) }
    }

    /// The live token whose secret is `secret`, if any.
    public func liveToken(secret: String) throws(StoreError) -> AccessTokenRecord? {
        let hash = AccessTokenRecord.hash(secret)
        return try read("look up a token") { db in
            try AccessTokenRecord.filter(Column("hash") == hash && Column("revokedAt") == nil).fetchOne(db)
        }
    }

    public func token(id: Int64) throws(StoreError) -> AccessTokenRecord? {
        try read("read token \(id)") { try AccessTokenRecord.fetchOne($0, key: id) }
    }

    /// Whether any token is live (a daemon without one cannot be used).
    public func hasLiveToken() throws(StoreError) -> Bool {
        try read("count tokens") { try AccessTokenRecord.filter(Column("revokedAt") == nil).fetchCount($0) > 0 }
    }

    /// Revokes the live token named `name`; returns it, or `nil` when there is none.
    public func revokeToken(name: String, by actor: String) throws(StoreError) -> AccessTokenRecord? {
        try write("revoke token '\(name)'") { db -> AccessTokenRecord? in
            guard var record = try AccessTokenRecord.filter(Column("name") == name && Column("revokedAt") == nil).fetchOne(db) else {
                return nil
            }
            record.revokedAt = Date()
            record.revokedBy = actor
            try record.update(db)
            return record
        }
    }

    /// Records that a token was used (at most once a minute per token, to spare writes).
    public func touchToken(_ record: AccessTokenRecord) {
        guard let id = record.id, (record.lastUsedAt.map { Date().timeIntervalSince($0) > 60 } ?? true) else { return }
        _ = try? write("note token use") { db in
            try db.execute(sql: "UPDATE access_token SET lastUsedAt = ? WHERE id = ?", arguments: [Date(), id])
        }
    }

    /// The OS user who started the run that made candidate `id` (the newest run started
    /// before the candidate), when recorded.
    public func starter(ofCandidate candidate: CandidateRecord) throws(StoreError) -> String? {
        try read("find the run of candidate \(candidate.id ?? 0)") { db in
            try String.fetchOne(
                db, sql: "SELECT startedBy FROM run WHERE loop = ? AND startedAt <= ? ORDER BY startedAt DESC, id DESC LIMIT 1",
                arguments: [candidate.loop, candidate.createdAt])
        }
    }
}

extension Role: DatabaseValueConvertible {}

/// A live token already has this name.
struct TokenNameTaken: Error, CustomStringConvertible {
    var name: String
    var description: String { "a live token is already named '\(name)'; revoke it first (`ratchet token revoke \(name)`) or pick another name" }
}
