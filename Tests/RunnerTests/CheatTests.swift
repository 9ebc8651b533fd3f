import Core
import Execution
import Foundation
import Report
import Runner
import Store
import TestSupport
import Testing

/// Candidates that try to move their own score: none is accepted, and an honest
/// improvement still is.
@Suite(.serialized) struct CheatTests {
    static let work = """
        n=$1; i=0; sum=0
        while [ $i -lt $n ]; do sum=$((sum + i)); i=$((i + 1)); done
        echo "result: $sum"
        echo "cost: $n"

        """

    /// The `[loop]` table every loop here shares, and its patches proposer.
    static let loopHeader = "[loop]\nname = \"tiny\"\nbase = \"main\"\nscope = [\"src/**\"]"
    static let patchesProposer = "[proposer]\nkind = \"patches\"\n[proposer.patches]\ndir = \"patches\""

    static func patch(_ name: String, _ newBody: String) -> (String, String) {
        let old = work.split(separator: "\n", omittingEmptySubsequences: false).dropLast().map { "-" + $0 }.joined(separator: "\n")
        let new = newBody.split(separator: "\n", omittingEmptySubsequences: false).dropLast().map { "+" + $0 }.joined(separator: "\n")
        let oldCount = work.split(separator: "\n", omittingEmptySubsequences: false).count - 1
        let newCount = newBody.split(separator: "\n", omittingEmptySubsequences: false).count - 1
        return (
            "patches/" + name,
            "diff --git a/src/work.sh b/src/work.sh\n--- a/src/work.sh\n+++ b/src/work.sh\n@@ -1,\(oldCount) +1,\(newCount) @@\n\(old)\n\(new)\n"
        )
    }

    static let cheats: [(String, String)] = [
        // Returns a cached answer for the input it saw in the bench command.
        patch("01-special-case-input.diff", "if [ \"$1\" = 300 ]; then echo \"result: 44850\"; echo \"cost: 1\"; exit 0; fi\n" + work),
        // Skips the work for large inputs (the tests only use small ones).
        patch("02-skip-work.diff", "if [ \"$1\" -gt 100 ]; then echo \"result: 0\"; echo \"cost: 1\"; exit 0; fi\n" + work),
        // Breaks correctness for speed: off by one.
        patch("03-wrong-formula.diff", "n=$1\necho \"result: $((n * (n + 1) / 2))\"\necho \"cost: 1\"\n"),
        // The honest improvement: the closed form.
        patch("04-closed-form.diff", "n=$1\necho \"result: $((n * (n - 1) / 2))\"\necho \"cost: 1\"\n"),
    ]

    func workspace(bench: String, extra: String = "") throws -> GitFixture {
        let config = """
            \(CheatTests.loopHeader)

            [commands.test]
            run = "[ \\"$(sh src/work.sh 10 | head -1)\\" = 'result: 45' ]"
            [commands.validate]
            run = "for n in 7 123 401; do [ \\"$(sh src/work.sh $n | head -1)\\" = \\"$(sh $RATCHET_BASELINE_SLOT/src/work.sh $n | head -1)\\" ] || { echo \\"differs for $n\\"; exit 1; }; done"
            [commands.bench]
            run = "\(bench)"

            [metric]
            source = "regex"
            pattern = 'cost: (\\d+)'
            direction = "lower"
            min_effect = 0.02
            min_pairs = 2
            max_pairs = 6
            warmup = 0
            aa_pairs = 2
            outputs_must_match = true
            \(extra)

            \(CheatTests.patchesProposer)
            """
        var files: [String: String] = ["src/work.sh": Self.work, "ratchet.toml": config]
        for (path, text) in Self.cheats { files[path] = text }
        return try GitFixture(files: files, label: "cheat")
    }

    @Test func cheatsAreRejectedAndTheHonestChangeIsAccepted() async throws {
        // The bench draws its input from the per-pair seed: special-casing one input cannot pay.
        let fixture = try workspace(bench: "sh src/work.sh $((300 + RATCHET_BENCH_SEED % 40))")
        defer { fixture.remove() }
        let (summary, workspace) = try await runLoop(fixture)
        let byName = Dictionary(uniqueKeysWithValues: try workspace.store.candidates(loop: "tiny").map { ($0.source, $0) })
        let special = try #require(byName["01-special-case-input.diff"])
        #expect(special.outcome != .accepted, "\(special.reason ?? "")")
        let skip = try #require(byName["02-skip-work.diff"])
        #expect(skip.outcome == .rejected)
        #expect(["validate_failed", "output_mismatch"].contains(skip.rejection?.rawValue ?? ""), "\(skip.reason ?? "")")
        let wrong = try #require(byName["03-wrong-formula.diff"])
        #expect(wrong.rejection == .testFailed)
        let honest = try #require(byName["04-closed-form.diff"])
        #expect(honest.outcome == .accepted, "\(honest.reason ?? "")")
        #expect(summary.accepted == 1)
    }

