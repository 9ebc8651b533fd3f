import CGit2

extension Repository {
    /// The files that differ between two trees, found by walking both trees together and
    /// skipping every subtree whose id is the same on both sides: the cost follows the
    /// change, not the repository (libgit2's own tree diff visits every file). Entries are
    /// matched by name with libgit2's binary search; only differing entries allocate.
    public func changedFiles(from old: ObjectID?, to new: ObjectID) throws(GitError) -> [FileChange] {
        var result: [FileChange] = []
        let newTree = try lookupTree(new)
        let oldTree = try old.map { (id: ObjectID) throws(GitError) in try lookupTree(id) }
        try compare(oldTree, newTree, prefix: "", into: &result)
        return result
    }

    private func subtree(_ entry: OpaquePointer?) throws(GitError) -> TreeHandle? {
        guard let entry, git_tree_entry_type(entry) == GIT_OBJECT_TREE, let id = git_tree_entry_id(entry) else { return nil }
        return try lookupTree(ObjectID(id.pointee))
    }

    private func compare(_ old: TreeHandle?, _ new: TreeHandle?, prefix: String, into result: inout [FileChange]) throws(GitError) {
        // Entries present in the new tree (changed or added).
        if let new {
            for index in 0..<git_tree_entrycount(new.pointer) {
                guard let entry = git_tree_entry_byindex(new.pointer, index), let name = git_tree_entry_name(entry) else { continue }
                let before = old.flatMap { git_tree_entry_byname($0.pointer, name) }
                if let before, git_oid_equal(git_tree_entry_id(before), git_tree_entry_id(entry)) != 0,
                    git_tree_entry_filemode(before) == git_tree_entry_filemode(entry)
                {
                    continue
                }
                try record(before: before, after: entry, path: prefix + String(cString: name), into: &result)
            }
        }
        // Entries only in the old tree (deleted).
        if let old {
            for index in 0..<git_tree_entrycount(old.pointer) {
                guard let entry = git_tree_entry_byindex(old.pointer, index), let name = git_tree_entry_name(entry) else { continue }
                if let new, git_tree_entry_byname(new.pointer, name) != nil { continue }
                try record(before: entry, after: nil, path: prefix + String(cString: name), into: &result)
            }
        }
    }

    private func record(before: OpaquePointer?, after: OpaquePointer?, path: String, into result: inout [FileChange]) throws(GitError) {
        let oldTree = try subtree(before)
        let newTree = try subtree(after)
        if oldTree != nil || newTree != nil {
            try compare(oldTree, newTree, prefix: path + "/", into: &result)
        }
        let oldMode = before.map { git_tree_entry_filemode($0).rawValue } ?? 0
        let newMode = after.map { git_tree_entry_filemode($0).rawValue } ?? 0
        let oldFile = oldTree == nil && before != nil
        let newFile = newTree == nil && after != nil
        switch (oldFile, newFile) {
        case (true, false):
            result.append(FileChange(status: .deleted, oldPath: path, newPath: path, oldMode: oldMode, newMode: 0, isBinary: false))
        case (false, true):
            result.append(FileChange(status: .added, oldPath: path, newPath: path, oldMode: 0, newMode: newMode, isBinary: false))
        case (true, true):
            result.append(
                FileChange(
                    status: oldMode == newMode ? .modified : .typeChanged, oldPath: path, newPath: path, oldMode: oldMode, newMode: newMode,
                    isBinary: false))
        case (false, false):
            break
        }
    }
}
