import Foundation
import Git
import TestSupport
import Testing

private func modificationTime(_ path: String) throws -> Date {
    try #require(try FileManager.default.attributesOfItem(atPath: path)[.modificationDate] as? Date)
}

@Suite struct SlotTests {
    let files = [
        "Makefile": "all:\n\techo hi\n",
        "src/a.c": "int a;\n",
        "src/b.c": "int b;\n",
        "src/deep/d.c": "int d;\n",
        ".gitignore": "build/\n*.o\n",
    ]

    @Test func fillThenMoveWritesOnlyWhatDiffersAndKeepsBuildOutput() throws {
        let fixture = try GitFixture(files: files)
        defer { fixture.remove() }
        let state = try TemporaryFolder("slots")
        defer { state.remove() }
        let repo = try Repository(discovering: fixture.path)
        let baseCommit = try repo.resolveCommit("main")
        let base = try repo.tree(ofCommit: baseCommit)
        let slot = try Slot(repository: repo, root: state.path + "/0")
        let filled = try slot.sync(to: base)
        #expect(filled.written == 5)
        #expect(try String(contentsOfFile: slot.directory + "/src/deep/d.c", encoding: .utf8) == "int d;\n")
        // Build output the slot must keep.
        try "obj".write(toFile: slot.directory + "/src/a.o", atomically: false, encoding: .utf8)
        let bBefore = try modificationTime(slot.directory + "/src/b.c")
        Thread.sleep(forTimeInterval: 0.02)

        let patch = try repo.makePatch(path: "src/a.c", old: Array("int a;\n".utf8), new: Array("int a = 1;\n".utf8))
        let candidate = try repo.apply(patch: patch, to: base)
        let aBefore = try modificationTime(slot.directory + "/src/a.c")
        let moved = try slot.sync(to: candidate)
        #expect(moved == SyncStats(written: 1, removed: 0))
        #expect(try String(contentsOfFile: slot.directory + "/src/a.c", encoding: .utf8) == "int a = 1;\n")
        #expect(try modificationTime(slot.directory + "/src/a.c") > aBefore)
        #expect(try modificationTime(slot.directory + "/src/b.c") == bBefore)
        #expect(FileManager.default.fileExists(atPath: slot.directory + "/src/a.o"))

        // Back to base: the previous candidate's file is restored, nothing else rewritten.
        let back = try slot.sync(to: base)
        #expect(back.written == 1)
        #expect(try String(contentsOfFile: slot.directory + "/src/a.c", encoding: .utf8) == "int a;\n")
        #expect(try modificationTime(slot.directory + "/src/b.c") == bBefore)
    }

    @Test func deletionsPruneEmptyFoldersAndExecBitsAreApplied() throws {
        let fixture = try GitFixture(files: files)
        defer { fixture.remove() }
        let state = try TemporaryFolder("slots")
        defer { state.remove() }
        try fixture.git("rm", "-q", "src/deep/d.c")
        try fixture.folder.write("run.sh", "#!/bin/sh\necho run\n", executable: true)
        try fixture.git("add", "-A")
        try fixture.git("commit", "-q", "-m", "second")
        let repo = try Repository(discovering: fixture.path)
        let first = try repo.tree(ofCommit: try repo.resolveCommit("main~1"))
        let second = try repo.tree(ofCommit: try repo.resolveCommit("main"))
        let slot = try Slot(repository: repo, root: state.path + "/0")
        try slot.sync(to: first)
        let stats = try slot.sync(to: second)
        #expect(stats == SyncStats(written: 1, removed: 1))
        #expect(!FileManager.default.fileExists(atPath: slot.directory + "/src/deep"))
        #expect(FileManager.default.isExecutableFile(atPath: slot.directory + "/run.sh"))
    }

    /// A crash between writing the intent and finishing the move is completed on reopen.
    @Test func interruptedMoveIsCompletedOnOpen() throws {
        let fixture = try GitFixture(files: files)
        defer { fixture.remove() }
        let state = try TemporaryFolder("slots")
        defer { state.remove() }
        let repo = try Repository(discovering: fixture.path)
        let base = try repo.tree(ofCommit: try repo.resolveCommit("main"))
        let patch = try repo.makePatch(path: "src/b.c", old: Array("int b;\n".utf8), new: Array("int b = 2;\n".utf8))
        let candidate = try repo.apply(patch: patch, to: base)
        do {
            let slot = try Slot(repository: repo, root: state.path + "/0")
            try slot.sync(to: base)
        }
        // Simulate the crash: the intent is recorded, the files are not written yet.
        try "from \(base.hex)\nto \(candidate.hex)\n".write(toFile: state.path + "/0/slot.state", atomically: true, encoding: .utf8)
        let reopened = try Slot(repository: repo, root: state.path + "/0")
        #expect(reopened.tree == candidate)
        #expect(try String(contentsOfFile: reopened.directory + "/src/b.c", encoding: .utf8) == "int b = 2;\n")
    }

    /// Proposers that edit files: the slot diff lists edits and new files, not ignored output,
    /// and the diff applies back onto the base to give the edited content.
    @Test func diffOfEditedSlotAndRestore() throws {
        let fixture = try GitFixture(files: files)
        defer { fixture.remove() }
        let state = try TemporaryFolder("slots")
        defer { state.remove() }
        let repo = try Repository(discovering: fixture.path)
        let base = try repo.tree(ofCommit: try repo.resolveCommit("main"))
        let slot = try Slot(repository: repo, root: state.path + "/0")
        try slot.sync(to: base)
        try "int a = 7;\n".write(toFile: slot.directory + "/src/a.c", atomically: false, encoding: .utf8)
        try "int e;\n".write(toFile: slot.directory + "/src/e.c", atomically: false, encoding: .utf8)
        try "junk".write(toFile: slot.directory + "/src/x.o", atomically: false, encoding: .utf8)
        try FileManager.default.removeItem(atPath: slot.directory + "/src/b.c")
        let diff = try slot.diff(against: base)
        let summary = try repo.parsePatch(diff)
        #expect(Set(summary.files.map(\.path)) == ["src/a.c", "src/e.c", "src/b.c"])
        let tree = try repo.apply(patch: diff, to: base)
        #expect(try repo.file(at: "src/e.c", inTree: tree) == Array("int e;\n".utf8))
        #expect(try repo.file(at: "src/b.c", inTree: tree) == nil)

        try slot.restore(to: base)
        #expect(try String(contentsOfFile: slot.directory + "/src/a.c", encoding: .utf8) == "int a;\n")
        #expect(FileManager.default.fileExists(atPath: slot.directory + "/src/b.c"))
        #expect(!FileManager.default.fileExists(atPath: slot.directory + "/src/e.c"))
        #expect(FileManager.default.fileExists(atPath: slot.directory + "/src/x.o"))
        #expect(try slot.diff(against: base).isEmpty)
    }
}
