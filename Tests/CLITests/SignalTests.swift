import Foundation
import TestSupport
import Testing

/// `ratchet run` answers SIGUSR1 and SIGUSR2 as `ratchet pause` and `ratchet resume` do, and
/// still stops gracefully on SIGTERM afterwards (the built binary, real signals).
@Suite(.serialized) struct SignalTests {
    @Test func sigusr1PausesTheLoopAndSigusr2ResumesIt() async throws {
        let slow = TinyWorkspace.config().replacingOccurrences(of: "run = \"sh bench.sh\"", with: "run = \"sleep 0.1; sh bench.sh\"")
        let fixture = try TinyWorkspace.make(config: slow)
        defer { fixture.remove() }
        let process = try launchRatchet(["run"], in: fixture.path)
        defer { if process.isRunning { kill(process.processIdentifier, SIGKILL) } }
        await loopRuns(in: fixture.path)

        kill(process.processIdentifier, SIGUSR1)
        let paused = try await Self.waitForPause(in: fixture.path) { $0 != nil }
        #expect(paused?.contains("SIGUSR1") == true, "status says: \(paused ?? "not paused")")
        #expect(process.isRunning)

        kill(process.processIdentifier, SIGUSR2)
        let resumed = try await Self.waitForPause(in: fixture.path) { $0 == nil }
        #expect(resumed == nil, "still paused: \(resumed ?? "")")

        process.terminate()
        await waitForExit(process)
        #expect(process.terminationReason == .exit && process.terminationStatus == 0)
        let status = try await runRatchet(["status"], in: fixture.path)
        #expect(status.output.contains("stopped by SIGTERM"), "\(status.output)")
    }

    /// Polls `ratchet status --json` (at most 20 s) until its `paused` field satisfies
    /// `done`; returns the last value seen.
    static func waitForPause(in directory: String, until done: (String?) -> Bool) async throws -> String? {
        let deadline = Date().addingTimeInterval(20)
        var paused: String?
        repeat {
            let status = try await runRatchet(["status", "--json"], in: directory)
            let report = try JSONSerialization.jsonObject(with: Data(status.output.utf8)) as? [String: Any]
            paused = report?["paused"] as? String
            if done(paused) { return paused }
            try await Task.sleep(for: .milliseconds(50))
        } while Date() < deadline
        return paused
    }
}
