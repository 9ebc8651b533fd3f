import Foundation
import Git
import TestSupport
import Testing

@Suite struct RepositoryTests {
    @Test func openingAFolderThatIsNotARepositoryNamesIt() throws {
        let folder = try TemporaryFolder("plain")
        defer { folder.remove() }
        let error = try #require(throws: GitError.self) { try Repository(discovering: folder.path) }
        #expect(error.code == .notARepository)
        #expect(error.description.contains(folder.path))
    }

    @Test func missingRevisionIsNotFound() throws {
        let fixture = try GitFixture(files: ["a.txt": "a\n"])
        defer { fixture.remove() }
        let repo = try Repository(discovering: fixture.path)
        let error = try #require(throws: GitError.self) { try repo.resolveCommit("no-such-branch") }
        #expect(error.code == .notFound)
        #expect(error.description.contains("no-such-branch"))
        let head = try fixture.git("rev-parse", "HEAD").trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(try repo.resolveCommit("main").hex == head)
    }

    /// The same multi-file diff applied by Ratchet and by `git apply` gives the same tree.
    @Test func applyMatchesGitApplyForModifyCreateDeleteRename() throws {
        let fixture = try GitFixture(files: [
            "src/a.c": "int a(void) {\n  return 1;\n}\n",
            "src/b.c": "int b(void) { return 2; }\n",
            "docs/old.md": "# Title\nline one\nline two\nline three\n",
            "gone.txt": "bye\n",
        ])
        defer { fixture.remove() }
        // Make the change with git in a scratch branch to get a real diff, then undo it.
        try fixture.git("checkout", "-q", "-b", "scratch")
        try fixture.folder.write("src/a.c", "int a(void) {\n  return 42;\n}\n")
        try fixture.folder.write("src/new/c.c", "int c(void) { return 3; }\n")
        try fixture.git("rm", "-q", "gone.txt")
        try fixture.git("mv", "docs/old.md", "docs/new.md")
        try fixture.git("add", "-A")
        let patch = try fixture.git("diff", "--cached", "-M", "main")
        try fixture.git("commit", "-q", "-m", "scratch")
        let expectedTree = try fixture.git("rev-parse", "HEAD^{tree}").trimmingCharacters(in: .whitespacesAndNewlines)
        try fixture.git("checkout", "-q", "main")

        let repo = try Repository(discovering: fixture.path)
        let base = try repo.tree(ofCommit: try repo.resolveCommit("main"))
        let summary = try repo.parsePatch(patch)
        #expect(Set(summary.files.map(\.status)) == [.modified, .added, .deleted, .renamed])
        let result = try repo.apply(patch: patch, to: base)
        #expect(result.hex == expectedTree)
    }