    /// Without a validate command, `outputs_must_match` alone catches a cached answer.
    @Test func outputMismatchAloneCatchesACachedAnswer() async throws {
        let fixture = try workspace(bench: "sh src/work.sh $((300 + RATCHET_BENCH_SEED % 40))")
        defer { fixture.remove() }
        let config = try fixture.folder.read("ratchet.toml").replacingOccurrences(of: "[commands.validate]", with: "[commands.unused_validate]")
            .replacingOccurrences(of: "[commands.unused_validate]\nrun", with: "#")
        try fixture.commit(files: ["ratchet.toml": config], message: "no validate")
        let (_, workspace) = try await runLoop(fixture)
        let skip = try #require(try workspace.store.candidates(loop: "tiny").first { $0.source == "02-skip-work.diff" })
        #expect(skip.rejection == .outputMismatch, "\(skip.reason ?? "")")
        #expect(skip.reason?.contains("expected 'result:") == true)
    }

    /// A change that only adds timing noise is not accepted on wall time.
    @Test func timingNoiseIsNotAnImprovement() async throws {
        let noisy =
            "n=$1; [ $((RATCHET_BENCH_SEED % 2)) = 0 ] && sleep 0.02\n"
            + Self.work.split(separator: "\n", omittingEmptySubsequences: false).dropFirst().joined(separator: "\n")
        let (path, text) = Self.patch("01-noise.diff", noisy)
        let config = """
            \(CheatTests.loopHeader)
            [commands.bench]
            run = "sh src/work.sh 200"
            [metric]
            source = "wall_time"
            min_effect = 0.02
            min_pairs = 3
            max_pairs = 8
            warmup = 1
            aa_pairs = 3
            \(CheatTests.patchesProposer)
            """
        let fixture = try GitFixture(files: ["src/work.sh": Self.work, "ratchet.toml": config, path: text], label: "noise")
        defer { fixture.remove() }
        let (summary, workspace) = try await runLoop(fixture)
        #expect(summary.accepted == 0)
        let candidate = try #require(try workspace.store.candidates(loop: "tiny").first)
        #expect(candidate.outcome != .accepted)
        #expect(try workspace.audit.entries(loop: "tiny").contains { $0.kind == "calibration" })
    }
}

/// A measurement apparatus that favours one slot: the bench reads 5% better in slot 1,
/// where the first candidate is measured (by its path, which differs between the slots
/// without bubblewrap). Without the A/A calibration a change that does nothing is accepted
/// on that bias; with it the floor equals the bias and it is not.
@Suite(.serialized) struct SlotBiasTests {
    func fixture(aaPairs: Int, mode: String = "off") throws -> GitFixture {
        let config = """
            \(CheatTests.loopHeader)
            [commands.build]
            run = "cp src/work.sh built.sh"
            [commands.bench]
            run = "case $PWD in */1/work) echo cost: 95;; *) echo cost: 100;; esac; sh built.sh 3 > /dev/null"
            [metric]
            source = "regex"
            pattern = 'cost: (\\d+)'
            direction = "lower"
            min_effect = 0.01
            min_pairs = 2
            max_pairs = 4
            warmup = 0
            aa_pairs = \(aaPairs)
            [sandbox]
            mode = "\(mode)"
            \(CheatTests.patchesProposer)
            """
        let (path, text) = CheatTests.patch("01-comment.diff", "# does nothing faster\n" + CheatTests.work)
        return try GitFixture(files: ["src/work.sh": CheatTests.work, "ratchet.toml": config, path: text], label: "slotbias")
    }

