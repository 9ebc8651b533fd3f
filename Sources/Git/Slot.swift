import CGit2

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// What one `Slot.sync` did, for logs and benchmarks.
public struct SyncStats: Sendable, Equatable {
    public var written: Int = 0
    public var removed: Int = 0
    public init(written: Int = 0, removed: Int = 0) {
        self.written = written
        self.removed = removed
    }
}

/// A persistent working folder that Ratchet reuses candidate after candidate.
///
/// A slot is a plain folder (not a registered git worktree) whose tracked files mirror one
/// tree. Moving it to another tree writes only the files that differ between the two trees,
/// each with a fresh mtime, and leaves untracked build output alone, so builds in the slot
/// stay incremental. The tree a slot holds is recorded in `slot.state` beside the folder,
/// with the target of an unfinished move, so a crash mid-move is finished on next open.
public final class Slot {
    /// The folder holding the files; commands run here.
    public let directory: String
    private let statePath: String
    private let repository: Repository
    /// The tree whose files the slot holds, or `nil` for a slot never filled.
    public private(set) var tree: ObjectID?

    /// Opens (creating if needed) the slot rooted at `root`: files live in `root/work`.
    /// An interrupted move recorded in the state file is completed here.
    public init(repository: Repository, root: String) throws(GitError) {
        self.repository = repository
        self.directory = root.hasSuffix("/") ? root + "work" : root + "/work"
        self.statePath = root.hasSuffix("/") ? root + "slot.state" : root + "/slot.state"
        try FileSystem.makeDirectories(directory)
        let state = try FileSystem.readText(statePath)
        let fields = Self.parseState(state ?? "")
        if let pending = fields["to"] {
            // A move was interrupted: redo it from the recorded source (writes are idempotent).
            let from = try fields["from"].map { (hex: String) throws(GitError) in try ObjectID(hex: hex) }
            tree = from
            _ = try sync(to: try ObjectID(hex: pending), fullRewriteFrom: from == nil)
        } else if let current = fields["tree"] {
            tree = try ObjectID(hex: current)
        } else if try !FileSystem.isEmptyDirectory(directory) {
            // Files without a state: an initial fill was cut short. Start over.
            try FileSystem.removeContents(of: directory)
        }
    }

    static func parseState(_ text: String) -> [String: String] {
        var fields: [String: String] = [:]
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: " ", maxSplits: 1)
            if parts.count == 2 { fields[String(parts[0])] = String(parts[1]) }
        }
        return fields
    }

    /// Makes the slot's tracked files match `target`, touching only what differs.
    @discardableResult
    public func sync(to target: ObjectID) throws(GitError) -> SyncStats {
        try sync(to: target, fullRewriteFrom: false)
    }

    private func sync(to target: ObjectID, fullRewriteFrom: Bool) throws(GitError) -> SyncStats {
        if tree == target && !fullRewriteFrom { return SyncStats() }
        let from = tree
        try writeState(from.map { "from \($0.hex)\nto \(target.hex)\n" } ?? "to \(target.hex)\n")
        let changes = try repository.changedFiles(from: from, to: target)
        var stats = SyncStats()
        var madeDirectories = Set<String>()
        // Deletions first: a file may replace a folder that held deleted files.
        for change in changes where change.status == .deleted {
            try FileSystem.removeFile(directory + "/" + change.oldPath, pruneUpTo: directory)
            stats.removed += 1
        }
        let fresh = from == nil
        for change in changes where change.status != .deleted {
            let path = directory + "/" + change.newPath
            try FileSystem.makeParentDirectories(of: change.newPath, under: directory, made: &madeDirectories)
            guard let entry = try repository.entry(at: change.newPath, inTree: target) else { continue }
            try write(entry: entry, to: path, atomically: !fresh)
            stats.written += 1
        }
        tree = target
        try writeState("tree \(target.hex)\n")
        return stats
    }

    private func write(entry: (id: ObjectID, mode: UInt32), to path: String, atomically: Bool) throws(GitError) {
        switch entry.mode {
        case 0o160000:
            // A submodule: Ratchet does not fetch submodules; leave an empty folder as git does.
            try FileSystem.makeDirectories(path)
        case 0o120000:
            try repository.withBlob(entry.id) { (bytes) throws(GitError) in
                try FileSystem.writeSymlink(target: String(decoding: bytes, as: UTF8.self), at: path)
            }
        default:
            let mode: mode_t = entry.mode == 0o100755 ? 0o755 : 0o644
            try repository.withBlob(entry.id) { (bytes) throws(GitError) in
                try FileSystem.writeFile(path, bytes: bytes, mode: mode, atomically: atomically)
            }
        }
    }

    private func writeState(_ text: String) throws(GitError) {
        try FileSystem.writeFile(statePath, bytes: Array(text.utf8), mode: 0o644, atomically: true)
    }

    /// The unified diff from `base` to the slot's files, for proposers that edit files in
    /// the slot instead of returning a diff. Honours the slot's `.gitignore` files, includes
    /// new files, and marks the slot as needing a full check on its next move.
    public func diff(against base: ObjectID) throws(GitError) -> String {
        try repository.diffFolder(directory, against: base)
    }

    /// Restores every tracked file of `tree` and removes new, not-ignored files: used after a
    /// proposer edited the slot directly, when Ratchet cannot know what it touched.
    public func restore(to target: ObjectID) throws(GitError) {
        let changes = try repository.folderChanges(directory, against: target)
        for change in changes {
            let path = directory + "/" + change.newPath
            if change.status == .added {
                // In the folder, not in the tree: an untracked file the proposer made.
                try FileSystem.removeFile(path, pruneUpTo: directory)
            } else if let entry = try repository.entry(at: change.oldPath, inTree: target) {
                var made = Set<String>()
                try FileSystem.makeParentDirectories(of: change.oldPath, under: directory, made: &made)
                try write(entry: entry, to: directory + "/" + change.oldPath, atomically: true)
            }
        }
        tree = target
        try writeState("tree \(target.hex)\n")
    }
}

