import Core
import Foundation
import TestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// `kill -9` of `ratchet run` at random instants, then `ratchet run` again: nothing accepted
/// is lost or duplicated, no process is left behind, no slot is left mid-move, and the audit
/// log verifies.
@Suite(.serialized) struct CrashTests {
    static let trials = 12

    @Test func killNineAtRandomPointsResumesCleanly() async throws {
        let slow = TinyWorkspace.config().replacingOccurrences(of: "run = \"sh bench.sh\"", with: "run = \"sleep 0.06; sh bench.sh\"")
        let fixture = try TinyWorkspace.make(config: slow)
        defer { fixture.remove() }
        var rng = SplitMix64(seed: UInt64(ProcessInfo.processInfo.environment["RATCHET_CRASH_SEED"] ?? "") ?? 2026)
        var killedMidRun = 0
        var trials = 0
        // A run that ends before its kill (the loop done, or a clear refusal) is not a kill:
        // the trials go on until half of `trials` runs were killed mid-run, with a cap.
        var endedOnTheirOwn: [Int32] = []
        while killedMidRun < Self.trials / 2 && trials < Self.trials * 3 {
            trials += 1
            let process = try launchRatchet(["run"], in: fixture.path)
            let delay = 0.05 + Double(rng.next() % 1000) / 1000.0 * 0.5
            try await Task.sleep(for: .seconds(delay))
            let killed = process.isRunning
            if killed {
                kill(process.processIdentifier, SIGKILL)
                killedMidRun += 1
            }
            await waitForExit(process)
            if !killed { endedOnTheirOwn.append(process.terminationStatus) }
        }
        print("kill -9 trials: \(trials), killed mid-run: \(killedMidRun), ended on their own with: \(endedOnTheirOwn)")
        #expect(killedMidRun >= Self.trials / 2, "runs that ended before their kill exited with \(endedOnTheirOwn)")

        let final = try await runRatchet(["run"], in: fixture.path)
        #expect(final.status == 0, "\(final.errorOutput)")
        let log = try await runRatchet(["log", "--json"], in: fixture.path)
        let entries = try #require(try JSONSerialization.jsonObject(with: Data(log.output.utf8)) as? [[String: Any]])
        let decided = entries.filter { ($0["outcome"] as? String) != "interrupted" }
        let sources = decided.compactMap { $0["source"] as? String }
        #expect(Set(sources).count == sources.count, "a candidate was decided twice: \(sources)")
        #expect(Set(sources) == ["speed=2", "speed=3", "speed=4", "01-bonus.diff", "02-touch-bench.diff", "03-garbage.diff", "04-neutral.diff"])
        #expect(decided.filter { ($0["outcome"] as? String) == "accepted" }.count == 3)
        #expect(try fixture.git("show", "ratchet/tiny:src/config.txt") == "speed = 4\n")
        #expect(try fixture.git("rev-list", "--count", "main..ratchet/tiny").trimmingCharacters(in: .whitespacesAndNewlines) == "3")

        let verify = try await runRatchet(["audit", "verify"], in: fixture.path)
        #expect(verify.status == 0, "\(verify.output)")

        try Self.expectSettled(fixture, slots: ["0", "1"])
    }

    /// No slot is left mid-move and no process works in the state folder any more.
    static func expectSettled(_ fixture: GitFixture, slots: [String]) throws {
        let state = fixture.path + "/.git/ratchet"
        for slot in slots {
            let text = try String(contentsOfFile: state + "/slots/tiny/\(slot)/slot.state", encoding: .utf8)
            #expect(text.hasPrefix("tree "), "slot \(slot): \(text)")
        }
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: "/proc").filter { name in
            guard Int32(name) != nil, let cwd = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(name)/cwd") else { return false }
            return cwd.hasPrefix(state)
        }
        #expect(leftovers.isEmpty, "processes left in the state folder: \(leftovers)")
    }

    /// The same with two candidates in flight: every candidate in flight at the kill is
    /// proposed again, none is decided twice, and the accepts form one chain on the branch.
    @Test func killNineWithTwoLanesResumesEveryCandidateInFlight() async throws {
        let slow = TinyWorkspace.config().replacingOccurrences(of: "run = \"sh bench.sh\"", with: "run = \"sleep 0.06; sh bench.sh\"")
            .replacingOccurrences(of: "[parallel]\n", with: "[parallel]\ncandidates = 2\n")
        let fixture = try TinyWorkspace.make(config: slow)
        defer { fixture.remove() }
        var rng = SplitMix64(seed: UInt64(ProcessInfo.processInfo.environment["RATCHET_CRASH_SEED"] ?? "") ?? 2027)
        var killedMidRun = 0
        for _ in 0..<6 {
            let process = try launchRatchet(["run"], in: fixture.path)
            try await Task.sleep(for: .seconds(0.1 + Double(rng.next() % 1000) / 1000.0 * 0.6))
            if process.isRunning {
                kill(process.processIdentifier, SIGKILL)
                killedMidRun += 1
            }
            await waitForExit(process)
        }
        #expect(killedMidRun >= 3)
        let final = try await runRatchet(["run"], in: fixture.path)
        #expect(final.status == 0, "\(final.errorOutput)")
        let log = try await runRatchet(["log", "--json"], in: fixture.path)
        let entries = try #require(try JSONSerialization.jsonObject(with: Data(log.output.utf8)) as? [[String: Any]])
        let decided = entries.filter { ($0["outcome"] as? String) != "interrupted" }
        let sources = decided.compactMap { $0["source"] as? String }
        #expect(Set(sources).count == sources.count, "a candidate was decided twice: \(sources)")
        #expect(Set(sources).isSuperset(of: ["01-bonus.diff", "02-touch-bench.diff", "03-garbage.diff", "04-neutral.diff", "speed=2"]), "\(sources)")
        let accepted = decided.filter { ($0["outcome"] as? String) == "accepted" }.compactMap { $0["commit"] as? String }
        let chain = try fixture.git("rev-list", "--first-parent", "main..ratchet/tiny").split(separator: "\n").map(String.init)
        #expect(Set(chain) == Set(accepted), "branch \(chain) vs accepted \(accepted)")
        #expect(try await runRatchet(["audit", "verify"], in: fixture.path).status == 0)
        try Self.expectSettled(fixture, slots: ["0", "1", "lanes/1/0", "lanes/1/1"])
    }

    @Test func sigtermStopsGracefullyAndASecondSigintForces() async throws {
        let slow = TinyWorkspace.config().replacingOccurrences(of: "run = \"sh bench.sh\"", with: "run = \"sleep 0.1; sh bench.sh\"")
        let fixture = try TinyWorkspace.make(config: slow)
        defer { fixture.remove() }
        let process = try launchRatchet(["run"], in: fixture.path)
        await loopRuns(in: fixture.path)
        try await Task.sleep(for: .seconds(0.3))
        let start = Date()
        process.terminate()
        await waitForExit(process)
        #expect(process.terminationStatus == 0)
        #expect(Date().timeIntervalSince(start) < 2)
        let status = try await runRatchet(["status"], in: fixture.path)
        #expect(status.output.contains("stopped by SIGTERM"))

        let forced = try launchRatchet(["run"], in: fixture.path)
        await loopRuns(in: fixture.path)
        try await Task.sleep(for: .seconds(0.2))
        forced.interrupt()
        forced.interrupt()
        await waitForExit(forced)
        #expect([0, 130].contains(forced.terminationStatus))
    }
}
