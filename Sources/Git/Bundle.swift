import CGit2

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Owns a libgit2 pack builder.
final class PackBuilderHandle {
    let pointer: OpaquePointer
    init(_ pointer: OpaquePointer) { self.pointer = pointer }
    deinit { git_packbuilder_free(pointer) }
}

extension Repository {
    /// The reference that names the commit at `index` of `writeBundle(commits:to:)`.
    public static func bundleReference(_ index: Int) -> String { "refs/ratchet/\(index)" }

    /// Writes a minimal bare repository at `path` that holds `commits` with their complete
    /// trees and nothing of their history, for a worker node that only needs to read files.
    ///
    /// The objects go into one pack (`objects/pack`), so the bundle's size follows the trees,
    /// not the history. `refs/ratchet/<i>` names `commits[i]`, and HEAD is detached at the
    /// first. A commit whose parents are not in the bundle is listed in `shallow`, as in a
    /// shallow clone, so the git CLI accepts the repository too (`git --git-dir=<path> archive
    /// refs/ratchet/0` reads it without writing anything).
    /// - Throws: `.invalidArgument` for no commits, or a `path` that exists and is not an empty
    ///   folder; `.notFound` naming a commit this repository lacks; `.io` when writing fails
    ///   (what was written is removed).
    public func writeBundle(commits: [ObjectID], to path: String) throws(GitError) {
        let operation = "write bundle '\(path)'"
        guard !commits.isEmpty else {
            throw GitError(.invalidArgument, operation: operation, message: "no commits to bundle")
        }
        var info = stat()
        let existed = lstat(path, &info) == 0
        if existed {
            guard (info.st_mode & S_IFMT) == S_IFDIR, try FileSystem.isEmptyDirectory(path) else {
                throw GitError(.invalidArgument, operation: operation, message: "the path exists and is not an empty folder")
            }
        }

        // Every commit and every object of its tree; parents are not followed.
        var builderPointer: OpaquePointer?
        try check(git_packbuilder_new(&builderPointer, pointer), "\(operation): create pack builder")
        guard let builderPointer else { throw GitError(.other, operation: operation, message: "libgit2 returned no pack builder") }
        let builder = PackBuilderHandle(builderPointer)
        var included = Set<ObjectID>()
        for commit in commits where !included.contains(commit) {
            _ = try lookupCommit(commit)
            var raw = commit.raw
            try check(git_packbuilder_insert_commit(builder.pointer, &raw), "\(operation): add commit \(commit.short)")
            included.insert(commit)
        }
        var shallow: [ObjectID] = []
        for commit in included.sorted(by: { $0.hex < $1.hex }) where try parents(ofCommit: commit).contains(where: { !included.contains($0) }) {
            shallow.append(commit)
        }

        do {
            try Self.createBundle(at: path, builder: builder, commits: commits, shallow: shallow, operation)
        } catch {
            if existed { try? FileSystem.removeContents(of: path) } else { try? FileSystem.removeTree(path) }
            throw error
        }
    }

    private static func createBundle(
        at path: String,
        builder: PackBuilderHandle,
        commits: [ObjectID],
        shallow: [ObjectID],
        _ operation: String
    ) throws(GitError) {
        var created: OpaquePointer?
        try check(git_repository_init(&created, path, 1), "\(operation): create bare repository", default: .io)
        guard let created else { throw GitError(.other, operation: operation, message: "libgit2 returned no repository") }
        defer { git_repository_free(created) }
        try check(git_packbuilder_write(builder.pointer, path + "/objects/pack", 0, nil, nil), "\(operation): write pack", default: .io)
        for (index, commit) in commits.enumerated() {
            var raw = commit.raw
            var reference: OpaquePointer?
            try check(
                git_reference_create(&reference, created, bundleReference(index), &raw, 1, "ratchet bundle"),
                "\(operation): create \(bundleReference(index))",
                default: .io
            )
            if let reference { git_reference_free(reference) }
        }
        var first = commits[0].raw
        try check(git_repository_set_head_detached(created, &first), "\(operation): point HEAD at \(commits[0].short)", default: .io)
        if !shallow.isEmpty {
            try FileSystem.writeFile(path + "/shallow", bytes: Array(shallow.map { $0.hex + "\n" }.joined().utf8), mode: 0o644, atomically: true)
        }
    }
}

@available(*, unavailable)
extension PackBuilderHandle: Sendable {}
