import CGit2

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

// Diffs and patches: parsing a unified diff, diffing two trees, formatting a patch.
extension Repository {
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
}
