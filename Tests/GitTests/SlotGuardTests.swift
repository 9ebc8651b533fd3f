import Foundation
import Git
import TestSupport
import Testing

/// The slot check on real folders: what commands write is found through the kernel's
/// events (or, when those are lost, by walking the slot), reported and undone.
@Suite struct SlotGuardTests {
    let files = [
        "src/a.c": "int a;\n",
        "src/deep/d.c": "int d;\n",
        "bench/run.sh": "echo bench\n",
        ".gitignore": "build/\n",
    ]

    struct Setup {
        let fixture: GitFixture
        let state: TemporaryFolder
        let slot: Slot
        let guarded: SlotGuard
        var root: String { slot.directory }
        func remove() {
            fixture.remove()
            state.remove()
        }
    }

    func setUp() throws -> Setup {
        let fixture = try GitFixture(files: files)
        let state = try TemporaryFolder("guard")
        let repo = try Repository(discovering: fixture.path)
        let slot = try Slot(repository: repo, root: state.path + "/0")
        try slot.sync(to: try repo.tree(ofCommit: try repo.resolveCommit("main")))
        return Setup(fixture: fixture, state: state, slot: slot, guarded: try SlotGuard(slot: slot, repository: repo))
    }

    func settle(_ setup: Setup, _ phase: SlotGuard.Phase, keep: (String) -> Bool = { _ in false }) throws -> [SlotGuard.Finding] {
        try setup.guarded.settle(phase, evaluator: { $0.hasPrefix("bench/") }, writable: { $0 == "src/deep/d.c" }, keep: keep)
    }

    @Test func nothingWrittenFindsNothing() throws {
        let setup = try setUp()
        defer { setup.remove() }
        #expect(setup.guarded.watch.isWatching, "\(setup.guarded.watch.problem ?? "")")
        #expect(try settle(setup, .run).isEmpty)
        // Reading and touching without a change of content is not a write.
        _ = try String(contentsOfFile: setup.root + "/src/a.c", encoding: .utf8)
        #expect(try settle(setup, .run).isEmpty)
    }