extension Slot {
    // MARK: Sealing: undoing what commands wrote

    /// Makes `path` hold what the slot's tree has there again: the file rewritten from its
    /// blob, or removed (with whatever is below it) when the tree has nothing there.
    public func restore(path: String) throws(GitError) {
        guard let tree else { return }
        let full = directory + "/" + path
        if let entry = try repository.entry(at: path, inTree: tree), entry.mode != 0o040000 {
            try FileSystem.removeTree(full)
            var made = Set<String>()
            try FileSystem.makeParentDirectories(of: path, under: directory, made: &made)
            try write(entry: entry, to: full, atomically: true)
        } else {
            try FileSystem.removeTree(full)
        }
    }

    /// Removes `path` and everything below it (an untracked file or folder a command made).
    public func remove(path: String) throws(GitError) {
        try FileSystem.removeTree(directory + "/" + path)
    }

    /// Makes the slot exactly its tree: every tracked file checked by content (and rewritten
    /// when it differs), everything else removed, ignored build output included. Costs a
    /// hash of every file: done once when a process opens the slot, since what an earlier
    /// process (or a command it ran) left there cannot be trusted. Returns the paths it fixed.
    @discardableResult
    public func scrub() throws(GitError) -> [String] {
        guard let tree else { return [] }
        var tracked: [String: TreeFile] = [:]
        var folders = Set<String>()
        for file in try repository.treeFiles(tree) {
            tracked[file.path] = file
            var prefix = file.path
            while let slash = prefix.lastIndex(of: "/") {
                prefix = String(prefix[..<slash])
                if !folders.insert(prefix).inserted { break }
            }
        }
        var fixed: [String] = []
        var seen = Set<String>()
        var stack = [""]
        while let folder = stack.popLast() {
            let full = folder.isEmpty ? directory : directory + "/" + folder
            for name in try FileSystem.names(in: full) {
                let path = folder.isEmpty ? name : folder + "/" + name
                if let file = tracked[path] {
                    seen.insert(path)
                    if file.mode == 0o160000 { continue }
                    if case .file(let id, let mode) = try Repository.workFile(at: directory + "/" + path), id == file.id, mode == file.mode {
                        continue
                    }
                    try restore(path: path)
                    fixed.append(path)
                } else if folders.contains(path), case .folder = try Repository.workFile(at: directory + "/" + path) {
                    stack.append(path)
                } else {
                    try FileSystem.removeTree(directory + "/" + path)
                    fixed.append(path)
                }
            }
        }
        for path in tracked.keys where !seen.contains(path) {
            try restore(path: path)
            fixed.append(path)
        }
        return fixed.sorted()
    }
}

@available(*, unavailable)
extension Slot: Sendable {}

extension Repository {
    /// A second libgit2 handle on the same object database whose working directory is
    /// `folder` and whose index is empty and in memory, so diffs compare a tree to the folder.
    /// The diff (and the second handle it points into) live only for the duration of `body`.
    private func withFolderDiff<R>(
        _ folder: String,
        against base: ObjectID,
        _ body: (DiffHandle) throws(GitError) -> R
    ) throws(GitError) -> R {
        var raw: OpaquePointer?
        try check(git_repository_open(&raw, gitDirectory), "open '\(gitDirectory)' for a slot diff")
        guard let raw else { throw GitError(.other, operation: "open repository", message: "none") }
        defer { git_repository_free(raw) }
        try check(git_repository_set_workdir(raw, folder, 0), "use '\(folder)' as working folder")
        var index: OpaquePointer?
        try check(git_index_new(&index), "create in-memory index")
        defer { git_index_free(index) }
        try check(git_repository_set_index(raw, index), "attach in-memory index")
        var treeRaw: OpaquePointer?
        var oid = base.raw
        try check(git_tree_lookup(&treeRaw, raw, &oid), "look up tree \(base.short)")
        defer { git_tree_free(treeRaw) }
        var options = ratchet_diff_options()
        options.flags |=
            GIT_DIFF_INCLUDE_UNTRACKED.rawValue | GIT_DIFF_RECURSE_UNTRACKED_DIRS.rawValue
            | GIT_DIFF_SHOW_UNTRACKED_CONTENT.rawValue | GIT_DIFF_SHOW_BINARY.rawValue
        var diff: OpaquePointer?
        try check(git_diff_tree_to_workdir(&diff, raw, treeRaw, &options), "diff '\(folder)' against \(base.short)")
        guard let diff else { throw GitError(.other, operation: "diff folder", message: "none") }
        return try body(DiffHandle(diff))
    }

    func diffFolder(_ folder: String, against base: ObjectID) throws(GitError) -> String {
        try withFolderDiff(folder, against: base) { (diff) throws(GitError) in
            var buf = git_buf()
            try check(git_diff_to_buf(&buf, diff.pointer, GIT_DIFF_FORMAT_PATCH), "format diff of '\(folder)'")
            return takeString(&buf)
        }
    }

    func folderChanges(_ folder: String, against base: ObjectID) throws(GitError) -> [FileChange] {
        try withFolderDiff(folder, against: base) { diff in
            (0..<diff.count).compactMap { diff.delta($0).map(Self.fileChange) }
        }
    }
}
