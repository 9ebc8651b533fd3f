import CGit2

/// A git repository opened through libgit2.
///
/// Ratchet reads objects and refs and writes new objects and the `ratchet/<loop>` branch;
/// it never touches the user's working tree, HEAD or index. Not thread-safe: use one
/// `Repository` per task.
public final class Repository {
    let pointer: OpaquePointer
    /// The `.git` directory (with a trailing slash, as libgit2 reports it).
    public let gitDirectory: String
    /// The user's working directory, or `nil` for a bare repository.
    public let workDirectory: String?
    private var cachedEmptyTree: ObjectID?

    /// Opens the repository containing `path` (searching parent folders).
    /// - Throws: `GitError` `.notARepository` when no repository contains `path`.
    public init(discovering path: String) throws(GitError) {
        try GitLibrary.ensureInitialized()
        var repo: OpaquePointer?
        try check(
            git_repository_open_ext(&repo, path, 0, nil),
            "open repository at '\(path)'",
            notFound: .notARepository
        )
        guard let repo else {
            throw GitError(.notARepository, operation: "open repository at '\(path)'", message: "libgit2 returned no repository")
        }
        pointer = repo
        gitDirectory = String(cString: git_repository_path(repo))
        if let work = git_repository_workdir(repo) {
            workDirectory = String(cString: work)
        } else {
            workDirectory = nil
        }
    }

    deinit { git_repository_free(pointer) }

    // MARK: Objects

    /// Resolves a revision (`main`, `ratchet/loop`, a hex id, `HEAD~2`) to a commit id.
    /// - Throws: `GitError` `.notFound` naming the revision when it does not exist.
    public func resolveCommit(_ spec: String) throws(GitError) -> ObjectID {
        var object: OpaquePointer?
        try check(git_revparse_single(&object, pointer, spec), "resolve '\(spec)'")
        guard let object else { throw GitError(.notFound, operation: "resolve '\(spec)'", message: "no object") }
        let owned = ObjectHandle(object)
        var peeled: OpaquePointer?
        try check(
            git_object_peel(&peeled, owned.pointer, GIT_OBJECT_COMMIT),
            "resolve '\(spec)' to a commit",
            default: .invalidArgument
        )
        guard let peeled else { throw GitError(.notFound, operation: "resolve '\(spec)'", message: "not a commit") }
        let commit = ObjectHandle(peeled)
        return ObjectID(git_object_id(commit.pointer).pointee)
    }

    func lookupCommit(_ id: ObjectID) throws(GitError) -> CommitHandle {
        var raw = id.raw
        var commit: OpaquePointer?
        try check(git_commit_lookup(&commit, pointer, &raw), "look up commit \(id.short)")
        guard let commit else { throw GitError(.notFound, operation: "look up commit \(id.short)", message: "missing") }
        return CommitHandle(commit)
    }

    func lookupTree(_ id: ObjectID) throws(GitError) -> TreeHandle {
        var raw = id.raw
        var tree: OpaquePointer?
        try check(git_tree_lookup(&tree, pointer, &raw), "look up tree \(id.short)")
        guard let tree else { throw GitError(.notFound, operation: "look up tree \(id.short)", message: "missing") }
        return TreeHandle(tree)
    }

    func lookupBlob(_ id: ObjectID) throws(GitError) -> BlobHandle {
        var raw = id.raw
        var blob: OpaquePointer?
        try check(git_blob_lookup(&blob, pointer, &raw), "look up blob \(id.short)")
        guard let blob else { throw GitError(.notFound, operation: "look up blob \(id.short)", message: "missing") }
        return BlobHandle(blob)
    }

    /// Stores `bytes` as a blob and returns its id.
    public func writeBlob(_ bytes: [UInt8]) throws(GitError) -> ObjectID {
        var oid = git_oid()
        let rc = bytes.withUnsafeBytes { git_blob_create_from_buffer(&oid, pointer, $0.baseAddress, $0.count) }
        try check(rc, "write blob", default: .io)
        return ObjectID(oid)
    }

    func emptyTree() throws(GitError) -> ObjectID {
        if let cachedEmptyTree { return cachedEmptyTree }
        var builder: OpaquePointer?
        try check(git_treebuilder_new(&builder, pointer, nil), "create empty tree")
        defer { git_treebuilder_free(builder) }
        var oid = git_oid()
        try check(git_treebuilder_write(&oid, builder), "write empty tree", default: .io)
        cachedEmptyTree = ObjectID(oid)
        return ObjectID(oid)
    }

    /// Runs `body` with a blob's bytes, without copying them.
    func withBlob<R>(_ id: ObjectID, _ body: (UnsafeRawBufferPointer) throws(GitError) -> R) throws(GitError) -> R {
        let blob = try lookupBlob(id)
        return try withExtendedLifetime(blob) { () throws(GitError) -> R in try body(blob.bytes) }
    }
}

@available(*, unavailable)
extension Repository: Sendable {}
