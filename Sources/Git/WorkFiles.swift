import CGit2

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A file of a tree, without its content: what a slot must hold at `path`.
public struct TreeFile: Sendable, Equatable {
    public var path: String
    public var id: ObjectID
    /// git's file mode: 0o100644, 0o100755, 0o120000 (symlink) or 0o160000 (submodule).
    public var mode: UInt32
}

/// What a working folder holds at a path, as git would store it.
public enum WorkFile: Sendable, Equatable {
    case missing
    case folder
    /// A file or symlink, with the blob id its content would have and git's mode for it.
    case file(id: ObjectID, mode: UInt32)
    /// Something git cannot store (a socket, a device, a fifo).
    case other
}

extension Repository {
    /// Every entry of `tree` that is not a folder, with id and mode, without reading any blob.
    public func treeFiles(_ tree: ObjectID) throws(GitError) -> [TreeFile] {
        var result: [TreeFile] = []
        try collectTreeFiles(try lookupTree(tree), prefix: "", into: &result)
        return result
    }

    private func collectTreeFiles(_ tree: TreeHandle, prefix: String, into result: inout [TreeFile]) throws(GitError) {
        for index in 0..<git_tree_entrycount(tree.pointer) {
            guard let entry = git_tree_entry_byindex(tree.pointer, index), let rawName = git_tree_entry_name(entry),
                let rawID = git_tree_entry_id(entry)
            else { continue }
            let path = prefix + String(cString: rawName)
            let id = ObjectID(rawID.pointee)
            if git_tree_entry_type(entry) == GIT_OBJECT_TREE {
                try collectTreeFiles(try lookupTree(id), prefix: path + "/", into: &result)
            } else {
                result.append(TreeFile(path: path, id: id, mode: UInt32(git_tree_entry_filemode(entry).rawValue)))
            }
        }
    }

    /// What the working folder holds at `path` (not following a final symlink), hashed as a
    /// git blob: the same id as the tree's entry exactly when the content is the same.
    /// - Throws: `GitError` when the file exists but cannot be read.
    public static func workFile(at path: String) throws(GitError) -> WorkFile {
        var info = stat()
        guard lstat(path, &info) == 0 else {
            if errno == ENOENT || errno == ENOTDIR { return .missing }
            throw FileSystem.error("inspect", path)
        }
        var oid = git_oid()
        switch info.st_mode & S_IFMT {
        case S_IFDIR:
            return .folder
        case S_IFLNK:
            var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
            let length = readlink(path, &buffer, buffer.count - 1)
            guard length >= 0 else { throw FileSystem.error("read link", path) }
            let rc = buffer.withUnsafeBytes { git_odb_hash(&oid, $0.baseAddress, length, GIT_OBJECT_BLOB) }
            try check(rc, "hash the link '\(path)'", default: .io)
            return .file(id: ObjectID(oid), mode: 0o120000)
        case S_IFREG:
            try check(git_odb_hashfile(&oid, path, GIT_OBJECT_BLOB), "hash '\(path)'", default: .io)
            return .file(id: ObjectID(oid), mode: info.st_mode & 0o111 != 0 ? 0o100755 : 0o100644)
        default:
            return .other
        }
    }
}
