import Execution
import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// True when no process is left in the group.
private func groupIsGone(_ group: Int32) -> Bool {
    // Give the kernel a moment to finish tearing down the killed processes.
    for _ in 0..<100 {
        if kill(-group, 0) != 0 && errno == ESRCH { return true }
        usleep(10_000)
    }
    return false
}

@Suite struct CommandRunnerTests {
    let runner = CommandRunner()

    @Test func capturesOutputAndExitStatus() async throws {
        let result = try await runner.run("echo out; echo err >&2; exit 3", in: "/tmp", timeout: 10)
        #expect(result.exitStatus == 3)
        #expect(!result.succeeded)
        #expect(result.output == "out\n")
        #expect(result.errorOutput == "err\n")
        #expect(result.summary == "exit 3")
    }

    @Test func runsInTheFolderWithAControlledEnvironment() async throws {
        setenv("RATCHET_TEST_SECRET", "leak", 1)
        let result = try await runner.run("pwd; echo \"[$RATCHET_TEST_SECRET][$EXTRA]\"", in: "/usr", timeout: 10, environment: ["EXTRA": "x"])
        #expect(result.output == "/usr\n[][x]\n")
    }

    @Test func missingCommandIsAFailureNotACrash() async throws {
        let result = try await runner.run("definitely-not-a-command-xyz", in: "/tmp", timeout: 10)
        #expect(result.exitStatus == 127)
        #expect(result.errorOutput.contains("not found"))
    }

    @Test func missingFolderIsATypedError() async throws {
        await #expect(throws: ExecutionError.self) {
            try await runner.run("true", in: "/no/such/folder", timeout: 10)
        }
    }

    /// A command that hangs and forks children that hang, one ignoring SIGTERM: the whole
    /// group is killed at the timeout and nothing survives.
    @Test func timeoutKillsTheWholeProcessGroup() async throws {
        let command = "sleep 300 & (trap '' TERM; sleep 300) & sleep 300"
        let result = try await runner.run(command, in: "/tmp", timeout: 0.5)
        #expect(result.timedOut)
        #expect(result.wallSeconds < 1.5)
        #expect(groupIsGone(result.processGroup))
        #expect(result.summary.contains("timed out"))
    }

    /// Children left behind by a command that exits are killed too.
    @Test func leftoverChildrenAreKilledAfterExit() async throws {
        let result = try await runner.run("sleep 300 & echo started", in: "/tmp", timeout: 10)
        #expect(result.succeeded)
        #expect(result.output == "started\n")
        #expect(result.wallSeconds < 2)
        #expect(groupIsGone(result.processGroup))
    }

    @Test func outputIsCappedKeepingHeadAndTail() async throws {
        let small = CommandRunner(outputCap: 1000)
        let result = try await small.run("echo FIRST; head -c 100000 /dev/zero | tr '\\0' x; echo; echo LAST", in: "/tmp", timeout: 10)
        #expect(result.succeeded)
        #expect(result.droppedBytes > 90_000)
        #expect(result.output.hasPrefix("FIRST"))
        #expect(result.output.hasSuffix("LAST\n"))
        #expect(result.output.utf8.count < 1200)
    }
}