    /// Deep paths, a mode change, a folder emptied by a deletion, a rename into new folders,
    /// a new symlink and a binary edit: the tree equals what `git apply --cached` makes, and
    /// the only objects written are the result's own (no intermediate trees on disk).
    @Test func applyMatchesGitApplyCachedForDeepPathsModesAndFolders() throws {
        let fixture = try GitFixture(files: [
            "src/deep/er/still/x.txt": (1...12).map { "line \($0)\n" }.joined(),
            "src/deep/er/y.txt": "y\n",
            "bin/run.sh": "#!/bin/sh\necho hi\n",
            "k/only/f.txt": "alone\n",
            "docs/old.md": "# Title\nline one\nline two\nline three\n",
            "data/blob.bin": "a\u{0}b\u{1}c\n",
            "keep.txt": "keep\n",
        ])
        defer { fixture.remove() }
        // The change is made, and checked with the git CLI, in a clone, so none of its
        // objects exist in the fixture before Ratchet applies the patch there.
        let oracle = try TemporaryFolder("oracle")
        defer { oracle.remove() }
        try runProgram(["git", "clone", "-q", fixture.path, oracle.path + "/clone"], in: oracle.path)
        let clone = oracle.path + "/clone"
        func git(_ arguments: String..., environment: [String: String] = [:]) throws -> String {
            try runProgram(["git"] + arguments, in: clone, environment: environment)
        }
        try oracle.write("clone/src/deep/er/still/x.txt", (1...12).map { $0 == 2 || $0 == 11 ? "LINE \($0)\n" : "line \($0)\n" }.joined())
        try oracle.write("clone/bin/run.sh", "#!/bin/sh\necho hello\n", executable: true)
        _ = try git("rm", "-q", "k/only/f.txt")
        // Moved into new folders and edited: `-M` finds the rename.
        _ = try git("rm", "-q", "docs/old.md")
        try oracle.write("clone/docs/archive/2024/old.md", "# Title\nline one\nline 2\nline three\n")
        try oracle.write("clone/new/a/b/c.txt", "c\n")
        try FileManager.default.createSymbolicLink(atPath: clone + "/new/link", withDestinationPath: "../keep.txt")
        try oracle.write("clone/data/blob.bin", "a\u{0}B\u{1}c\u{2}\n")
        _ = try git("add", "-A")
        let patch = try git("diff", "--cached", "-M", "--binary", "HEAD")
        _ = try git("commit", "-q", "-m", "change")
        let committed = try git("rev-parse", "HEAD^{tree}").trimmingCharacters(in: .whitespacesAndNewlines)
        // `git apply --cached` of the patch onto the base, in a separate index, gives the same tree.
        try patch.write(toFile: oracle.path + "/change.diff", atomically: true, encoding: .utf8)
        let index = ["GIT_INDEX_FILE": oracle.path + "/oracle-index"]
        _ = try git("read-tree", "HEAD~1", environment: index)
        _ = try git("apply", "--cached", oracle.path + "/change.diff", environment: index)
        #expect(try git("write-tree", environment: index).trimmingCharacters(in: .whitespacesAndNewlines) == committed)

        func objects() throws -> Set<String> {
            Set(try fixture.git("cat-file", "--batch-all-objects", "--batch-check=%(objectname)").split(separator: "\n").map(String.init))
        }
        let repo = try Repository(discovering: fixture.path)
        let base = try repo.tree(ofCommit: try repo.resolveCommit("main"))
        let summary = try repo.parsePatch(patch)
        #expect(Set(summary.files.map(\.status)) == [.modified, .added, .deleted, .renamed])
        #expect(summary.files.contains { $0.newPath == "bin/run.sh" && $0.oldMode == 0o100644 && $0.newMode == 0o100755 })
        let before = try objects()
        let result = try repo.apply(patch: patch, to: base)
        #expect(result.hex == committed)
        #expect(try repo.entry(at: "k/only", inTree: result) == nil)
        let resultObjects = Set(try git("ls-tree", "-r", "-t", "--format=%(objectname)", committed).split(separator: "\n").map(String.init))
        let written = try objects().subtracting(before)
        #expect(!written.isEmpty)
        #expect(written.isSubset(of: resultObjects.union([result.hex])))

        // A patch that fails half-way (its second file does not match) writes nothing.
        let failing =
            try repo.makePatch(path: "keep.txt", old: Array("keep\n".utf8), new: Array("kept\n".utf8))
            + (try repo.makePatch(path: "src/deep/er/y.txt", old: Array("not y\n".utf8), new: Array("z\n".utf8)))
        let settled = try objects()
        let error = try #require(throws: GitError.self) { try repo.apply(patch: failing, to: base) }
        #expect(error.code == .applyFailed)
        #expect(error.message.contains("did not apply"))
        #expect(try objects() == settled)
    }

