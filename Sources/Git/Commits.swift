import CGit2

/// A commit's identity for `Repository.commit`.
public struct Signature: Sendable, Equatable {
    public var name: String
    public var email: String
    public init(name: String, email: String) {
        self.name = name
        self.email = email
    }
}

extension Repository {
    /// The tree a commit points to.
    public func tree(ofCommit id: ObjectID) throws(GitError) -> ObjectID {
        let commit = try lookupCommit(id)
        return ObjectID(git_commit_tree_id(commit.pointer).pointee)
    }

    /// The full message of a commit.
    public func message(ofCommit id: ObjectID) throws(GitError) -> String {
        let commit = try lookupCommit(id)
        guard let text = git_commit_message(commit.pointer) else { return "" }
        return String(cString: text)
    }

    /// The parents of a commit, first parent first.
    public func parents(ofCommit id: ObjectID) throws(GitError) -> [ObjectID] {
        let commit = try lookupCommit(id)
        let count = git_commit_parentcount(commit.pointer)
        return (0..<count).compactMap { index in
            git_commit_parent_id(commit.pointer, index).map { ObjectID($0.pointee) }
        }
    }

    /// `Key: value` trailers of a commit message (the last paragraph's `Ratchet-*` lines).
    public func trailers(ofCommit id: ObjectID) throws(GitError) -> [String: String] {
        Self.parseTrailers(try message(ofCommit: id))
    }

    static func parseTrailers(_ message: String) -> [String: String] {
        let paragraphs = message.trimmingTrailingNewlines().split(separator: "\n\n", omittingEmptySubsequences: true)
        guard let last = paragraphs.last else { return [:] }
        var result: [String: String] = [:]
        for line in last.split(separator: "\n") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let key = line[..<colon]
            guard !key.isEmpty, key.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" }) else { continue }
            result[String(key)] = line[line.index(after: colon)...].trimmingPrefixSpaces()
        }
        return result
    }

    // MARK: Commits

    /// Creates a commit object (no reference is moved).
    public func commit(
        tree: ObjectID,
        parents: [ObjectID],
        message: String,
        author: Signature
    ) throws(GitError) -> ObjectID {
        let treeHandle = try lookupTree(tree)
        var parentHandles: [CommitHandle] = []
        for parent in parents { parentHandles.append(try lookupCommit(parent)) }
        var signature: UnsafeMutablePointer<git_signature>?
        try check(
            git_signature_now(&signature, author.name, author.email), "make signature for '\(author.name) <\(author.email)>'",
            default: .invalidArgument)
        defer { git_signature_free(signature) }
        var oid = git_oid()
        var parentPointers: [OpaquePointer?] = parentHandles.map { $0.pointer }
        let rc = parentPointers.withUnsafeMutableBufferPointer { buffer in
            git_commit_create(&oid, pointer, nil, signature, signature, nil, message, treeHandle.pointer, parents.count, buffer.baseAddress)
        }
        try check(rc, "create commit", default: .io)
        withExtendedLifetime(parentHandles) {}
        return ObjectID(oid)
    }
}

extension Substring {
    func trimmingPrefixSpaces() -> String {
        String(drop(while: { $0 == " " || $0 == "\t" }))
    }
}
