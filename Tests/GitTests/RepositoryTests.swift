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
