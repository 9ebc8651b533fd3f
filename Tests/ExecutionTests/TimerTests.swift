import Execution
import Foundation
import TestSupport
import Testing

/// `ratchet-timer` times a command from inside bubblewrap, and every slot is mounted at one
/// fixed path there.
@Suite struct TimerTests {
    func sandbox() throws -> Sandbox {
        let bubblewrap = try #require(
            Sandbox.findBubblewrap(), "bubblewrap (bwrap) must be installed and able to create namespaces: apt-get install bubblewrap")
        var sandbox = Sandbox(bubblewrap: bubblewrap)
        let timer: String = try #require(Sandbox.findTimer(), "ratchet-timer must be built beside the test bundle (swift build builds it)")
        sandbox.timer = timer
        sandbox.mountPoint = Sandbox.slotMountPoint
        return sandbox
    }

    /// The timer reports the command's own resource use: a 150 MB allocation inside the
    /// sandbox shows in the peak memory (the sandbox's processes hide it from `wait4` outside).
    @Test func theTimerSeesTheCommandsOwnUsage() async throws {
        let folder = try TemporaryFolder("timer")
        defer { folder.remove() }
        let runner = CommandRunner(sandbox: try sandbox())
        let result = try await runner.run(#"python3 -c "x = b'a' * 150_000_000; print(len(x))""#, in: folder.path, timeout: 30)
        #expect(result.succeeded, "\(result.tail())")
        #expect((result.peakMemoryBytes ?? 0) > 150_000_000, "\(result.peakMemoryBytes ?? 0)")
        #expect((result.cpuSeconds ?? 0) > 0)
        #expect(result.wallSeconds > 0 && result.wallSeconds < 30)
    }

    /// The command cannot write the timer's line: the descriptor is closed before it runs.
    @Test func theCommandCannotForgeItsTime() async throws {
        let folder = try TemporaryFolder("timer")
        defer { folder.remove() }
        let runner = CommandRunner(sandbox: try sandbox())
        let result = try await runner.run("echo '1 0 0 0' >&3; sleep 0.3", in: folder.path, timeout: 30)
        #expect(result.succeeded)
        #expect(result.errorOutput.contains("Bad file descriptor") || result.errorOutput.contains("3:"), "\(result.errorOutput)")
        #expect(result.wallSeconds >= 0.29, "the real time, not the forged 1 ns: \(result.wallSeconds)")
    }

    /// A timer that lives under /tmp (a build in a clone under /tmp), which the sandbox's
    /// private /tmp hides, still runs: it is bound in by itself.
    @Test func aTimerUnderTmpStillRuns() async throws {
        var sandbox = try sandbox()
        let home = try TemporaryFolder("timer-home")
        defer { home.remove() }
        let copy = home.path + "/ratchet-timer"
        try FileManager.default.copyItem(atPath: try #require(sandbox.timer), toPath: copy)
        sandbox.timer = copy
        let folder = try TemporaryFolder("timer")
        defer { folder.remove() }
        let result = try await CommandRunner(sandbox: sandbox).run("sleep 0.2", in: folder.path, timeout: 30)
        #expect(result.succeeded, "\(result.tail())")
        #expect(result.wallSeconds >= 0.19 && result.wallSeconds < 5)
    }

    /// Every folder appears at the same path inside the sandbox, as `$PWD` and `$RATCHET_SLOT`,
    /// and what the command writes there lands in the real folder.
    @Test func everyFolderRunsFromOnePath() async throws {
        let runner = CommandRunner(sandbox: try sandbox())
        for label in ["slot-a", "slot-b-with-a-longer-name"] {
            let folder = try TemporaryFolder(label)
            defer { folder.remove() }
            let result = try await runner.run("echo \"$PWD $RATCHET_SLOT\"; echo made > out.txt", in: folder.path, timeout: 30)
            #expect(result.output == "\(Sandbox.slotMountPoint) \(Sandbox.slotMountPoint)\n", "\(result.output)")
            #expect(try folder.read("out.txt") == "made\n")
        }
    }

    /// A pinned measurement (`cpus_per_measurement`): the sandbox, the timer and the command
    /// run on the given cores only.
    @Test func aPinnedCommandRunsOnItsCoresOnly() async throws {
        var pinned = try sandbox()
        pinned.cpus = [0]
        let result = try await CommandRunner(sandbox: pinned).run("grep Cpus_allowed_list /proc/self/status", in: "/tmp", timeout: 30)
        #expect(result.succeeded, "\(result.errorOutput)")
        #expect(result.output.trimmingCharacters(in: .whitespacesAndNewlines).hasSuffix("\t0"), "\(result.output)")
    }
}