    @Test func emptyGarbageAndNonApplyingDiffsAreTypedErrors() throws {
        let fixture = try GitFixture(files: ["a.txt": "one\ntwo\n"])
        defer { fixture.remove() }
        let repo = try Repository(discovering: fixture.path)
        let base = try repo.tree(ofCommit: try repo.resolveCommit("main"))
        #expect(throws: GitError(.emptyDiff, operation: "parse diff", message: "the diff is empty")) {
            try repo.apply(patch: "  \n", to: base)
        }
        let garbage = try #require(throws: GitError.self) { try repo.apply(patch: "hello, this is prose\n", to: base) }
        #expect(garbage.code == .invalidDiff)
        let stale = """
            diff --git a/a.txt b/a.txt
            --- a/a.txt
            +++ b/a.txt
            @@ -1,2 +1,2 @@
             zero
            -two
            +three

            """
        let failed = try #require(throws: GitError.self) { try repo.apply(patch: stale, to: base) }
        #expect(failed.code == .applyFailed)
        let missing = """
            diff --git a/nope.txt b/nope.txt
            --- a/nope.txt
            +++ b/nope.txt
            @@ -1 +1 @@
            -x
            +y

            """
        #expect(throws: GitError.self) { try repo.apply(patch: missing, to: base) }
    }

    @Test func makePatchRoundTripsThroughApply() throws {
        let fixture = try GitFixture(files: ["k/config.h": "#define N 1\n#define M 2\n"])
        defer { fixture.remove() }
        let repo = try Repository(discovering: fixture.path)
        let base = try repo.tree(ofCommit: try repo.resolveCommit("main"))
        let old = try #require(try repo.file(at: "k/config.h", inTree: base))
        let new = Array("#define N 8\n#define M 2\n".utf8)
        let patch = try repo.makePatch(path: "k/config.h", old: old, new: new)
        #expect(patch.hasPrefix("diff --git a/k/config.h b/k/config.h"))
        let tree = try repo.apply(patch: patch, to: base)
        #expect(try repo.file(at: "k/config.h", inTree: tree) == new)
        #expect(try repo.file(at: "k/missing.h", inTree: tree) == nil)
    }

    /// Commits and the loop branch are written without touching the user's HEAD, index or files.
    @Test func commitOnLoopBranchLeavesUserCheckoutAlone() throws {
        let fixture = try GitFixture(files: ["a.txt": "a\n"])
        defer { fixture.remove() }
        try fixture.folder.write("a.txt", "user's uncommitted edit\n")
        let statusBefore = try fixture.git("status", "--porcelain")
        let headBefore = try fixture.git("rev-parse", "HEAD")
        let repo = try Repository(discovering: fixture.path)
        let mainID = try repo.resolveCommit("main")
        let base = try repo.tree(ofCommit: mainID)
        let tree = try repo.apply(patch: try repo.makePatch(path: "a.txt", old: Array("a\n".utf8), new: Array("b\n".utf8)), to: base)
        let message = "ratchet: candidate 3\n\nRatchet-Loop: demo\nRatchet-Candidate: 3\nRatchet-Effect: +12.5%\n"
        let commit = try repo.commit(tree: tree, parents: [mainID], message: message, author: Signature(name: "Ratchet", email: "ratchet@localhost"))
        try repo.updateReference("refs/heads/ratchet/demo", to: mainID, expecting: nil, message: "create")
        try repo.updateReference("refs/heads/ratchet/demo", to: commit, expecting: mainID, message: "accept")
        #expect(try repo.referenceTarget("refs/heads/ratchet/demo") == commit)
        #expect(try repo.trailers(ofCommit: commit) == ["Ratchet-Loop": "demo", "Ratchet-Candidate": "3", "Ratchet-Effect": "+12.5%"])
        #expect(try fixture.git("status", "--porcelain") == statusBefore)
        #expect(try fixture.git("rev-parse", "HEAD") == headBefore)
        #expect(try fixture.folder.read("a.txt") == "user's uncommitted edit\n")
        #expect(try fixture.git("show", "ratchet/demo:a.txt") == "b\n")
        // A stale expectation is refused rather than overwriting the branch.
        let error = try #require(throws: GitError.self) {
            try repo.updateReference("refs/heads/ratchet/demo", to: mainID, expecting: mainID, message: "stale")
        }
        #expect(error.code == .refChanged)
        #expect(try repo.referenceTarget("refs/heads/ratchet/nothing") == nil)
    }

    @Test func refusesToMoveTheCheckedOutBranch() throws {
        let fixture = try GitFixture(files: ["a.txt": "a\n"])
        defer { fixture.remove() }
        let repo = try Repository(discovering: fixture.path)
        let id = try repo.resolveCommit("main")
        let error = try #require(throws: GitError.self) {
            try repo.updateReference("refs/heads/main", to: id, expecting: id, message: "x")
        }
        #expect(error.message.contains("checked out"))
        #expect(try repo.headReferenceName() == "refs/heads/main")
    }

    /// A tree that names a blob the repository lacks is an error naming the file, not a
    /// file of size 0 (libgit2's answer used to be ignored).
    @Test func fileSizesOfATreeWithAMissingBlobFailNamingTheFile() throws {
        let fixture = try GitFixture(files: ["a.txt": "four\n", "d/b.txt": "seven\n"])
        defer { fixture.remove() }
        let repo = try Repository(discovering: fixture.path)
        let base = try repo.tree(ofCommit: try repo.resolveCommit("main"))
        #expect(try repo.files(inTree: base).map { "\($0.path) \($0.size)" } == ["a.txt 5", "d/b.txt 6"])
        let ghost = try ObjectID(hex: String(repeating: "ab", count: 20))
        let broken = try repo.updatedTree(base, upserts: [("d/ghost.txt", ghost, 0o100644)], removals: [])
        let error = try #require(throws: GitError.self) { try repo.files(inTree: broken) }
        #expect(error.code == .notFound)
        #expect(error.operation.contains("d/ghost.txt"))
    }

    /// Every added line of every text file reaches the gate; a binary file has none and is
    /// not an error.
    @Test func parsePatchReadsEveryAddedLineAndSkipsOnlyBinaryFiles() throws {
        let fixture = try GitFixture(files: ["a.txt": "one\n"])
        defer { fixture.remove() }
        let repo = try Repository(discovering: fixture.path)
        let patch = """
            diff --git a/a.txt b/a.txt
            --- a/a.txt
            +++ b/a.txt
            @@ -1 +1,2 @@
            -one
            +uno
            +TOKEN=secret
            diff --git a/logo.png b/logo.png
            new file mode 100644
            index 0000000..d00491f
            Binary files /dev/null and b/logo.png differ
            diff --git a/b.txt b/b.txt
            new file mode 100644
            --- /dev/null
            +++ b/b.txt
            @@ -0,0 +1 @@
            +two

            """
        let summary = try repo.parsePatch(patch)
        #expect(summary.files.map(\.path) == ["a.txt", "logo.png", "b.txt"])
        #expect(summary.addedLines == 3)
        #expect(summary.deletedLines == 1)
        #expect(summary.addedContent.map { "\($0.path): \($0.line)" } == ["a.txt: uno", "a.txt: TOKEN=secret", "b.txt: two"])
    }

    @Test func configValueIsNilWhenUnsetAndAnErrorForAMalformedKey() throws {
        let fixture = try GitFixture(files: ["a.txt": "a\n"])
        defer { fixture.remove() }
        let repo = try Repository(discovering: fixture.path)
        #expect(try repo.configValue("user.name") == "Fixture")
        #expect(try repo.configValue("ratchet.unset") == nil)
        let error = try #require(throws: GitError.self) { try repo.configValue("no-section") }
        #expect(error.operation.contains("no-section"))
    }
}

