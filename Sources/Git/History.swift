import CGit2

extension Repository {
    /// The tree of `commit`'s changes replayed onto `onto` (a three-way merge in memory):
    /// `revert` undoes the commit, otherwise it is cherry-picked.
    /// - Throws: `.conflict` naming the files when the change does not merge cleanly.
    public func replay(_ commit: ObjectID, onto: ObjectID, revert: Bool) throws(GitError) -> ObjectID {
        let picked = try lookupCommit(commit)
        let ours = try lookupCommit(onto)
        var index: OpaquePointer?
        let operation = revert ? "revert \(commit.short)" : "cherry-pick \(commit.short)"
        if revert {
            try check(git_revert_commit(&index, pointer, picked.pointer, ours.pointer, 0, nil), operation)
        } else {
            try check(git_cherrypick_commit(&index, pointer, picked.pointer, ours.pointer, 0, nil), operation)
        }
        guard let index else { throw GitError(.other, operation: operation, message: "no result") }
        let owned = IndexHandle(index)
        if git_index_has_conflicts(owned.pointer) != 0 {
            var conflicted: [String] = []
            for i in 0..<git_index_entrycount(owned.pointer) {
                if let entry = git_index_get_byindex(owned.pointer, i)?.pointee, (entry.flags >> 12) & 0x3 != 0, let path = entry.path {
                    conflicted.append(String(cString: path))
                }
            }
            throw GitError(.conflict, operation: operation, message: "conflicts in \(Set(conflicted).sorted().joined(separator: ", "))")
        }
        var oid = git_oid()
        try check(git_index_write_tree_to(&oid, owned.pointer, pointer), "\(operation): write tree", default: .io)
        return ObjectID(oid)
    }

    /// Whether `descendant` has `ancestor` in its history (or is it).
    public func isAncestor(_ ancestor: ObjectID, of descendant: ObjectID) throws(GitError) -> Bool {
        if ancestor == descendant { return true }
        var a = descendant.raw
        var b = ancestor.raw
        let rc = git_graph_descendant_of(pointer, &a, &b)
        try check(rc, "compare history of \(descendant.short) and \(ancestor.short)")
        return rc == 1
    }

    /// First-parent history from `tip` back to (not including) `stop`, oldest first.
    public func firstParentHistory(from tip: ObjectID, to stop: ObjectID, limit: Int = 100_000) throws(GitError) -> [ObjectID] {
        var result: [ObjectID] = []
        var current = tip
        while current != stop, result.count < limit {
            result.append(current)
            guard let parent = try parents(ofCommit: current).first else { break }
            current = parent
        }
        return result.reversed()
    }

    /// A value from the repository's git configuration (e.g. `user.name`), or `nil` when unset.
    /// - Throws: `GitError` when the configuration cannot be read, or `name` is not a valid key.
    public func configValue(_ name: String) throws(GitError) -> String? {
        var config: OpaquePointer?
        try check(git_repository_config_snapshot(&config, pointer), "read the git configuration", default: .io)
        guard let config else { return nil }
        defer { git_config_free(config) }
        var value: UnsafePointer<CChar>?
        let rc = git_config_get_string(&value, config, name)
        if rc == GIT_ENOTFOUND.rawValue { return nil }
        try check(rc, "read '\(name)' from the git configuration", default: .invalidArgument)
        guard let value else { return nil }
        return String(cString: value)
    }
}
