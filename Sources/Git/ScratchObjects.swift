import CGit2

/// A repository's object database, held open (one reference) for reading and writing raw
/// objects.
final class ObjectDatabaseHandle {
    let pointer: OpaquePointer
    init(_ pointer: OpaquePointer) { self.pointer = pointer }
    deinit { git_odb_free(pointer) }

    /// Opens `repository`'s object database.
    convenience init(of repository: OpaquePointer) throws(GitError) {
        var odb: OpaquePointer?
        try check(git_repository_odb(&odb, repository), "open object database")
        guard let odb else { throw GitError(.other, operation: "open object database", message: "libgit2 returned none") }
        self.init(odb)
    }

    /// Copies object `id` from `source` into this database (a no-op, apart from libgit2's
    /// freshening, when it is already here).
    /// - Returns: `false` when `source` does not hold `id`.
    @discardableResult
    func copy(_ id: ObjectID, from source: ObjectDatabaseHandle) throws(GitError) -> Bool {
        var raw = id.raw
        var object: OpaquePointer?
        let rc = git_odb_read(&object, source.pointer, &raw)
        if rc == GIT_ENOTFOUND.rawValue { return false }
        try check(rc, "read object \(id.short)")
        guard let object else { return false }
        defer { git_odb_object_free(object) }
        var written = git_oid()
        try check(
            git_odb_write(&written, pointer, git_odb_object_data(object), git_odb_object_size(object), git_odb_object_type(object)),
            "write object \(id.short)",
            default: .io
        )
        return true
    }
}

/// A throwaway repository whose objects live only in memory (libgit2's mempack backend),
/// for intermediate objects nobody keeps: writing one costs a hash and a table insert
/// instead of a loose-object file (create, write, link, unlink, plus libgit2's existence
/// checks against the real object database). It sees none of the real repository's
/// objects (copy in what a libgit2 call will read) but shares its configuration, so
/// settings such as `core.protectNTFS` judge paths as they would there. Not thread-safe.
final class ScratchRepository {
    /// The wrapped repository (no work directory, no configuration, no refs).
    let pointer: OpaquePointer
    let database: ObjectDatabaseHandle
    /// Owned by `database`, which frees it; kept only to empty it.
    private let memory: UnsafeMutablePointer<git_odb_backend>

    /// - Parameter repository: the real repository whose configuration it shares.
    init(sharingConfigurationOf repository: OpaquePointer) throws(GitError) {
        var odb: OpaquePointer?
        try check(git_odb_new(&odb), "create in-memory object database")
        guard let odb else { throw GitError(.other, operation: "create in-memory object database", message: "libgit2 returned none") }
        let database = ObjectDatabaseHandle(odb)
        var backend: UnsafeMutablePointer<git_odb_backend>?
        try check(git_mempack_new(&backend), "create in-memory object store")
        guard let backend else { throw GitError(.other, operation: "create in-memory object store", message: "libgit2 returned none") }
        let added = git_odb_add_backend(database.pointer, backend, 1)
        if added < 0 {
            // Not attached, so the database will not free it.
            backend.pointee.free?(backend)
            try check(added, "attach in-memory object store")
        }
        var repo: OpaquePointer?
        try check(git_repository_wrap_odb(&repo, database.pointer), "wrap in-memory object database")
        guard let repo else { throw GitError(.other, operation: "wrap in-memory object database", message: "libgit2 returned none") }
        pointer = repo
        self.database = database
        memory = backend
        // From here on `deinit` frees the repository, even when sharing the configuration fails.
        var config: OpaquePointer?
        try check(git_repository_config(&config, repository), "read the repository's configuration")
        defer { git_config_free(config) }
        try check(git_repository_set_config(pointer, config), "share the repository's configuration")
    }

    deinit {
        // The repository holds its own reference to the database; `database` drops ours after.
        git_repository_free(pointer)
    }

    /// Forgets every object written so far.
    func reset() throws(GitError) {
        try check(git_mempack_reset(memory), "empty in-memory object store")
    }
}

@available(*, unavailable)
extension ScratchRepository: Sendable {}

@available(*, unavailable)
extension ObjectDatabaseHandle: Sendable {}
