import CGit2

#if canImport(Glibc)
    import Glibc
#endif

/// One file touched by a patch or a tree difference.
public struct FileChange: Sendable, Equatable, Codable {
    public enum Status: String, Sendable, Codable {
        case added, deleted, modified, renamed, copied, typeChanged, other
    }

    public var status: Status
    public var oldPath: String
    public var newPath: String
    /// Git file modes (`0o100644`, `0o100755`, `0o120000`, `0o160000`); 0 when absent.
    public var oldMode: UInt32
    public var newMode: UInt32
    public var isBinary: Bool

    /// The path a reader names the change by: the new path unless the file was deleted.
    public var path: String { status == .deleted ? oldPath : newPath }
}

/// A parsed unified diff: what it touches, before anything is applied.
public struct PatchSummary: Sendable, Equatable {
    public var files: [FileChange]
    public var addedLines: Int
    public var deletedLines: Int
    /// The lines the patch adds, with their file, for content checks (secrets, deny patterns).
    public var addedContent: [(path: String, line: String)]

    public static func == (a: PatchSummary, b: PatchSummary) -> Bool {
        a.files == b.files && a.addedLines == b.addedLines && a.deletedLines == b.deletedLines
            && a.addedContent.map { "\($0.path)\u{0}\($0.line)" } == b.addedContent.map { "\($0.path)\u{0}\($0.line)" }
    }
}