    @Test func trackedWritesAreFoundAndUndone() throws {
        let setup = try setUp()
        defer { setup.remove() }
        try "echo cost: 1\n".write(toFile: setup.root + "/bench/run.sh", atomically: false, encoding: .utf8)
        try "int a = 2;\n".write(toFile: setup.root + "/src/a.c", atomically: true, encoding: .utf8)
        try "generated\n".write(toFile: setup.root + "/src/deep/d.c", atomically: false, encoding: .utf8)
        let findings = try settle(setup, .run)
        #expect(
            findings
                == [
                    .init(kind: .evaluator, path: "bench/run.sh"), .init(kind: .writable, path: "src/deep/d.c"),
                    .init(kind: .tracked, path: "src/a.c"),
                ].sorted { $0.path < $1.path })
        #expect(try String(contentsOfFile: setup.root + "/bench/run.sh", encoding: .utf8) == "echo bench\n")
        #expect(try String(contentsOfFile: setup.root + "/src/a.c", encoding: .utf8) == "int a;\n")
        #expect(try String(contentsOfFile: setup.root + "/src/deep/d.c", encoding: .utf8) == "int d;\n")
        // Put right, and the guard's own writes are not reported next time.
        #expect(try settle(setup, .run).isEmpty)
    }

    /// A write through a shared memory mapping raises no IN_MODIFY; the file was opened for
    /// writing, though, and that is enough to have it checked.
    @Test func aWriteThroughAMemoryMappingIsFound() throws {
        let setup = try setUp()
        defer { setup.remove() }
        let fd = open(setup.root + "/src/a.c", O_RDWR)
        try #require(fd >= 0)
        let mapped = mmap(nil, 7, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)
        close(fd)
        try #require(mapped != MAP_FAILED)
        let bytes = try #require(mapped).assumingMemoryBound(to: UInt8.self)
        bytes[4] = UInt8(ascii: "b")  // "int b;" — same size, same folder entry
        msync(mapped, 7, MS_SYNC)
        munmap(mapped, 7)
        #expect(try settle(setup, .run) == [.init(kind: .tracked, path: "src/a.c")])
        #expect(try String(contentsOfFile: setup.root + "/src/a.c", encoding: .utf8) == "int a;\n")
    }

    @Test func aTrackedFileMadeExecutableOrDeletedIsAWrite() throws {
        let setup = try setUp()
        defer { setup.remove() }
        chmod(setup.root + "/src/a.c", 0o755)
        unlink(setup.root + "/bench/run.sh")
        let findings = try settle(setup, .run)
        #expect(Set(findings.map(\.path)) == ["src/a.c", "bench/run.sh"])
        #expect(FileManager.default.isExecutableFile(atPath: setup.root + "/src/a.c") == false)
        #expect(FileManager.default.fileExists(atPath: setup.root + "/bench/run.sh"))
    }

    @Test func buildOutputStaysAndWhatRunsWriteIsRemoved() throws {
        let setup = try setUp()
        defer { setup.remove() }
        try FileManager.default.createDirectory(atPath: setup.root + "/build/obj", withIntermediateDirectories: true)
        try "binary".write(toFile: setup.root + "/build/obj/prog", atomically: false, encoding: .utf8)
        #expect(try settle(setup, .build).isEmpty)
        #expect(setup.guarded.outputs["build/obj/prog"] != nil)

        // A run's new files go, with a new folder; a kept metric file (and its folder) stays.
        try "42".write(toFile: setup.root + "/.answer", atomically: false, encoding: .utf8)
        try FileManager.default.createDirectory(atPath: setup.root + "/cache/x", withIntermediateDirectories: true)
        try "1".write(toFile: setup.root + "/cache/x/y", atomically: false, encoding: .utf8)
        try FileManager.default.createDirectory(atPath: setup.root + "/out", withIntermediateDirectories: true)
        try "{}".write(toFile: setup.root + "/out/result.json", atomically: false, encoding: .utf8)
        let findings = try settle(setup, .run, keep: { $0 == "out/result.json" })
        #expect(Set(findings.map(\.kind)) == [.created])
        #expect(!FileManager.default.fileExists(atPath: setup.root + "/.answer"))
        #expect(!FileManager.default.fileExists(atPath: setup.root + "/cache"))
        #expect(FileManager.default.fileExists(atPath: setup.root + "/out/result.json"))
        #expect(FileManager.default.fileExists(atPath: setup.root + "/build/obj/prog"))
        #expect(!setup.guarded.needsBuild)

        // A run that changes build output: removed, and the slot needs a build.
        try "patched".write(toFile: setup.root + "/build/obj/prog", atomically: false, encoding: .utf8)
        #expect(try settle(setup, .run) == [.init(kind: .output, path: "build/obj/prog")])
        #expect(!FileManager.default.fileExists(atPath: setup.root + "/build/obj/prog"))
        #expect(setup.guarded.needsBuild)
    }

    /// A renamed folder loses the kernel's track of it: the whole slot is checked instead,
    /// and watched again.
    @Test func aRenamedFolderFallsBackToAFullCheck() throws {
        let setup = try setUp()
        defer { setup.remove() }
        #expect(rename(setup.root + "/bench", setup.root + "/bench-moved") == 0)
        try FileManager.default.createDirectory(atPath: setup.root + "/bench", withIntermediateDirectories: true)
        try "echo cost: 1\n".write(toFile: setup.root + "/bench/run.sh", atomically: false, encoding: .utf8)
        let findings = try settle(setup, .run)
        #expect(findings.contains(.init(kind: .evaluator, path: "bench/run.sh")), "\(findings)")
        #expect(findings.contains(.init(kind: .created, path: "bench-moved")), "\(findings)")
        #expect(try String(contentsOfFile: setup.root + "/bench/run.sh", encoding: .utf8) == "echo bench\n")
        #expect(setup.guarded.watch.isWatching)
        try "int a = 3;\n".write(toFile: setup.root + "/src/a.c", atomically: false, encoding: .utf8)
        #expect(try settle(setup, .run) == [.init(kind: .tracked, path: "src/a.c")])
    }

    /// Opening a guard makes the slot exactly its tree, whatever an earlier process left.
    @Test func openingScrubsTheSlot() throws {
        let fixture = try GitFixture(files: files)
        defer { fixture.remove() }
        let state = try TemporaryFolder("guard")
        defer { state.remove() }
        let repo = try Repository(discovering: fixture.path)
        let slot = try Slot(repository: repo, root: state.path + "/0")
        try slot.sync(to: try repo.tree(ofCommit: try repo.resolveCommit("main")))
        try "int a = 9;\n".write(toFile: slot.directory + "/src/a.c", atomically: false, encoding: .utf8)
        try FileManager.default.createDirectory(atPath: slot.directory + "/build", withIntermediateDirectories: true)
        try "poisoned cache".write(toFile: slot.directory + "/build/cache", atomically: false, encoding: .utf8)
        unlink(slot.directory + "/src/deep/d.c")
        _ = try SlotGuard(slot: slot, repository: repo)
        #expect(try String(contentsOfFile: slot.directory + "/src/a.c", encoding: .utf8) == "int a;\n")
        #expect(try String(contentsOfFile: slot.directory + "/src/deep/d.c", encoding: .utf8) == "int d;\n")
        #expect(!FileManager.default.fileExists(atPath: slot.directory + "/build"))
    }
}
