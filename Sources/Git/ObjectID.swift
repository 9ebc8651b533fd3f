import CGit2

/// A git object id (SHA-1). Value type; the libgit2 struct never leaves this module.
public struct ObjectID: Hashable, Sendable, CustomStringConvertible, Codable {
    var raw: git_oid

    init(_ raw: git_oid) { self.raw = raw }

    /// Parses a full 40-character hex id.
    /// - Throws: `GitError` with code `.invalidArgument` when `hex` is not a full object id.
    public init(hex: String) throws(GitError) {
        var oid = git_oid()
        guard hex.utf8.count == 40, hex.allSatisfy(\.isHexDigit) else {
            throw GitError(.invalidArgument, operation: "parse object id", message: "'\(hex)' is not a 40-digit hex object id")
        }
        try check(git_oid_fromstr(&oid, hex), "parse object id '\(hex)'", default: .invalidArgument)
        self.raw = oid
    }

    public var hex: String {
        var copy = raw
        var buffer = [CChar](repeating: 0, count: 41)
        git_oid_tostr(&buffer, 41, &copy)
        return String(decoding: buffer.prefix(40).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    public var short: String { String(hex.prefix(10)) }
    public var description: String { hex }

    public static func == (a: ObjectID, b: ObjectID) -> Bool {
        var x = a.raw
        var y = b.raw
        return git_oid_equal(&x, &y) != 0
    }

    public func hash(into hasher: inout Hasher) {
        withUnsafeBytes(of: raw.id) { hasher.combine(bytes: $0) }
    }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        self = try ObjectID(hex: text)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(hex)
    }
}
