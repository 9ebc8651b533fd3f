import CGit2

#if canImport(Glibc)
    import Glibc
#endif

// Applying a diff to a tree, and building a tree from another with some paths changed.
extension Repository {
    /// Applies a unified diff to `tree` and returns the resulting tree.
    ///
    /// Work is proportional to the diff, not the repository. `git_apply_to_tree` copies the
    /// whole tree it is given into an index, so it gets a small tree holding only the touched
    /// paths, and that tree lives in a `ScratchRepository` in memory, with copies of the
    /// touched files: the intermediate objects never become files. The patched files are
    /// then copied into this repository and grafted onto `tree` with
    /// `git_tree_create_updated`, which rewrites only the trees along the touched paths.
    /// - Throws: `.emptyDiff`, `.invalidDiff`, or `.applyFailed` with libgit2's reason.
    public func apply(patch text: String, to tree: ObjectID) throws(GitError) -> ObjectID {
        let diff = try parseDiff(text)
        let base = try lookupTree(tree)
        var touched = Set<String>()
        for index in 0..<diff.count {
            guard let delta = diff.delta(index) else { continue }
            if let p = delta.old_file.path { touched.insert(String(cString: p)) }
            if let p = delta.new_file.path { touched.insert(String(cString: p)) }
        }
        // The preimage: only the touched paths that exist in the base tree.
        var preimage: [String: (id: ObjectID, mode: UInt32)] = [:]
        for path in touched {
            if let found = try entry(at: path, in: base), found.mode != 0o040000 {
                preimage[path] = found
            }
        }
        let objects = try ObjectDatabaseHandle(of: pointer)
        let scratch = try ScratchRepository(sharingConfigurationOf: pointer)
        // What libgit2 reads while applying: the preimage files. An object this repository
        // lacks (a submodule's commit) stays missing, so the patch fails as it would here.
        for found in preimage.values {
            try scratch.database.copy(found.id, from: objects)
        }
        let result: IndexHandle
        do {
            let smallID = try Self.createUpdatedTree(
                in: scratch.pointer,
                baseline: nil,
                upserts: preimage.map { ($0.key, $0.value.id, $0.value.mode) },
                removals: [],
                "build the preimage tree of the diff"
            )
            var raw = smallID.raw
            var smallTree: OpaquePointer?
            try check(git_tree_lookup(&smallTree, scratch.pointer, &raw), "look up the preimage tree \(smallID.short)")
            guard let smallTree else { throw GitError(.notFound, operation: "look up the preimage tree", message: "missing") }
            // Freed at the end of this block, before the scratch repository that owns it.
            let small = TreeHandle(smallTree)
            var options = ratchet_apply_options()
            var index: OpaquePointer?
            try check(git_apply_to_tree(&index, scratch.pointer, small.pointer, diff.pointer, &options), "apply diff", default: .applyFailed)
            guard let index else { throw GitError(.applyFailed, operation: "apply diff", message: "no result") }
            result = IndexHandle(index)
        }
        var upserts: [(String, ObjectID, UInt32)] = []
        var present = Set<String>()
        for i in 0..<git_index_entrycount(result.pointer) {
            guard let entry = git_index_get_byindex(result.pointer, i)?.pointee, let rawPath = entry.path else { continue }
            let path = String(cString: rawPath)
            present.insert(path)
            let id = ObjectID(entry.id)
            if let before = preimage[path], before.id == id, before.mode == entry.mode { continue }
            upserts.append((path, id, entry.mode))
        }
        let removals = preimage.keys.filter { !present.contains($0) }
        // The patched files (libgit2 wrote them to the scratch store) become real objects.
        for upsert in upserts {
            guard try objects.copy(upsert.1, from: scratch.database) else {
                throw GitError(.other, operation: "apply diff", message: "the patched '\(upsert.0)' (\(upsert.1.short)) was not written")
            }
        }
        return try updatedTree(tree, upserts: upserts, removals: removals)
    }

    /// A new tree: `base` with `upserts` written and `removals` removed.
    public func updatedTree(
        _ base: ObjectID,
        upserts: [(path: String, id: ObjectID, mode: UInt32)],
        removals: [String]
    ) throws(GitError) -> ObjectID {
        let baseTree = try lookupTree(base)
        if upserts.isEmpty && removals.isEmpty { return base }
        return try Self.createUpdatedTree(in: pointer, baseline: baseTree, upserts: upserts, removals: removals, "build tree from \(base.short)")
    }

    /// `git_tree_create_updated` in `repository` (this one or a scratch one): `baseline`, or
    /// an empty tree when `nil`, with `removals` removed and `upserts` written.
    private static func createUpdatedTree(
        in repository: OpaquePointer,
        baseline: TreeHandle?,
        upserts: [(path: String, id: ObjectID, mode: UInt32)],
        removals: [String],
        _ operation: @autoclosure () -> String
    ) throws(GitError) -> ObjectID {
        // Keep the C strings alive for the duration of the call.
        let sortedRemovals = removals.sorted()
        let cStrings = (sortedRemovals + upserts.map(\.path)).map { strdup($0) }
        defer { cStrings.forEach { free($0) } }
        var updates: [git_tree_update] = []
        updates.reserveCapacity(cStrings.count)
        for i in sortedRemovals.indices {
            updates.append(git_tree_update(action: GIT_TREE_UPDATE_REMOVE, id: git_oid(), filemode: GIT_FILEMODE_BLOB, path: cStrings[i]))
        }
        for (j, upsert) in upserts.enumerated() {
            updates.append(
                git_tree_update(
                    action: GIT_TREE_UPDATE_UPSERT,
                    id: upsert.id.raw,
                    filemode: git_filemode_t(rawValue: upsert.mode),
                    path: cStrings[sortedRemovals.count + j]
                )
            )
        }
        var oid = git_oid()
        try check(
            git_tree_create_updated(&oid, repository, baseline?.pointer, updates.count, updates),
            operation(),
            default: .applyFailed
        )
        withExtendedLifetime(baseline) {}
        return ObjectID(oid)
    }
}
