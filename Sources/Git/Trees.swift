import CGit2

// Reading trees: one entry or file at a path, and every file with its size.
extension Repository {
    /// The content of the file at `path` in `tree`, or `nil` when there is no such file.
    public func file(at path: String, inTree tree: ObjectID) throws(GitError) -> [UInt8]? {
        guard let entry = try entry(at: path, inTree: tree), entry.mode != 0o040000 else { return nil }
        let blob = try lookupBlob(entry.id)
        return Array(blob.bytes)
    }

    /// The object id and file mode at `path` in `tree`, or `nil` when absent.
    public func entry(at path: String, inTree tree: ObjectID) throws(GitError) -> (id: ObjectID, mode: UInt32)? {
        let treeHandle = try lookupTree(tree)
        return try entry(at: path, in: treeHandle)
    }

    func entry(at path: String, in tree: TreeHandle) throws(GitError) -> (id: ObjectID, mode: UInt32)? {
        var raw: OpaquePointer?
        let rc = git_tree_entry_bypath(&raw, tree.pointer, path)
        if rc == GIT_ENOTFOUND.rawValue { return nil }
        try check(rc, "find '\(path)' in tree \(tree.id.short)")
        guard let raw else { return nil }
        let entry = TreeEntryHandle(raw)
        guard let id = git_tree_entry_id(entry.pointer) else { return nil }
        return (ObjectID(id.pointee), git_tree_entry_filemode(entry.pointer).rawValue)
    }

    /// Every file (blob or symlink) in `tree`, recursively, with its size in bytes, in path order.
    /// - Throws: `.notFound` naming the file when the tree lists a blob the repository lacks.
    public func files(inTree tree: ObjectID) throws(GitError) -> [(path: String, size: Int)] {
        let objects = try ObjectDatabaseHandle(of: pointer)
        var result: [(path: String, size: Int)] = []
        // Blobs only: a submodule's entry is a commit of another repository.
        for file in try treeFiles(tree) where file.mode != 0o160000 {
            var size: Int = 0
            var type = GIT_OBJECT_BLOB
            var raw = file.id.raw
            try check(git_odb_read_header(&size, &type, objects.pointer, &raw), "read the size of '\(file.path)' (\(file.id.short))")
            result.append((file.path, size))
        }
        return result
    }
}