/// A commit's identity for `Repository.commit`.
public struct Signature: Sendable, Equatable {
    public var name: String
    public var email: String
    public init(name: String, email: String) {
        self.name = name
        self.email = email
    }
}

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

    /// The tree a commit points to.
    public func tree(ofCommit id: ObjectID) throws(GitError) -> ObjectID {
        let commit = try lookupCommit(id)
        return ObjectID(git_commit_tree_id(commit.pointer).pointee)
    }

    /// The full message of a commit.
    public func message(ofCommit id: ObjectID) throws(GitError) -> String {
        let commit = try lookupCommit(id)
        guard let text = git_commit_message(commit.pointer) else { return "" }
        return String(cString: text)
    }

    /// The parents of a commit, first parent first.
    public func parents(ofCommit id: ObjectID) throws(GitError) -> [ObjectID] {
        let commit = try lookupCommit(id)
        let count = git_commit_parentcount(commit.pointer)
        return (0..<count).compactMap { index in
            git_commit_parent_id(commit.pointer, index).map { ObjectID($0.pointee) }
        }
    }

    /// `Key: value` trailers of a commit message (the last paragraph's `Ratchet-*` lines).
    public func trailers(ofCommit id: ObjectID) throws(GitError) -> [String: String] {
        Self.parseTrailers(try message(ofCommit: id))
    }

    static func parseTrailers(_ message: String) -> [String: String] {
        let paragraphs = message.trimmingTrailingNewlines().split(separator: "\n\n", omittingEmptySubsequences: true)
        guard let last = paragraphs.last else { return [:] }
        var result: [String: String] = [:]
        for line in last.split(separator: "\n") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let key = line[..<colon]
            guard !key.isEmpty, key.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" }) else { continue }
            result[String(key)] = line[line.index(after: colon)...].trimmingPrefixSpaces()
        }
        return result
    }

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

    // MARK: Refs

    /// The commit a reference points to, or `nil` when the reference does not exist.
    public func referenceTarget(_ name: String) throws(GitError) -> ObjectID? {
        var oid = git_oid()
        let rc = git_reference_name_to_id(&oid, pointer, name)
        if rc == GIT_ENOTFOUND.rawValue { return nil }
        try check(rc, "read reference '\(name)'")
        return ObjectID(oid)
    }

    /// The reference HEAD points to (e.g. `refs/heads/main`), or `nil` when detached or absent.
    /// - Throws: `GitError` when HEAD exists but cannot be read.
    public func headReferenceName() throws(GitError) -> String? {
        var ref: OpaquePointer?
        let rc = git_reference_lookup(&ref, pointer, "HEAD")
        if rc == GIT_ENOTFOUND.rawValue { return nil }
        try check(rc, "read HEAD")
        guard let ref else { return nil }
        let owned = ReferenceHandle(ref)
        guard git_reference_type(owned.pointer) == GIT_REFERENCE_SYMBOLIC,
            let target = git_reference_symbolic_target(owned.pointer)
        else { return nil }
        return String(cString: target)
    }

    /// Points `name` at `target`, only if it still points at `expected` (or does not exist
    /// when `expected` is `nil`): a concurrent writer makes this fail with `.refChanged`
    /// instead of being silently overwritten.
    public func updateReference(
        _ name: String,
        to target: ObjectID,
        expecting expected: ObjectID?,
        message: String
    ) throws(GitError) {
        var valid: Int32 = 0
        try check(git_reference_name_is_valid(&valid, name), "check reference name '\(name)'", default: .invalidArgument)
        guard valid != 0 else {
            throw GitError(.invalidArgument, operation: "update reference", message: "'\(name)' is not a valid reference name")
        }
        if try headReferenceName() == name {
            throw GitError(
                .invalidArgument,
                operation: "update reference '\(name)'",
                message: "it is checked out in the user's working tree; switch to another branch first"
            )
        }
        var newID = target.raw
        var ref: OpaquePointer?
        let rc: Int32
        if var old = expected?.raw {
            rc = git_reference_create_matching(&ref, pointer, name, &newID, 1, &old, message)
        } else {
            rc = git_reference_create(&ref, pointer, name, &newID, 0, message)
            if rc == GIT_EEXISTS.rawValue {
                throw GitError(.refChanged, operation: "create reference '\(name)'", message: "it already exists", libgit2Code: rc)
            }
        }
        try check(rc, "update reference '\(name)'")
        if let ref { git_reference_free(ref) }
    }

    // MARK: Commits

    /// Creates a commit object (no reference is moved).
    public func commit(
        tree: ObjectID,
        parents: [ObjectID],
        message: String,
        author: Signature
    ) throws(GitError) -> ObjectID {
        let treeHandle = try lookupTree(tree)
        var parentHandles: [CommitHandle] = []
        for parent in parents { parentHandles.append(try lookupCommit(parent)) }
        var signature: UnsafeMutablePointer<git_signature>?
        try check(git_signature_now(&signature, author.name, author.email), "make signature for '\(author.name) <\(author.email)>'", default: .invalidArgument)
        defer { git_signature_free(signature) }
        var oid = git_oid()
        var parentPointers: [OpaquePointer?] = parentHandles.map { $0.pointer }
        let rc = parentPointers.withUnsafeMutableBufferPointer { buffer in
            git_commit_create(&oid, pointer, nil, signature, signature, nil, message, treeHandle.pointer, parents.count, buffer.baseAddress)
        }
        try check(rc, "create commit", default: .io)
        withExtendedLifetime(parentHandles) {}
        return ObjectID(oid)
    }

    // MARK: Diffs and patches

    /// Parses a unified diff without applying it.
    /// - Throws: `.emptyDiff` for a diff with no file changes, `.invalidDiff` for text that is
    ///   not a diff, or for a file whose patch or lines libgit2 cannot read back (the gate's
    ///   added-line checks must see every line, so none is skipped).
    public func parsePatch(_ text: String) throws(GitError) -> PatchSummary {
        let diff = try parseDiff(text)
        var files: [FileChange] = []
        var added = 0
        var deleted = 0
        var addedContent: [(path: String, line: String)] = []
        for index in 0..<diff.count {
            guard let delta = diff.delta(index) else { continue }
            let change = Self.fileChange(delta)
            files.append(change)
            let operation = "read the patch of '\(change.path)'"
            var patch: OpaquePointer?
            try check(git_patch_from_diff(&patch, diff.pointer, index), operation, default: .invalidDiff)
            // A file with no text patch (a binary or mode-only change) has no lines to check.
            guard let patch else { continue }
            let owned = PatchHandle(patch)
            var context = 0
            var adds = 0
            var dels = 0
            try check(git_patch_line_stats(&context, &adds, &dels, owned.pointer), operation, default: .invalidDiff)
            added += adds
            deleted += dels
            let hunks = git_patch_num_hunks(owned.pointer)
            for hunk in 0..<hunks {
                let lines = try check(git_patch_num_lines_in_hunk(owned.pointer, hunk), operation, default: .invalidDiff)
                for lineIndex in 0..<Int(lines) {
                    var line: UnsafePointer<git_diff_line>?
                    try check(git_patch_get_line_in_hunk(&line, owned.pointer, hunk, lineIndex), operation, default: .invalidDiff)
                    guard let line else {
                        throw GitError(.invalidDiff, operation: operation, message: "libgit2 returned no line \(lineIndex) in hunk \(hunk)")
                    }
                    guard line.pointee.origin == CChar(UInt8(ascii: "+")), let content = line.pointee.content else { continue }
                    let bytes = UnsafeRawBufferPointer(start: content, count: line.pointee.content_len)
                    addedContent.append((change.path, String(decoding: bytes, as: UTF8.self).trimmingTrailingNewlines()))
                }
            }
        }
        return PatchSummary(files: files, addedLines: added, deletedLines: deleted, addedContent: addedContent)
    }

    func parseDiff(_ text: String) throws(GitError) -> DiffHandle {
        guard !text.allSatisfy(\.isWhitespace) else {
            throw GitError(.emptyDiff, operation: "parse diff", message: "the diff is empty")
        }
        var diff: OpaquePointer?
        let bytes = Array(text.utf8)
        let rc = bytes.withUnsafeBufferPointer { buffer in
            buffer.withMemoryRebound(to: CChar.self) { git_diff_from_buffer(&diff, $0.baseAddress, $0.count) }
        }
        try check(rc, "parse diff", notFound: .invalidDiff, default: .invalidDiff)
        guard let diff else { throw GitError(.invalidDiff, operation: "parse diff", message: "no diff") }
        let owned = DiffHandle(diff)
        guard owned.count > 0 else {
            throw GitError(.invalidDiff, operation: "parse diff", message: "no file changes found: the text is not a unified diff")
        }
        return owned
    }

    static func fileChange(_ delta: git_diff_delta) -> FileChange {
        let status: FileChange.Status
        switch delta.status {
        case GIT_DELTA_ADDED, GIT_DELTA_UNTRACKED: status = .added
        case GIT_DELTA_DELETED: status = .deleted
        case GIT_DELTA_MODIFIED: status = .modified
        case GIT_DELTA_RENAMED: status = .renamed
        case GIT_DELTA_COPIED: status = .copied
        case GIT_DELTA_TYPECHANGE: status = .typeChanged
        default: status = .other
        }
        let oldPath = delta.old_file.path.map { String(cString: $0) } ?? ""
        let newPath = delta.new_file.path.map { String(cString: $0) } ?? oldPath
        return FileChange(
            status: status,
            oldPath: oldPath,
            newPath: newPath,
            oldMode: UInt32(delta.old_file.mode),
            newMode: UInt32(delta.new_file.mode),
            isBinary: (delta.flags & GIT_DIFF_FLAG_BINARY.rawValue) != 0
        )
    }

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

    /// A unified diff (git style, `a/` and `b/` prefixes) turning `old` into `new` at `path`.
    public func makePatch(path: String, old: [UInt8], new: [UInt8]) throws(GitError) -> String {
        var options = ratchet_diff_options()
        var patch: OpaquePointer?
        let rc = old.withUnsafeBytes { oldBytes in
            new.withUnsafeBytes { newBytes in
                git_patch_from_buffers(
                    &patch, oldBytes.baseAddress, oldBytes.count, path, newBytes.baseAddress, newBytes.count, path, &options)
            }
        }
        try check(rc, "make patch for '\(path)'")
        guard let patch else { return "" }
        let owned = PatchHandle(patch)
        var buf = git_buf()
        try check(git_patch_to_buf(&buf, owned.pointer), "format patch for '\(path)'")
        return takeString(&buf)
    }

    func diffTrees(_ old: ObjectID?, _ new: ObjectID) throws(GitError) -> DiffHandle {
        let oldTree = try old.map { (id: ObjectID) throws(GitError) in try lookupTree(id) }
        let newTree = try lookupTree(new)
        var options = ratchet_diff_options()
        var diff: OpaquePointer?
        try check(
            git_diff_tree_to_tree(&diff, pointer, oldTree?.pointer, newTree.pointer, &options),
            "diff trees \(old?.short ?? "empty")..\(new.short)"
        )
        guard let diff else { throw GitError(.other, operation: "diff trees", message: "no diff") }
        return DiffHandle(diff)
    }

    /// The files that differ between two trees.
    public func changes(from old: ObjectID?, to new: ObjectID) throws(GitError) -> [FileChange] {
        let diff = try diffTrees(old, new)
        return (0..<diff.count).compactMap { diff.delta($0).map(Self.fileChange) }
    }

    /// The unified diff between two trees, as text.
    public func patchText(from old: ObjectID, to new: ObjectID) throws(GitError) -> String {
        let diff = try diffTrees(old, new)
        var buf = git_buf()
        try check(git_diff_to_buf(&buf, diff.pointer, GIT_DIFF_FORMAT_PATCH), "format diff")
        return takeString(&buf)
    }

    /// Runs `body` with a blob's bytes, without copying them.
    func withBlob<R>(_ id: ObjectID, _ body: (UnsafeRawBufferPointer) throws(GitError) -> R) throws(GitError) -> R {
        let blob = try lookupBlob(id)
        return try withExtendedLifetime(blob) { () throws(GitError) -> R in try body(blob.bytes) }
    }
}

@available(*, unavailable)
extension Repository: Sendable {}

extension Substring {
    func trimmingPrefixSpaces() -> String {
        String(drop(while: { $0 == " " || $0 == "\t" }))
    }
}