@Suite struct TreeDiffTests {
    /// The subtree-skipping comparison finds exactly what libgit2's full tree diff finds,
    /// including a file replaced by a folder and a new executable.
    @Test func agreesWithLibgit2() throws {
        let fixture = try GitFixture(files: [
            "a/b/c.txt": "1\n", "a/b/d.txt": "2\n", "a/keep.txt": "k\n", "x": "file\n", "gone/deep/f.txt": "f\n", "same/s.txt": "s\n",
        ])
        defer { fixture.remove() }
        try fixture.git("rm", "-q", "x", "gone/deep/f.txt")
        try fixture.folder.write("x/now-a-folder.txt", "n\n")
        try fixture.folder.write("a/b/c.txt", "changed\n")
        try fixture.folder.write("new/run.sh", "#!/bin/sh\n", executable: true)
        try fixture.git("add", "-A")
        try fixture.git("commit", "-q", "-m", "second")
        let repo = try Repository(discovering: fixture.path)
        let old = try repo.tree(ofCommit: try repo.resolveCommit("main~1"))
        let new = try repo.tree(ofCommit: try repo.resolveCommit("main"))
        func key(_ c: FileChange) -> String { "\(c.status.rawValue) \(c.path) \(String(c.oldMode, radix: 8)) \(String(c.newMode, radix: 8))" }
        let ours = Set(try repo.changedFiles(from: old, to: new).map(key))
        let theirs = Set(try repo.changes(from: old, to: new).map(key))
        #expect(ours == theirs)
        #expect(ours.contains("added new/run.sh 0 100755"))
        #expect(Set(try repo.changedFiles(from: nil, to: new).map(\.path)) == Set(try repo.changes(from: nil, to: new).map(\.path)))
        #expect(try repo.changedFiles(from: new, to: new).isEmpty)
    }
}
