import Core
import Execution
import Foundation
import Runner
import Store
import TestSupport
import Testing

/// `[parallel] candidates = 2` on real loops: candidates are built at once, measured one at a
/// time, decided against the best in force when their measurement starts, and accepted in order.
@Suite struct ParallelTests {
    static func diff(_ path: String, from old: String?, to new: String) -> String {
        guard let old else {
            return "diff --git a/\(path) b/\(path)\nnew file mode 100644\n--- /dev/null\n+++ b/\(path)\n@@ -0,0 +1 @@\n+\(new)\n"
        }
        return "diff --git a/\(path) b/\(path)\n--- a/\(path)\n+++ b/\(path)\n@@ -1 +1 @@\n-\(old)\n+\(new)\n"
    }

    static let bonus = diff("src/bonus.txt", from: nil, to: "2")
    static let speed2 = diff("src/config.txt", from: "speed = 1", to: "speed = 2")
    static let speed3 = diff("src/config.txt", from: "speed = 1", to: "speed = 3")
    static let speed4 = diff("src/config.txt", from: "speed = 1", to: "speed = 4")
    static let notes = diff("src/notes.txt", from: "notes", to: "other notes")

    /// The tiny workspace with only `patches`, a build that takes at least `build` seconds, and two lanes
    /// whose machine lock lives in the fixture (so other tests' loops do not wait on them).
    /// Without `calibrate`, no A/A calibration (`aa_pairs = 0`): both lanes build their first
    /// candidates at once, rather than one building while the other calibrates.
    /// `replacing`: files written instead of the defaults (`build.sh`, `bench.sh`, …).
    static func make(patches: [String: String], build: Double = 0.6, extra: String = "", calibrate: Bool = true, replacing: [String: String] = [:])
        throws -> GitFixture
    {
        var config = TinyWorkspace.config(build: "sh build.sh", kinds: #"["patches"]"#)
        if !calibrate { config = config.replacingOccurrences(of: "[metric]\n", with: "[metric]\naa_pairs = 0\n") }
        config = config.replacingOccurrences(of: "[[proposer.tuner.knob]]", with: "[[unused]]")
        config = config.components(separatedBy: "[[unused]]")[0]
        config += "\n[parallel]\ncandidates = 2\nlock_dir = \"locks\"\n" + extra
        var files = patches.reduce(into: [String: String]()) { $0["patches/" + $1.key] = $1.value }
        // Many short sleeps, not one long one: a stopped process group makes no progress
        // (one `sleep` would wake when its timer ran out, paused or not).
        // Each turn prints the time, so a test can see when the build made progress.
        files["build.sh"] = "i=0; while [ $i -lt \(Int(build / 0.02)) ]; do date +%s.%N; sleep 0.02; i=$((i+1)); done\n"
        files["src/config.txt"] = "speed = 1\n"
        files["src/notes.txt"] = "notes\n"
        files["bench.sh"] = TinyWorkspace.bench + "\n"
        files["test.sh"] = "grep -q '^speed = 3$' src/config.txt && { echo 'speed 3 is broken' >&2; exit 1; }\nexit 0\n"
        files["ratchet.toml"] = config
        files[".gitignore"] = "locks/\n"
        files.merge(replacing) { $1 }
        return try GitFixture(files: files, label: "parallel")
    }

    static func steps(_ workspace: Workspace, _ name: Step) throws -> [StepRecord] {
        try workspace.store.candidates(loop: "tiny").flatMap { try workspace.store.steps(candidate: $0.id ?? 0) }.filter { $0.step == name }
    }

    static func overlaps(_ a: StepRecord, _ b: StepRecord) -> Bool {
        guard let aEnd = a.finishedAt, let bEnd = b.finishedAt else { return false }
        return a.startedAt < bEnd && b.startedAt < aEnd
    }

    /// Builds overlap, a broken change is rejected, and each accept
    /// is a commit on top of the one before.
    @Test func twoLanesBuildAtOnceMeasureOneAtATimeAndCommitInOrder() async throws {
        let fixture = try Self.make(patches: [
            "01-bonus.diff": Self.bonus, "02-speed3.diff": Self.speed3, "03-notes.diff": Self.notes, "04-speed2.diff": Self.speed2,
        ])
        defer { fixture.remove() }
        let (summary, workspace) = try await runLoop(fixture)
        let candidates = try workspace.store.candidates(loop: "tiny")
        let outcome = Dictionary(uniqueKeysWithValues: candidates.map { ($0.source, $0.outcome) })
        #expect(outcome["01-bonus.diff"] == .accepted)
        #expect(outcome["02-speed3.diff"] == .rejected)
        #expect(candidates.first { $0.source == "02-speed3.diff" }?.rejection == .testFailed)
        #expect(outcome["03-notes.diff"] != .accepted)
        #expect(outcome["04-speed2.diff"] == .accepted)
        #expect(summary.accepted == 2)
        #expect(summary.stopReason.contains("nothing left"), "\(summary.stopReason)")

        let builds = try Self.steps(workspace, .build).filter { $0.finishedAt != nil }
        let overlapping = builds.indices.contains { i in
            builds.indices.contains { j in i < j && builds[i].candidateId != builds[j].candidateId && Self.overlaps(builds[i], builds[j]) }
        }
        #expect(overlapping, "no two candidates were built at the same time")
        // That no two bench runs overlap (the lanes' measurements take turns pair by pair) is
        // MeasurementTurnTests'.
        // Both changes are on the branch, one commit on top of the other.
        #expect(try fixture.git("show", "ratchet/tiny:src/config.txt") == "speed = 2\n")
        #expect(try fixture.git("show", "ratchet/tiny:src/bonus.txt") == "2\n")
        #expect(try fixture.git("rev-list", "--count", "main..ratchet/tiny").trimmingCharacters(in: .whitespacesAndNewlines) == "2")
        #expect(try workspace.audit.verify().ok)
    }

    /// Two changes to the same line in flight at once: the first measured is accepted, the
    /// other no longer applies on top of it and is rejected as a conflict naming it.
    @Test func aChangeThatNoLongerAppliesAfterAnotherAcceptIsAConflict() async throws {
        let fixture = try Self.make(patches: ["01-speed2.diff": Self.speed2, "02-speed4.diff": Self.speed4])
        defer { fixture.remove() }
        let (summary, workspace) = try await runLoop(fixture)
        let candidates = try workspace.store.candidates(loop: "tiny")
        #expect(candidates.count == 2)
        let accepted = try #require(candidates.first { $0.outcome == .accepted })
        let other = try #require(candidates.first { $0.id != accepted.id })
        #expect(other.rejection == .conflict, "\(other.outcome?.rawValue ?? "") \(other.reason ?? "")")
        #expect(other.reason?.contains("conflicts with #\(accepted.id ?? 0)") == true, "\(other.reason ?? "")")
        #expect(summary.accepted == 1)
    }

    /// A change that still applies after another lane's accept is re-applied onto the new
    /// best, built and tested again, and measured against that best.
    @Test func aWaitingCandidateIsRebasedOntoTheNewBestAndMeasuredAgainstIt() async throws {
        let fixture = try Self.make(patches: ["01-bonus.diff": Self.bonus, "02-speed2.diff": Self.speed2])
        defer { fixture.remove() }
        let (summary, workspace) = try await runLoop(fixture)
        #expect(summary.accepted == 2)
        let entries = try workspace.audit.entries(loop: "tiny")
        let rebase = try #require(entries.first { $0.kind == "rebase" })
        let moved = try #require(rebase.fields["candidate"].flatMap { Int64($0) })
        // Built twice: on the old best, then on the new one.
        #expect(try workspace.store.steps(candidate: moved).filter { $0.step == .build }.count == 2)
        let record = try #require(try workspace.store.candidate(id: moved))
        #expect(record.parentCommit == rebase.fields["to"])
        // Its accept sits on top of the other one's.
        let first = try #require(try workspace.store.candidates(loop: "tiny").first { $0.id != moved })
        #expect(try fixture.git("rev-parse", "ratchet/tiny~1").trimmingCharacters(in: .whitespacesAndNewlines) == first.commit)
        #expect(try fixture.git("show", "ratchet/tiny:src/config.txt") == "speed = 2\n")
        #expect(try fixture.git("show", "ratchet/tiny:src/bonus.txt") == "2\n")
    }

    /// A candidate still building on the old best when another lane accepts is stopped at
    /// once (its build would be thrown away: it is built again on the new best), re-applied
    /// onto the new best and built there. The change's build takes 200 s on the original
    /// code and none on top of the winner, so the run ends well before that only if it was
    /// stopped. (Under the whole suite on 2 cores the run takes 50-60 s even so: a 60 s
    /// build against a 55 s limit once failed at 56.3 s.)
    /// With `overlap_builds`, as by default no build runs while a measurement (and so an
    /// accept) does: a build that waited for one starts only if the best is still its own.
    @Test func aBuildOnABestThatMovedIsStoppedAndStartedAgainOnTheNewBest() async throws {
        let slow = Self.diff("src/slow.txt", from: nil, to: "1")
        let fixture = try Self.make(patches: ["01-bonus.diff": Self.bonus, "02-slow.diff": slow], build: 0.3, extra: "overlap_builds = true\n")
        defer { fixture.remove() }
        try "if [ -f src/slow.txt ] && [ ! -f src/bonus.txt ]; then sleep 200; fi; sleep 0.3\n".write(
            toFile: fixture.path + "/build.sh", atomically: true, encoding: .utf8)
        let config = try String(contentsOfFile: fixture.path + "/ratchet.toml", encoding: .utf8)
        try config.replacingOccurrences(of: "run = \"sh build.sh\"\ntimeout = \"10s\"", with: "run = \"sh build.sh\"\ntimeout = \"300s\"")
            .write(toFile: fixture.path + "/ratchet.toml", atomically: true, encoding: .utf8)
        _ = try fixture.git("commit", "-qam", "slow build")
        let started = Date()
        let (summary, workspace) = try await runLoop(fixture)
        #expect(Date().timeIntervalSince(started) < 150, "the slow build ran to its end")
        let candidates = try workspace.store.candidates(loop: "tiny")
        let bonus = try #require(candidates.first { $0.source == "01-bonus.diff" })
        let moved = try #require(candidates.first { $0.source == "02-slow.diff" })
        #expect(bonus.outcome == .accepted, "\(bonus.reason ?? "")")
        #expect(moved.outcome != nil, "the stopped candidate was not decided: \(moved.state)")
        #expect(moved.parentCommit == bonus.commit)
        let builds = try workspace.store.steps(candidate: moved.id ?? 0).filter { $0.step == .build }
        #expect(builds.count == 2, "\(builds.map { $0.detail ?? "" })")
        #expect(builds.first?.status == .failed)
        #expect(
            builds.first?.detail?.contains("stopped: another lane moved the best to \(bonus.commit?.prefix(10) ?? "")") == true,
            "\(builds.first?.detail ?? "")")
        #expect(builds.last?.status == .ok, "\(builds.last?.detail ?? "")")
        let rebase = try #require(try workspace.audit.entries(loop: "tiny").first { $0.kind == "rebase" })
        #expect(rebase.fields["candidate"] == String(moved.id ?? 0))
        #expect(summary.stopReason.contains("nothing left"), "\(summary.stopReason)")
        #expect(try workspace.audit.verify().ok)
    }