    /// Under bubblewrap every slot is mounted at one path: a bench that depends on its
    /// folder's path reads the same in both, so there is no slot bias left to pay for.
    @Test func underBubblewrapBothSlotsRunFromOnePath() async throws {
        try #require(
            Sandbox.findBubblewrap() != nil, "bubblewrap (bwrap) must be installed and able to create namespaces: apt-get install bubblewrap")
        let fixture = try fixture(aaPairs: 3, mode: "auto")
        defer { fixture.remove() }
        let config = try fixture.folder.read("ratchet.toml")
            .replacingOccurrences(
                of: "case $PWD in */1/work) echo cost: 95;; *) echo cost: 100;; esac", with: "[ $PWD = $RATCHET_SLOT ] && echo cost: ${#PWD}")
        try fixture.commit(files: ["ratchet.toml": config], message: "path-length bench")
        let (summary, workspace) = try await runLoop(fixture)
        #expect(summary.accepted == 0)
        let calibration = try #require(try workspace.audit.entries(loop: "tiny").first { $0.kind == "calibration" })
        #expect(calibration.fields["slot_bias"] == "0.0000", "\(calibration.fields)")
        let candidate = try #require(try workspace.store.candidates(loop: "tiny").first)
        let values = Set(try workspace.store.samples(candidate: try #require(candidate.id)).map(\.value))
        #expect(values == [Double(Sandbox.slotMountPoint.count)], "both arms at \(Sandbox.slotMountPoint): \(values)")
        #expect(candidate.reason?.contains("minimum raised") == false, "\(candidate.reason ?? "")")
    }

    /// Both arms of a pair run the bench with the same environment: a bench that reports
    /// the length of RATCHET_ROLE reads the same in the baseline and the candidate slot.
    @Test func bothArmsSeeTheSameRole() async throws {
        let fixture = try fixture(aaPairs: 0)
        defer { fixture.remove() }
        let config = try fixture.folder.read("ratchet.toml")
            .replacingOccurrences(
                of: "case $PWD in */1/work) echo cost: 95;; *) echo cost: 100;; esac", with: "echo cost: $((100 + ${#RATCHET_ROLE}))")
        try fixture.commit(files: ["ratchet.toml": config], message: "role-length bench")
        let (_, workspace) = try await runLoop(fixture)
        let candidate = try #require(try workspace.store.candidates(loop: "tiny").first)
        let values = Set(try workspace.store.samples(candidate: try #require(candidate.id)).map(\.value))
        #expect(values == [105], "RATCHET_ROLE=bench (5 characters) in both arms: \(values)")
    }

    @Test func aNeutralChangeIsNotAcceptedOnASlotBias() async throws {
        let biased = try fixture(aaPairs: 0)
        defer { biased.remove() }
        let (fooled, _) = try await runLoop(biased)
        #expect(fooled.accepted == 1, "without calibration the 5% slot bias passes as an improvement")

        let calibrated = try fixture(aaPairs: 3)
        defer { calibrated.remove() }
        let (summary, workspace) = try await runLoop(calibrated)
        #expect(summary.accepted == 0)
        let candidate = try #require(try workspace.store.candidates(loop: "tiny").first)
        #expect(candidate.outcome == .rejected, "\(candidate.reason ?? "")")
        // min_effect 1% on top of the 5.26% bias: 1.01 * 1.0526 - 1 = 6.3%.
        #expect(candidate.reason?.contains("(minimum raised from +1.0% by the A/A slot bias +5.3%") == true, "\(candidate.reason ?? "")")
        #expect(abs((candidate.threshold ?? 0) - 0.0632) < 0.0002, "\(candidate.threshold ?? 0)")
        let calibration = try #require(try workspace.audit.entries(loop: "tiny").first { $0.kind == "calibration" })
        #expect(calibration.fields["slot_bias"] == "0.0526" && calibration.fields["noise_floor"] == "0.0526", "\(calibration.fields)")
        #expect(calibration.fields["aa_pairs"] == "3" && calibration.fields["baseline_slot"] == "0")

        // A second run (another do-nothing patch) reuses the calibration of the same best
        // commit and slot roles instead of measuring again.
        let (path, text) = CheatTests.patch("02-comment.diff", "# still nothing faster\n" + CheatTests.work)
        try calibrated.commit(files: [path: text], message: "another patch")
        let (again, rerun) = try await runLoop(calibrated)
        #expect(again.accepted == 0)
        #expect(try rerun.audit.entries(loop: "tiny").filter { $0.kind == "calibration" }.count == 1)
        let second = try #require(try rerun.store.candidates(loop: "tiny").first { $0.source == "02-comment.diff" })
        #expect(second.reason?.contains("by the A/A slot bias +5.3%") == true, "\(second.reason ?? "")")
    }
}

/// Several benchmarks: a candidate with a combined gain that makes one benchmark
/// significantly worse is refused.
@Suite(.serialized) struct MultiBenchmarkLoopTests {
    @Test func combinedGainWithARegressionIsRefused() async throws {
        let extra = #"""

            [[benchmark]]
            name = "other"
            run = "s=$(sed -n 's/^speed = //p' src/config.txt); echo \"other: $((s * 100))\""
            source = "regex"
            pattern = 'other: (\d+)'
            weight = 0.5
            """#
        let config = TinyWorkspace.config(kinds: #"["tuner"]"#) + extra
        let fixture = try TinyWorkspace.make(config: config)
        defer { fixture.remove() }
        let (summary, workspace) = try await runLoop(fixture, options: RunOptions(maxIterations: 1))
        #expect(summary.accepted == 0)
        let first = try #require(try workspace.store.candidates(loop: "tiny").first)
        #expect(first.reason?.contains("significant regression on other") == true, "\(first.reason ?? "")")
        let samples = try workspace.store.samples(candidate: try #require(first.id))
        #expect(samples.contains { $0.benchmark == "other" })
    }
}

/// Metric sources that need the run's counters, and the drift check, on real loops.
@Suite(.serialized) struct MetricSourceLoopTests {
    /// A change that is faster but uses twice the memory is refused by a memory constraint.
    @Test func peakMemoryConstraintRefusesAMemoryHog() async throws {
        let bench = #"s=$(sed -n 's/^speed = //p' src/config.txt); python3 -c "x = b'a' * ($s * 40000000); print('score:', 1200 // $s)""#
        let config =
            TinyWorkspace.config(kinds: #"["tuner"]"#)
            .replacingOccurrences(of: "run = \"sh bench.sh\"", with: "run = \"sh bench.sh\"")
            + "\n[[metric.constraint]]\nname = \"memory\"\nsource = \"peak_memory\"\nmax_regression = 0.05\n"
        let fixture = try TinyWorkspace.make(config: config)
        defer { fixture.remove() }
        try fixture.commit(files: ["bench.sh": bench + "\n"], message: "memory-hungry bench")
        let (summary, workspace) = try await runLoop(fixture, options: RunOptions(maxIterations: 1))
        #expect(summary.accepted == 0)
        let first = try #require(try workspace.store.candidates(loop: "tiny").first)
        #expect(first.rejection == .constraint, "\(first.reason ?? "")")
        #expect(first.reason?.contains("constraint memory (peak_memory)") == true)
    }

    /// Instruction counts decide, the plain command's wall time confirms: a change that
    /// runs fewer instructions but sleeps longer is refused, a really faster one is kept.
    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/valgrind")))
    func callgrindDecidesAndWallTimeConfirms() async throws {
        let work = "i=0; while [ $i -lt 800 ]; do i=$((i+1)); done; sleep 0.1\n"
        func patch(_ body: String) -> String {
            "diff --git a/src/work.sh b/src/work.sh\n--- a/src/work.sh\n+++ b/src/work.sh\n@@ -1 +1 @@\n-\(work)+\(body)"
        }
        let config = """
            \(CheatTests.loopHeader)
            [commands.bench]
            run = "sh src/work.sh"
            [metric]
            source = "callgrind"
            min_effect = 0.02
            min_pairs = 2
            max_pairs = 5
            warmup = 0
            aa_pairs = 0
            \(CheatTests.patchesProposer)
            """
        let fixture = try GitFixture(
            files: [
                "src/work.sh": work, "ratchet.toml": config,
                "patches/01-fewer-instructions-but-slower.diff": patch("i=0; while [ $i -lt 400 ]; do i=$((i+1)); done; sleep 0.3\n"),
                "patches/02-fewer-instructions-and-faster.diff": patch("i=0; while [ $i -lt 400 ]; do i=$((i+1)); done\n"),
            ], label: "confirmwall")
        defer { fixture.remove() }
        let (summary, workspace) = try await runLoop(fixture)
        let byName = Dictionary(uniqueKeysWithValues: try workspace.store.candidates(loop: "tiny").map { ($0.source, $0) })
        let slower = try #require(byName["01-fewer-instructions-but-slower.diff"])
        #expect(slower.outcome == .rejected, "\(slower.reason ?? "")")
        #expect(slower.reason?.hasPrefix("not confirmed by wall time: rejected after") == true, "\(slower.reason ?? "")")
        let faster = try #require(byName["02-fewer-instructions-and-faster.diff"])
        #expect(faster.outcome == .accepted, "\(faster.reason ?? "")")
        #expect(faster.reason?.contains("; confirmed by wall time: accepted after") == true, "\(faster.reason ?? "")")
        #expect(summary.accepted == 1)
        // The decision's numbers are the instruction counts; the wall times are stored apart.
        let samples = try workspace.store.samples(candidate: try #require(faster.id))
        let counts = samples.filter { $0.benchmark == nil && !$0.warmup }
        let times = samples.filter { $0.benchmark == "wall time (confirmation round)" && !$0.warmup }
        #expect(!counts.isEmpty && counts.allSatisfy { $0.value > 100_000 })
        #expect(!times.isEmpty && times.allSatisfy { $0.value < 5 })
        #expect(times.contains { $0.arm == .baseline && $0.value >= 0.1 })
        #expect((faster.estimate ?? 0) > 0.2 && (faster.estimate ?? 0) < 1.5, "instruction effect, not the 30x wall-time one")
    }

    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/valgrind")))
    func callgrindCountsInstructions() async throws {
        let config = TinyWorkspace.config(kinds: #"["tuner"]"#)
            .replacingOccurrences(of: "source = \"regex\"\npattern = 'score: (\\d+)'", with: "source = \"callgrind\"")
            .replacingOccurrences(of: "warmup = 1", with: "warmup = 0\naa_pairs = 0\nconfirm = false")
        let fixture = try TinyWorkspace.make(config: config)
        defer { fixture.remove() }
        // A bench whose work grows with the knob: fewer instructions with a bigger speed.
        try fixture.commit(
            files: ["bench.sh": #"s=$(sed -n 's/^speed = //p' src/config.txt); i=0; while [ $i -lt $((4000 / s)) ]; do i=$((i+1)); done"# + "\n"],
            message: "instruction-bound bench")
        let (_, workspace) = try await runLoop(fixture, options: RunOptions(maxIterations: 1))
        let first = try #require(try workspace.store.candidates(loop: "tiny").first)
        #expect(first.outcome == .accepted, "\(first.reason ?? "")")
        let samples = try workspace.store.samples(candidate: try #require(first.id)).filter { !$0.warmup }
        // Instruction counts, not seconds: large and identical run to run for the same code.
        #expect(samples.allSatisfy { $0.value > 100_000 })
        let baseline = Set(samples.filter { $0.arm == .baseline }.map(\.value))
        #expect(baseline.count <= 2, "\(baseline)")
    }

    @Test func driftCheckMeasuresTheBaseAgainstTheBest() async throws {
        let fixture = try TinyWorkspace.make(
            config: TinyWorkspace.config(kinds: #"["tuner"]"#).replacingOccurrences(of: "warmup = 1", with: "warmup = 1\ndrift_every = 2"))
        defer { fixture.remove() }
        let (_, workspace) = try await runLoop(fixture)
        let drift = try #require(try workspace.audit.entries(loop: "tiny").first { $0.kind == "drift_check" })
        // speed 1 → 2 was accepted first: the best is measured twice as good as the base.
        #expect(drift.fields["measured"] == "1.0000")
        #expect(drift.fields["claimed"] == "1.0000")
        #expect(drift.fields["lower"] == "1.0000" && drift.fields["upper"] == "1.0000")
        #expect(drift.fields["drifted"] == "false")
    }

    /// The base now measures as fast as the best (here: the reference slot reads 600, not
    /// 1200): the +100% the accepts claimed is gone, and the check says so.
    @Test func driftCheckFlagsAClaimThatNoLongerHolds() async throws {
        let fixture = try TinyWorkspace.make(config: TinyWorkspace.driftingConfig())
        defer { fixture.remove() }
        let (_, workspace) = try await runLoop(fixture)
        let entry = try #require(try workspace.audit.entries(loop: "tiny").first { $0.kind == "drift_check" })
        let check = try #require(DriftCheck(entry))
        #expect(check.drifted, "\(entry.fields)")
        #expect(check.claimed == 1 && check.measured == 0)
        #expect(check.message == "the accepts claimed +100.0%; the best measures +0.0% [+0.0%, +0.0%] against the base (6 pairs)")
        let report = try MorningReport.build(
            sources: [
                ReportSource(
                    loop: "tiny", store: workspace.store, audit: workspace.audit, stateDirectory: workspace.stateDirectory, config: workspace.config)
            ],
            since: Date().addingTimeInterval(-3600), until: Date().addingTimeInterval(60), baseURL: nil)
        #expect(report.alerts.contains { $0.kind == "drift" && $0.message == check.message })
        #expect(report.markdown().contains("⚠ drift"))
    }
}
