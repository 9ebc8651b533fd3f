/// Sealed evaluation for one slot: see `SlotGuard`.

/// Keeps one worktree slot exactly its commit between commands.
///
/// The kernel (inotify, `TreeWatch`) reports which paths commands touched, so the check after
/// a command costs O(paths touched), not O(files in the repository). Each touched path is
/// compared with what it must be:
/// - a tracked file must still be its blob (by content hash, mode included); if not it is
///   rewritten from the commit, and it is a violation unless `[sandbox] writable` lists it;
/// - an untracked file a *build* made is build output: recorded with its content hash;
/// - an untracked file any other command (test, validate, bench) made is removed, so nothing
///   one run writes is seen by the next; build output such a command changed is removed too,
///   and the slot is built again before its next run.
/// When the kernel cannot say (queue overflow, a folder renamed, no inotify), the whole slot
/// is walked and hashed instead, and the watch is set up again.
public final class SlotGuard {
    /// What kind of command ran: a build's new files are build output; anything else's are not kept.
    public enum Phase: Sendable { case build, run }

    /// Something a command did to the slot, found (and already undone) by `settle`.
    public struct Finding: Equatable, Sendable {
        public enum Kind: Sendable {
            /// A tracked evaluator file changed.
            case evaluator
            /// Another tracked file changed.
            case tracked
            /// A tracked file listed as writable changed (restored; not a violation).
            case writable
            /// Build output changed by a run (removed; the slot needs a build).
            case output
            /// A run made a new file (removed).
            case created
        }
        public var kind: Kind
        public var path: String
        public init(kind: Kind, path: String) {
            self.kind = kind
            self.path = path
        }
    }

    public let slot: Slot
    let repository: Repository
    public let watch: TreeWatch
    /// Untracked files and folders the builds left, with what they held then.
    public private(set) var outputs: [String: WorkFile] = [:]
    /// A run changed build output: the slot is built again before its next run.
    public var needsBuild = false

    /// Opens the guard on `slot`, first making the slot exactly its tree (a process that
    /// opens a slot cannot trust what an earlier one, or a command it ran, left there).
    public init(slot: Slot, repository: Repository) throws(GitError) {
        self.slot = slot
        self.repository = repository
        try slot.scrub()
        watch = TreeWatch(root: slot.directory)
    }

    /// Forgets the events of Ratchet's own writes (a slot move, a restore).
    public func ownWritesDone() {
        watch.discard()
    }

    /// Checks what commands did to the slot since the last look, puts it right, and says what
    /// it found. `evaluator` and `writable` classify tracked paths; `keep` names untracked
    /// files a run makes for Ratchet to read (metric files), which the caller removes itself.
    public func settle(
        _ phase: Phase, evaluator: (String) -> Bool, writable: (String) -> Bool, keep: (String) -> Bool = { _ in false }
    ) throws(GitError) -> [Finding] {
        guard let tree = slot.tree else { return [] }
        var candidates: [String]
        var full = false
        switch watch.changes() {
        case .paths(let touched):
            candidates = touched.sorted()
        case .unknown:
            full = true
            candidates = try everyPath(tree: tree)
        }
        // Folders holding a kept file stay too (a metric file in a folder the run made).
        var keptFolders = Set<String>()
        if phase == .run {
            for path in candidates where keep(path) {
                var prefix = path
                while let slash = prefix.lastIndex(of: "/") {
                    prefix = String(prefix[..<slash])
                    keptFolders.insert(prefix)
                }
            }
        }
        var findings: [Finding] = []
        var removed: [String] = []
        for path in candidates {
            // Below a folder removed just now: gone with it.
            if removed.contains(where: { path.hasPrefix($0 + "/") }) { continue }
            let now = try Repository.workFile(at: slot.directory + "/" + path)
            if let entry = try repository.entry(at: path, inTree: tree) {
                if entry.mode == 0o040000 {
                    // A tracked folder: its files are checked one by one; it must still be a folder.
                    if now != .folder {
                        let below = try trackedBelow(path, tree: tree)
                        findings += below.map { Finding(kind: evaluator($0) ? .evaluator : .tracked, path: $0) }
                        try slot.restore(path: path)
                        for file in below { try slot.restore(path: file) }
                    }
                    continue
                }
                if entry.mode == 0o160000 { continue }
                if case .file(let id, let mode) = now, id == entry.id, mode == entry.mode { continue }
                findings.append(Finding(kind: evaluator(path) ? .evaluator : writable(path) ? .writable : .tracked, path: path))
                try slot.restore(path: path)
                continue
            }
            switch phase {
            case .build:
                outputs[path] = now == .missing ? nil : now
            case .run:
                if let before = outputs[path] {
                    if before != now {
                        findings.append(Finding(kind: .output, path: path))
                        try slot.remove(path: path)
                        outputs[path] = nil
                        removed.append(path)
                        needsBuild = true
                    }
                } else if now != .missing && !keep(path) && !keptFolders.contains(path) {
                    findings.append(Finding(kind: .created, path: path))
                    try slot.remove(path: path)
                    removed.append(path)
                }
            }
        }
        if full { watch.rewatch() }
        watch.discard()
        return findings
    }

    /// Every path the slot holds or must hold, for a check without the kernel's help.
    private func everyPath(tree: ObjectID) throws(GitError) -> [String] {
        var paths = Set(try repository.treeFiles(tree).map(\.path))
        paths.formUnion(outputs.keys)
        var stack = [""]
        while let folder = stack.popLast() {
            let full = folder.isEmpty ? slot.directory : slot.directory + "/" + folder
            guard case .folder = try Repository.workFile(at: full) else { continue }
            for name in try Self.names(in: full) {
                let path = folder.isEmpty ? name : folder + "/" + name
                paths.insert(path)
                if case .folder = try Repository.workFile(at: slot.directory + "/" + path) { stack.append(path) }
            }
        }
        return paths.sorted()
    }

    private func trackedBelow(_ folder: String, tree: ObjectID) throws(GitError) -> [String] {
        try repository.treeFiles(tree).map(\.path).filter { $0.hasPrefix(folder + "/") }
    }

    static func names(in folder: String) throws(GitError) -> [String] {
        try FileSystem.names(in: folder)
    }
}

@available(*, unavailable)
extension SlotGuard: Sendable {}