    /// A lane does not wait while another calibrates the best: it builds its candidate (and
    /// its own baseline) meanwhile, and takes that calibration before it measures.
    @Test func aLaneBuildsWhileAnotherCalibrates() async throws {
        let fixture = try Self.make(patches: ["01-bonus.diff": Self.bonus, "02-notes.diff": Self.notes], build: 1.0)
        defer { fixture.remove() }
        let (summary, workspace) = try await runLoop(fixture)
        #expect(summary.candidates == 2)
        let calibration = try #require(try workspace.audit.entries(loop: "tiny").first { $0.kind == "calibration" })
        let calibrated = try AuditLog.timeFormat.parse(calibration.time)
        let firstBuild = try #require(try Self.steps(workspace, .build).map(\.startedAt).min())
        #expect(firstBuild < calibrated, "the first candidate build started \(firstBuild), after the calibration ended \(calibrated)")
    }

    /// The pause switch freezes every candidate in flight: both builds (4 s each, so each has
    /// more than the second a pause may take left when it lands, even on a loaded machine) make no
    /// progress from a second after the pause (the issue's bound) until the resume 1.5 s later.
    /// Progress is read from the times each build prints: the command's own wall time cannot
    /// show it, as it is timed from inside the sandbox, and a pause that lands while bubblewrap
    /// sets the sandbox up freezes the command before its clock starts.
    @Test func pauseFreezesEveryCandidateInFlight() async throws {
        let fixture = try Self.make(patches: ["01-bonus.diff": Self.bonus, "02-notes.diff": Self.notes], build: 4, calibrate: false)
        defer { fixture.remove() }
        let workspace = try Workspace(configPath: fixture.path + "/ratchet.toml")
        let store = workspace.store
        let pause = PauseSwitch(stateDirectory: workspace.stateDirectory, loop: "tiny")
        let runner = try LoopRunner(workspace: workspace, emit: { _ in })
        let person = Task.detached { () -> (Date, Date)? in
            // Both candidates building, then pause for 1.5 s. Up to 30 s: a loaded machine
            // gets there late.
            for _ in 0..<1200 {
                let building = ((try? store.allCandidates()) ?? []).filter { $0.state == .running(.build) }
                let running = building.filter { candidate in
                    ((try? store.steps(candidate: candidate.id ?? 0)) ?? []).contains {
                        $0.step == .build && $0.processGroup != nil && $0.finishedAt == nil
                    }
                }
                if running.count == 2 {
                    let paused = Date()
                    try? pause.pause(note: "test")
                    try? await Task.sleep(for: .milliseconds(1500))
                    // The window ends when the flag goes: read after it, a loaded machine
                    // could let a resumed build print before this task read the clock.
                    let resuming = Date()
                    pause.resume()
                    return (paused, resuming)
                }
                try? await Task.sleep(for: .milliseconds(25))
            }
            return nil
        }
        _ = try await runner.run()
        let window = try #require(await person.value, "never saw both candidates building at once")
        let builds = try Self.steps(workspace, .build).filter { $0.startedAt < window.0 && ($0.finishedAt ?? .distantPast) > window.1 }
        #expect(builds.count == 2, "both builds span the pause: \(builds.count)")
        let (paused, resumed) = (window.0.timeIntervalSince1970, window.1.timeIntervalSince1970)
        for build in builds {
            let times = (build.output ?? "").split(separator: "\n").compactMap { Double($0) }
            #expect(times.count >= 100, "build of candidate \(build.candidateId) printed \(times.count) times: \(build.output ?? "")")
            let during = times.filter { $0 > paused + 1.0 && $0 < resumed }.map { String(format: "%+.2f s", $0 - paused) }
            #expect(
                during.isEmpty,
                "build of candidate \(build.candidateId) ran while paused (0 to \(String(format: "%.2f", resumed - paused)) s): \(during)")
        }
    }

    /// A candidate holds the build group from its build to the end of its test, but a lane
    /// paused between the two leaves it, so another loop on the machine can measure during
    /// the pause. The build itself sets the pause flag as its last act (no sandbox, so it can
    /// reach the state folder); while the loop waits at the test step, this test enters the
    /// machine lock's measurement group from outside. A build stopped by the pause just before
    /// it exited (a race of well under a millisecond) holds the group as any paused command
    /// does; then the next candidate's build tries again.
    @Test func aLanePausedBetweenBuildAndTestLetsOtherLoopsMeasure() async throws {
        var config = TinyWorkspace.config(build: "sh build.sh", kinds: #"["patches"]"#)
        config = config.replacingOccurrences(of: "[metric]\n", with: "[metric]\naa_pairs = 0\n")
        config = config.components(separatedBy: "[[proposer.tuner.knob]]")[0]
        config += "\n[parallel]\nlock_dir = \"locks\"\n\n[sandbox]\nmode = \"off\"\n"
        let fixture = try GitFixture(
            files: [
                "ratchet.toml": config, "bench.sh": TinyWorkspace.bench + "\n", "test.sh": "exit 0\n", "build.sh": "true\n",
                "src/config.txt": "speed = 1\n", "src/notes.txt": "notes\n", ".gitignore": "locks/\n",
                "patches/01-bonus.diff": Self.bonus, "patches/02-notes.diff": Self.notes, "patches/03-speed2.diff": Self.speed2,
            ], label: "paused-build-group")
        defer { fixture.remove() }
        let workspace = try Workspace(configPath: fixture.path + "/ratchet.toml")
        let pause = PauseSwitch(stateDirectory: workspace.stateDirectory, loop: "tiny")
        // Candidate builds (not the best's) set the flag, three times at most, until the
        // measurement got in (`done`).
        let (count, done) = (fixture.path + "/pauses", fixture.path + "/done")
        try """
        [ "$RATCHET_ROLE" = candidate ] && [ ! -e \(done) ] || exit 0
        n=$(cat \(count) 2>/dev/null || echo 0); [ "$n" -lt 3 ] || exit 0
        echo $((n + 1)) > \(count); echo test > \(pause.loopFlag)
        """.write(toFile: fixture.path + "/build.sh", atomically: true, encoding: .utf8)
        _ = try fixture.git("commit", "-qam", "a build that pauses the loop")
        let lock = try MachineLock(directory: fixture.path + "/locks")
        let store = workspace.store
        let person = Task.detached { () -> Bool in
            for _ in 0..<3 {
                // The flag, then the build that set it ended: the loop waits at its test step.
                var waited = 0
                while !pause.isPaused && waited < 600 {
                    try? await Task.sleep(for: .milliseconds(50))
                    waited += 1
                }
                guard pause.isPaused else { return false }
                let deadline = Date().addingTimeInterval(3)
                var ended = false
                while !ended && Date() < deadline {
                    let builds = ((try? store.allCandidates()) ?? []).flatMap { (try? store.steps(candidate: $0.id ?? 0)) ?? [] }
                        .filter { $0.step == .build }
                    ended = !builds.isEmpty && builds.allSatisfy { $0.finishedAt != nil }
                    if !ended { try? await Task.sleep(for: .milliseconds(20)) }
                }
                var measured: MachineLock.Hold?
                if ended { measured = try? await lock.measurement(cores: nil, overlapBuilds: false) { Date() < deadline } }
                measured?.release()
                if measured != nil { FileManager.default.createFile(atPath: done, contents: nil) }
                pause.resume()
                if measured != nil { return true }
            }
            return false
        }
        let runner = try LoopRunner(workspace: workspace, emit: { _ in })
        let summary = try await runner.run()
        #expect(await person.value, "no measurement could enter while the loop was paused between a build and its test")
        #expect(summary.candidates == 3, "\(summary.stopReason)")
    }

    /// `cpus_per_measurement = 1` with `overlap_builds` (without it, one lane's test waits for
    /// the other's measurement, so they seldom meet): two lanes measure at once, each bench
    /// pinned to its own core (the bench fails on more than one). Both changes win against the original code; the
    /// first decided is committed, and the other, whose best was replaced while it measured,
    /// is not committed on the old best but re-applied, built, tested and measured again on
    /// the new one, then committed on top of it.
    @Test func pinnedMeasurementsRunSideBySideAndALateWinIsMeasuredAgainOnTheNewBest() async throws {
        let fixture = try Self.make(
            patches: ["01-bonus.diff": Self.bonus, "02-speed2.diff": Self.speed2], build: 0.4,
            extra: "cpus_per_measurement = 1\noverlap_builds = true\n",
            calibrate: false)
        defer { fixture.remove() }
        let pinned = #"[ "$(nproc)" = 1 ] || { echo "bench on $(nproc) cores, not pinned" >&2; exit 1; }; sleep 0.4; "#
        try pinned.appending(TinyWorkspace.bench + "\n").write(toFile: fixture.path + "/bench.sh", atomically: true, encoding: .utf8)
        _ = try fixture.git("commit", "-qam", "pinned bench")
        let (summary, workspace) = try await runLoop(fixture)
        let candidates = try workspace.store.candidates(loop: "tiny")
        #expect(candidates.map(\.outcome) == [.accepted, .accepted], "\(candidates.map { "\($0.source): \($0.reason ?? "")" })")
        #expect(summary.accepted == 2)
        let measures = try Self.steps(workspace, .measure)
        let sideBySide = measures.indices.contains { i in
            measures.indices.contains { j in i < j && measures[i].candidateId != measures[j].candidateId && Self.overlaps(measures[i], measures[j]) }
        }
        #expect(sideBySide, "no two candidates were measured at the same time")
        // The later winner: its first measurement won but was not committed, then it was rebased.
        let rebase = try #require(try workspace.audit.entries(loop: "tiny").first { $0.kind == "rebase" })
        let moved = try #require(rebase.fields["candidate"].flatMap { Int64($0) })
        let first = try #require(candidates.first { $0.id != moved })
        let stale = try workspace.store.steps(candidate: moved).filter { $0.step == .measure }
        #expect(stale.count == 2, "measured \(stale.count) time(s)")
        #expect(stale.first?.detail?.contains("not committed: #\(first.id ?? 0) replaced the best") == true, "\(stale.first?.detail ?? "")")
        #expect(try workspace.store.candidate(id: moved)?.parentCommit == first.commit)
        #expect(try fixture.git("rev-parse", "ratchet/tiny~1").trimmingCharacters(in: .whitespacesAndNewlines) == first.commit)
        #expect(try fixture.git("show", "ratchet/tiny:src/config.txt") == "speed = 2\n")
        #expect(try fixture.git("show", "ratchet/tiny:src/bonus.txt") == "2\n")
        #expect(try workspace.audit.verify().ok)
    }

    /// `--max-iterations` and `budget.iterations` count candidates in flight: two lanes never
    /// start more than the budget allows.
    @Test func theIterationBudgetCountsCandidatesInFlight() async throws {
        let fixture = try Self.make(
            patches: ["01-bonus.diff": Self.bonus, "02-notes.diff": Self.notes, "03-speed2.diff": Self.speed2], build: 0.3,
            extra: "\n[budget]\niterations = 1\n")
        defer { fixture.remove() }
        let (summary, workspace) = try await runLoop(fixture)
        #expect(try workspace.store.candidates(loop: "tiny").count == 1)
        #expect(summary.stopReason.contains("budget.iterations"), "\(summary.stopReason)")
    }
}
