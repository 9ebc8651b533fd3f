import Core
import Foundation
import Git
import Runner
import Store
import TestSupport
import Testing

func outcomes(_ workspace: Workspace) throws -> [String: String] {
    Dictionary(
        try workspace.store.candidates(loop: "tiny").map { ($0.source, $0.state.label + "/" + ($0.rejection?.rawValue ?? "-")) },
        uniquingKeysWith: { a, b in a + "," + b })
}

@Suite(.serialized) struct LoopRunnerTests {
    /// A whole real loop: tuner then patches, real git, real processes, real SQLite.
    @Test func fullLoopKeepsOnlyCorrectImprovements() async throws {
        let fixture = try TinyWorkspace.make()
        defer { fixture.remove() }
        try fixture.folder.write("src/notes.txt", "user's uncommitted edit\n")
        let statusBefore = try fixture.git("status", "--porcelain")
        let (summary, workspace) = try await runLoop(fixture)

        let result = try outcomes(workspace)
        #expect(result["speed=2"] == "accepted/-")
        #expect(result["speed=3"] == "rejected/test_failed")
        #expect(result["speed=4"] == "accepted/-")
        #expect(result["speed=1"] == nil, "the tuner went back to a state already beaten")
        #expect(result["01-bonus.diff"] == "accepted/-")
        #expect(result["02-touch-bench.diff"] == "rejected/gate")
        #expect(result["03-garbage.diff"] == "rejected/invalid_diff")
        #expect(result["04-neutral.diff"] == "rejected/not_better")
        #expect(summary.accepted == 3)
        #expect(summary.candidates == 7)
        #expect(summary.stopReason.contains("nothing left"))

        // The loop branch holds the accepted changes, each commit with its trailers.
        #expect(try fixture.git("show", "ratchet/tiny:src/config.txt") == "speed = 4\n")
        #expect(try fixture.git("show", "ratchet/tiny:src/bonus.txt") == "2\n")
        let candidates = try workspace.store.candidates(loop: "tiny")
        let bonus = try #require(candidates.first { $0.source == "01-bonus.diff" })
        let trailers = try workspace.repository.trailers(ofCommit: try ObjectID(hex: try #require(bonus.commit)))
        #expect(trailers["Ratchet-Loop"] == "tiny")
        #expect(trailers["Ratchet-Candidate"] == String(try #require(bonus.id)))
        #expect(trailers["Ratchet-Effect"]?.hasPrefix("+") == true)
        #expect(try fixture.git("rev-list", "--count", "main..ratchet/tiny").trimmingCharacters(in: .whitespacesAndNewlines) == "3")

        // Reasons name what happened.
        let gate = try #require(candidates.first { $0.source == "02-touch-bench.diff" })
        #expect(gate.reason?.contains("bench.sh") == true)
        let broken = try #require(candidates.first { $0.source == "speed=3" })
        #expect(broken.reason?.contains("speed 3 is broken") == true)
        // Every measured run was stored.
        let samples = try workspace.store.samples(candidate: try #require(bonus.id))
        // Both rounds (decision and confirmation) are stored: at least the pairs of the final one.
        let measured = samples.filter { !$0.warmup }
        #expect(measured.count >= 2 * (bonus.pairs ?? 0) && measured.count % 2 == 0)
        #expect(bonus.reason?.hasPrefix("confirmed") == true)
        // The fresh round decides at the confirmation confidence (0.9 by default), the first at 95%.
        #expect(bonus.reason?.contains("so the 90% bounds equal it") == true, "\(bonus.reason ?? "")")
        #expect(bonus.reason?.contains("(first round: ") == true)
        #expect(samples.contains { $0.warmup })

        // The user's checkout, HEAD and index were never touched.
        #expect(try fixture.git("status", "--porcelain") == statusBefore)
        #expect(try fixture.git("rev-parse", "--abbrev-ref", "HEAD") == "main\n")

        // Running again finds nothing new to do and redoes nothing.
        let (again, _) = try await runLoop(fixture)
        #expect(again.candidates == 7)
        #expect(again.accepted == 3)
    }

    /// Stopping after each candidate and starting again gives the same result as one run.
    @Test func resumesWithoutRedoingWork() async throws {
        let fixture = try TinyWorkspace.make()
        defer { fixture.remove() }
        var runs = 0
        while runs < 20 {
            runs += 1
            let (summary, _) = try await runLoop(fixture, options: RunOptions(maxIterations: 1))
            if summary.stopReason.contains("nothing left") { break }
        }
        let workspace = try Workspace(configPath: fixture.path + "/ratchet.toml")
        let all = try workspace.store.candidates(loop: "tiny")
        #expect(all.count == 7)
        #expect(Set(all.map(\.source)).count == 7)
        #expect(all.filter { $0.outcome == .accepted }.count == 3)
        #expect(try fixture.git("show", "ratchet/tiny:src/config.txt") == "speed = 4\n")
    }

    /// A crash after the branch moved but before the store recorded the accept: the accept
    /// stands. A crash mid-candidate: it is marked interrupted and proposed again.
    @Test func crashRecoverySettlesUnfinishedCandidates() async throws {
        let fixture = try TinyWorkspace.make()
        defer { fixture.remove() }
        let (_, first) = try await runLoop(fixture, options: RunOptions(maxIterations: 1))
        let accepted = try #require(try first.store.candidates(loop: "tiny").first)
        #expect(accepted.outcome == .accepted)
        // Simulate: the process died after updating the branch, before finishing the record
        // (its row rewritten as it stood in the decide step).
        var crashed = CandidateRecord(
            loop: "tiny", sequence: accepted.sequence, proposer: accepted.proposer, source: accepted.source, title: accepted.title,
            parentCommit: accepted.parentCommit)
        crashed.id = accepted.id
        crashed.diff = accepted.diff
        crashed.tree = accepted.tree
        try crashed.advance(to: .running(.decide))
        try first.store.update(crashed)
        // And a second candidate that was being measured.
        var half = CandidateRecord(
            loop: "tiny", sequence: 0, proposer: "tuner", source: "speed=3", title: "half done", parentCommit: accepted.commit ?? "")
        half = try first.store.insertCandidate(half)
        try half.advance(to: .running(.measure))
        try first.store.update(half)

        let (summary, workspace) = try await runLoop(fixture)
        let all = try workspace.store.candidates(loop: "tiny")
        let recovered = try #require(all.first { $0.id == accepted.id })
        #expect(recovered.outcome == .accepted)
        let interrupted = try #require(all.first { $0.id == half.id })
        #expect(interrupted.outcome == .interrupted)
        #expect(interrupted.reason?.contains("measure") == true)
        // speed=3 was proposed again and decided properly; speed=2 was not redone.
        #expect(all.filter { $0.source == "speed=3" }.map { $0.outcome?.rawValue ?? "" }.sorted() == ["interrupted", "rejected"])
        #expect(all.filter { $0.source == "speed=2" }.count == 1)
        #expect(summary.accepted == 3)
    }

    /// kill -9 while git moved the loop branch leaves `ratchet/<loop>.lock`: the next run
    /// (which holds the loop's lock) removes it instead of failing on every ref update.
    @Test func staleBranchLockFromAKilledRunIsCleared() async throws {
        let fixture = try TinyWorkspace.make()
        defer { fixture.remove() }
        _ = try await runLoop(fixture, options: RunOptions(maxIterations: 1))
        let lock = fixture.path + "/.git/refs/heads/ratchet/tiny.lock"
        try "0000000000000000000000000000000000000000\n".write(toFile: lock, atomically: false, encoding: .utf8)
        let (summary, workspace) = try await runLoop(fixture)
        #expect(summary.accepted == 3)
        #expect(!FileManager.default.fileExists(atPath: lock))
        #expect(try workspace.audit.entries(loop: "tiny").contains { $0.kind == "recovery" && $0.fields["removed"] != nil })
    }

    @Test func missingBaseRefAndNonRepositoryAreClearErrors() async throws {
        let fixture = try TinyWorkspace.make(config: TinyWorkspace.config().replacingOccurrences(of: "base = \"main\"", with: "base = \"nope\""))
        defer { fixture.remove() }
        let workspace = try Workspace(configPath: fixture.path + "/ratchet.toml")
        let error = try #require(throws: RunnerError.self) { try LoopRunner(workspace: workspace, emit: { _ in }) }
        #expect(error.kind == .repository)
        #expect(error.message.contains("'nope'"))

        let plain = try TemporaryFolder("plain")
        defer { plain.remove() }
        try plain.write("ratchet.toml", TinyWorkspace.config())
        let notRepo = try #require(throws: RunnerError.self) { try Workspace(configPath: plain.path + "/ratchet.toml") }
        #expect(notRepo.kind == .repository)
        #expect(notRepo.message.contains("not inside a git repository"))

        let missing = try #require(throws: RunnerError.self) { try Workspace(configPath: plain.path + "/none.toml") }
        #expect(missing.kind == .config)
        #expect(missing.message.contains("ratchet init"))
    }

    /// A build command that does not exist and a test that hangs are rejected candidates,
    /// with the reason, and the loop goes on.
    @Test func missingCommandAndHangingTestAreRejections() async throws {
        let hanging = TinyWorkspace.config(test: "sh test.sh && sleep 60 & wait", build: "no-such-compiler-xyz", kinds: #"["tuner"]"#)
        let fixture = try TinyWorkspace.make(config: hanging)
        defer { fixture.remove() }
        let (summary, workspace) = try await runLoop(fixture, options: RunOptions(maxIterations: 2))
        let all = try workspace.store.candidates(loop: "tiny")
        #expect(all.count == 2)
        #expect(all.allSatisfy { $0.rejection == .buildFailed })
        #expect(all.first?.reason?.contains("not found") == true)
        #expect(summary.accepted == 0)

        let slow = TinyWorkspace.config(test: "sleep 30", kinds: #"["tuner"]"#)
        let second = try TinyWorkspace.make(config: slow)
        defer { second.remove() }
        let clock = ContinuousClock.now
        let (_, ws2) = try await runLoop(second, options: RunOptions(maxIterations: 1))
        #expect(ContinuousClock.now - clock < .seconds(6))
        let timedOut = try #require(try ws2.store.candidates(loop: "tiny").first)
        #expect(timedOut.rejection == .testFailed)
        #expect(timedOut.reason?.contains("timed out") == true)
    }

    @Test func secondRunnerOnTheSameLoopIsRefused() async throws {
        let fixture = try TinyWorkspace.make()
        defer { fixture.remove() }
        let workspace = try Workspace(configPath: fixture.path + "/ratchet.toml")
        let first = try LoopRunner(workspace: workspace, emit: { _ in })
        let other = try Workspace(configPath: fixture.path + "/ratchet.toml")
        let error = try #require(throws: RunnerError.self) { try LoopRunner(workspace: other, emit: { _ in }) }
        #expect(error.kind == .locked)
        withExtendedLifetime(first) {}
    }

    @Test func stopSwitchStopsAtASafePoint() async throws {
        let fixture = try TinyWorkspace.make()
        defer { fixture.remove() }
        let stop = StopSwitch()
        stop.stop("stopped by test")
        let (summary, workspace) = try await runLoop(fixture, options: RunOptions(stop: stop))
        #expect(summary.stopReason == "stopped by test")
        #expect(try workspace.store.loop(named: "tiny")?.status == .stopped)
    }

    /// A stop that arrives after a candidate was decided, while the A/A built beside it is
    /// measured, ends the run as stopped and leaves the decision as it was. (It failed the
    /// loop with "candidate cannot go from rejected to interrupted": the stop was taken for
    /// one of the candidate's own steps, and a daemon retried the loop a minute later.)
    @Test func aStopWhileTheCalibrationBesideADecidedCandidateIsMeasuredEndsTheRunCleanly() async throws {
        // The patch adds src/bonus.txt, which the build refuses: decided before the A/A runs.
        let fixture = try TinyWorkspace.make(config: TinyWorkspace.config(build: "test ! -f src/bonus.txt", kinds: #"["patches"]"#))
        defer { fixture.remove() }
        let workspace = try Workspace(configPath: fixture.path + "/ratchet.toml")
        let stop = StopSwitch()
        let log = EventLog()
        let runner = try LoopRunner(
            workspace: workspace, options: RunOptions(stop: stop),
            emit: { event in
                log.add(event)
                if case .finished(sequence: 1, _, _) = event { stop.stop("stopped by test") }
            })
        let summary = try await runner.run()
        #expect(summary.stopReason == "stopped by test")
        let candidates = try workspace.store.candidates(loop: "tiny")
        #expect(candidates.map { $0.state.label + "/" + ($0.rejection?.rawValue ?? "-") } == ["rejected/build_failed"])
        #expect(try workspace.store.loop(named: "tiny")?.status == .stopped)
        // The calibration slot was built beside the candidate, and its A/A was cut short by the stop.
        #expect(FileManager.default.fileExists(atPath: fixture.path + "/.git/ratchet/slots/tiny/calibration/work/src/config.txt"))
        let notes = log.all.compactMap { event -> String? in if case .note(let text) = event { text } else { nil } }
        #expect(!notes.contains { $0.contains("A/A across the slots") }, "\(notes)")
    }

    /// A bench that writes where none may, in the best's A/A measured after a candidate was
    /// decided, is the best's fault: the loop stops naming the A/A, and the candidate keeps
    /// its decision (it tried to reject the finished candidate a second time).
    @Test func aSealBrokenInTheBestsCalibrationAfterADecisionIsTheBests() async throws {
        let config = TinyWorkspace.config(build: "test ! -f src/bonus.txt", kinds: #"["patches"]"#)
            .replacingOccurrences(of: "run = \"sh bench.sh\"", with: "run = \"echo x >> src/notes.txt; sh bench.sh\"")
        let fixture = try TinyWorkspace.make(config: config)
        defer { fixture.remove() }
        let (failure, workspace) = try await runLoopCatching(fixture)
        let error = try #require(failure, "the loop was expected to fail")
        #expect(error.message.contains("the A/A of the best"), "\(error.message)")
        let candidates = try workspace.store.candidates(loop: "tiny")
        #expect(candidates.map { $0.state.label + "/" + ($0.rejection?.rawValue ?? "-") } == ["rejected/build_failed"])
    }
}
