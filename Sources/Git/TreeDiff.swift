import CGit2

extension Repository {
    /// The files that differ between two trees, found by walking both trees together and
    /// skipping every subtree whose id is the same on both sides: the cost follows the
    /// change, not the repository (libgit2's own tree diff visits every file).
    /// Reported as deletions (old side) and additions/modifications (new side), with modes.
    public func changedFiles(from old: ObjectID?, to new: ObjectID) throws(GitError) -> [FileChange] {
        var result: [FileChange] = []
        let newTree = try lookupTree(new)
        let oldTree = try old.map { (id: ObjectID) throws(GitError) in try lookupTree(id) }
        try compare(oldTree, newTree, prefix: "", into: &result)
        return result
    }

    private struct Entry {
        let name: String
        let id: ObjectID
        let mode: UInt32
        var isTree: Bool { mode == 0o040000 }
    }

    private func entries(_ tree: TreeHandle?) -> [Entry] {
        guard let tree else { return [] }
        var list: [Entry] = []
        let count = git_tree_entrycount(tree.pointer)
        list.reserveCapacity(count)
        for index in 0..<count {
            guard let entry = git_tree_entry_byindex(tree.pointer, index), let name = git_tree_entry_name(entry),
                let id = git_tree_entry_id(entry)
            else { continue }
            list.append(Entry(name: String(cString: name), id: ObjectID(id.pointee), mode: git_tree_entry_filemode(entry).rawValue))
        }
        return list
    }

    private func compare(_ old: TreeHandle?, _ new: TreeHandle?, prefix: String, into result: inout [FileChange]) throws(GitError) {
        var byName: [String: (old: Entry?, new: Entry?)] = [:]
        for entry in entries(old) { byName[entry.name, default: (nil, nil)].old = entry }
        for entry in entries(new) { byName[entry.name, default: (nil, nil)].new = entry }
        for name in byName.keys.sorted() {
            guard let pair = byName[name] else { continue }
            if let a = pair.old, let b = pair.new, a.id == b.id, a.mode == b.mode { continue }
            let path = prefix + name
            let oldTree = try pair.old.flatMap { (entry: Entry) throws(GitError) -> TreeHandle? in entry.isTree ? try lookupTree(entry.id) : nil }
            let newTree = try pair.new.flatMap { (entry: Entry) throws(GitError) -> TreeHandle? in entry.isTree ? try lookupTree(entry.id) : nil }
            if oldTree != nil || newTree != nil {
                try compare(oldTree, newTree, prefix: path + "/", into: &result)
            }
            let oldFile = pair.old.flatMap { $0.isTree ? nil : $0 }
            let newFile = pair.new.flatMap { $0.isTree ? nil : $0 }
            switch (oldFile, newFile) {
            case (let a?, nil):
                result.append(FileChange(status: .deleted, oldPath: path, newPath: path, oldMode: a.mode, newMode: 0, isBinary: false))
            case (nil, let b?):
                result.append(FileChange(status: .added, oldPath: path, newPath: path, oldMode: 0, newMode: b.mode, isBinary: false))
            case (let a?, let b?):
                result.append(
                    FileChange(status: a.mode == b.mode ? .modified : .typeChanged, oldPath: path, newPath: path, oldMode: a.mode, newMode: b.mode, isBinary: false))
            case (nil, nil):
                break
            }
        }
    }
}
