import Core
import Execution
import Foundation
import Git
import Store

extension LoopRunner {
    enum Measured {
        case decided(DecisionReport)
        case failed(String)
        case rejected(RejectionKind, String)
    }

    /// What one benchmark run gave: the objective, each constraint, the output.
    struct RunValues {
        var objective: Double
        var constraints: [Double]
        /// One value per `[[benchmark]]`, in config order.
        var extras: [Double] = []
        var output: String
        var wall: Double
        var spoiled: Bool
    }

    /// The `benchmark` name of samples from a wall-time confirmation round.
    public static let wallTimeConfirmation = "wall time (confirmation round)"

    /// `RATCHET_ROLE` of every bench run, baseline and candidate alike: the two arms of a pair
    /// see the same environment (a variable's length alone moves the stack, and with it the
    /// timing of some programs), differing only in `RATCHET_SLOT`, whose two paths have the
    /// same length.
    static let benchRole = "bench"

    enum BenchRun {
        case values(RunValues)
        case failed(String)
    }

    /// The bench command line, under callgrind when a metric counts instructions, and under
    /// GNU time when one needs the peak memory: inside bubblewrap the sandbox's own processes
    /// stand between Ratchet and the command, so `wait4`'s rusage would not see its tree.
    func benchCommand(in slot: Slot) -> CommandSpec {
        var command = config.bench
        // The slot's path as the command sees it (a fixed mount point under bubblewrap).
        let folder = executor.sandbox.path(of: slot.directory)
        let quote = { (text: String) in "'" + text.replacingOccurrences(of: "'", with: "'\\''") + "'" }
        if config.metric.needsCallgrind {
            command.run =
                "valgrind --tool=callgrind --trace-children=yes -q --callgrind-out-file=\(folder)/.ratchet-callgrind.%p /bin/sh -c \(quote(command.run))"
        }
        if needsPeakMemory, FileManager.default.isExecutableFile(atPath: "/usr/bin/time") {
            command.run = "/usr/bin/time -f %M -o \(quote(folder + "/.ratchet-maxrss")) /bin/sh -c \(quote(command.run))"
        }
        return command
    }

    var needsPeakMemory: Bool {
        config.metric.source == .peakMemory || config.metric.constraints.contains { $0.source == .peakMemory }
    }

    func callgrindFiles(in slot: Slot) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: slot.directory)) ?? [])
            .filter { $0.hasPrefix(".ratchet-callgrind.") }.map { slot.directory + "/" + $0 }
    }

    /// One benchmark run in `slot`, reduced to the metrics' values.
    /// `seed` reaches the command as `RATCHET_BENCH_SEED`, the same for both sides of a pair
    /// and new for every pair, so a bench can draw inputs a candidate cannot special-case.
    /// With `plain`, the bench command runs as written (not under callgrind or GNU time)
    /// and the objective is its wall time: the confirmation round of `confirm_with = "wall_time"`.
    func benchOnce(_ slot: Slot, role: String, step: StepRecord?, seed: UInt32 = 0, plain: Bool = false) async throws -> BenchRun {
        if plain {
            let result = try await runCommand(config.bench, in: slot, role: Self.benchRole, step: step, extra: ["RATCHET_BENCH_SEED": String(seed)])
            if result.stopped { throw Interrupted(reason: options.stop.reason ?? "stopped") }
            guard result.succeeded else {
                return .failed("\(role) benchmark failed when timed plainly (\(result.summary)): \(result.tail(lines: 5))")
            }
            return .values(
                RunValues(objective: result.wallSeconds, constraints: [], output: result.output, wall: result.wallSeconds, spoiled: result.wasPaused))
        }
        let sources = [config.metric.source] + config.metric.constraints.map(\.source)
        var files: [String] = []
        for source in sources {
            switch source {
            case .json(_, let file?): files.append(file)
            case .hyperfine(let file): files.append(file)
            default: break
            }
        }
        for file in files { unlink(slot.directory + "/" + file) }
        for file in callgrindFiles(in: slot) { unlink(file) }
        let maxRSSFile = slot.directory + "/.ratchet-maxrss"
        unlink(maxRSSFile)
        // The files this run makes for Ratchet to read stay until read (and are removed before the next run).
        let metricFiles = Set(files)
        let keep = { (path: String) in metricFiles.contains(path) || path.hasPrefix(".ratchet-callgrind.") || path == ".ratchet-maxrss" }
        var result = try await runCommand(
            benchCommand(in: slot), in: slot, role: Self.benchRole, step: step, extra: ["RATCHET_BENCH_SEED": String(seed)], keep: keep)
        defer { for file in files { unlink(slot.directory + "/" + file) } }
        if let text = try? String(contentsOfFile: maxRSSFile, encoding: .utf8),
            let kilobytes = text.split(whereSeparator: \.isNewline).last.flatMap({ Int($0.trimmingCharacters(in: .whitespaces)) })
        {
            result.peakMemoryBytes = kilobytes * 1024
            unlink(maxRSSFile)
        }
        if result.stopped { throw Interrupted(reason: options.stop.reason ?? "stopped") }
        guard result.succeeded else {
            return .failed("\(role) benchmark failed (\(result.summary)): \(result.tail(lines: 5))")
        }
        var instructions: Double?
        if config.metric.needsCallgrind {
            let outputs = callgrindFiles(in: slot).compactMap { try? String(contentsOfFile: $0, encoding: .utf8) }
            instructions = MetricExtractor.callgrindInstructions(outputs)
            for file in callgrindFiles(in: slot) { unlink(file) }
        }
        func value(_ source: MetricSource) throws(MetricError) -> Double {
            var fileText: String?
            var fileName: String?
            switch source {
            case .json(_, let file): fileName = file
            case .hyperfine(let file): fileName = file
            default: break
            }
            if let fileName {
                fileText = FileManager.default.contents(atPath: slot.directory + "/" + fileName).map { String(decoding: $0, as: UTF8.self) }
            }
            let inputs = MetricInputs(
                wallSeconds: result.wallSeconds, output: result.output, file: fileText, peakMemoryBytes: result.peakMemoryBytes,
                instructions: instructions)
            return try MetricExtractor.value(source: source, inputs: inputs)
        }
        var values: RunValues
        do {
            let objective = try value(config.metric.source)
            var constraints: [Double] = []
            for constraint in config.metric.constraints { constraints.append(try value(constraint.source)) }
            values = RunValues(
                objective: objective, constraints: constraints, output: result.output, wall: result.wallSeconds, spoiled: result.wasPaused)
        } catch {
            return .failed("\(role) benchmark: \(error.message)")
        }
        for extra in config.benchmarks {
            let run = try await runCommand(extra.command, in: slot, role: Self.benchRole, step: step, extra: ["RATCHET_BENCH_SEED": String(seed)])
            if run.stopped { throw Interrupted(reason: options.stop.reason ?? "stopped") }
            guard run.succeeded else { return .failed("\(role) benchmark '\(extra.name)' failed (\(run.summary)): \(run.tail(lines: 5))") }
            do {
                values.extras.append(
                    try MetricExtractor.value(
                        source: extra.source,
                        inputs: MetricInputs(wallSeconds: run.wallSeconds, output: run.output, peakMemoryBytes: run.peakMemoryBytes)))
            } catch {
                return .failed("\(role) benchmark '\(extra.name)': \(error.message)")
            }
            values.spoiled = values.spoiled || run.wasPaused
        }
        return .values(values)
    }

    /// The pair the decision rule sees (the Core pipeline's rule: the main benchmark's, or the
    /// weighted combined gain with `[[benchmark]]`s), for the A/A and drift measurements.
    func decisionPair(_ baseline: RunValues, _ candidate: RunValues) -> SamplePair {
        DecisionPipeline.decisionPair(
            MeasuredPair(baseline: baseline.sample, candidate: candidate.sample), metric: config.metric, benchmarks: config.benchmarks)
    }

    /// Interleaved baseline/candidate runs, in random order within each pair, for as long as
    /// the Core `DecisionPipeline` asks (the decision, then a confirmation round for an
    /// accept), after the configured warm-ups of each round that has them. Every run is
    /// stored as a sample; a pair with a run that spanned a pause is stored as discarded and
    /// measured again. The outcome, verdict and reason are the pipeline's.
    func measure(_ candidate: inout CandidateRecord, step: StepRecord) async throws -> Measured {
        var pipeline = DecisionPipeline(metric: config.metric, benchmarks: config.benchmarks, calibration: calibration)
        let id = candidate.id ?? 0
        var rng = SplitMix64(seed: config.seed ^ UInt64(bitPattern: id) &* 0x9E37_79B9)
        let arms: [(name: Arm, slot: Slot)] = [(.baseline, baselineSlot), (.candidate, candidateSlot)]

        var pairNumber = 0
        var started: DecisionPipeline.Round?
        var attempts = 0
        while case .measure(let round) = pipeline.next {
            // Another lane waiting to measure takes its turn between two pairs (not between a
            // round's warm-ups and its first pair).
            if pairNumber > 0 { try await shareMeasurementTurn() }
            let plain = round.isWallTime
            // Samples of the wall-time round are stored under their own name, apart from the objective's.
            let label: String? = plain ? Self.wallTimeConfirmation : nil
            if started != round {
                if round != .decide { emit(.note(round.announcement)) }
                started = round
                attempts = 0
                if round.warmsUp {
                    for warm in 0..<config.metric.warmup {
                        for (position, arm) in arms.enumerated() {
                            switch try await benchOnce(arm.slot, role: arm.name.rawValue, step: step, plain: plain) {
                            case .failed(let reason): return .failed(reason)
                            case .values(let run):
                                try store.add(
                                    SampleRecord(
                                        candidateId: id, pair: warm, arm: arm.name, position: position, value: run.objective, wallSeconds: run.wall,
                                        warmup: true, benchmark: label))
                            }
                        }
                    }
                }
            }
            guard attempts < pipeline.roundPolicy.maxPairs * 3 else { return .failed("too many measurements were spoiled by pauses") }
            attempts += 1
            if let reason = try await safePoint() { throw Interrupted(reason: reason) }
            let order = rng.next() & 1 == 0 ? [0, 1] : [1, 0]
            let seed = UInt32(truncatingIfNeeded: rng.next())
            var runs: [Int: RunValues] = [:]
            var positions: [Int: Int] = [:]
            for (position, armIndex) in order.enumerated() {
                switch try await benchOnce(arms[armIndex].slot, role: arms[armIndex].name.rawValue, step: step, seed: seed, plain: plain) {
                case .failed(let reason): return .failed(reason)
                case .values(let run):
                    runs[armIndex] = run
                    positions[armIndex] = position
                }
            }
            guard let base = runs[0], let cand = runs[1] else { continue }
            let spoiled = base.spoiled || cand.spoiled
            for (armIndex, run) in [(0, base), (1, cand)] {
                try store.add(
                    SampleRecord(
                        candidateId: id, pair: pairNumber, arm: arms[armIndex].name, position: positions[armIndex] ?? 0, value: run.objective,
                        wallSeconds: run.wall, warmup: spoiled, benchmark: label))
                for (index, value) in run.extras.enumerated() where index < config.benchmarks.count {
                    try store.add(
                        SampleRecord(
                            candidateId: id, pair: pairNumber, arm: arms[armIndex].name, position: positions[armIndex] ?? 0, value: value,
                            wallSeconds: 0, warmup: spoiled, benchmark: config.benchmarks[index].name))
                }
            }
            pairNumber += 1
            if spoiled {
                emit(.note("pair spanned a pause: discarded, measuring again"))
                continue
            }
            pipeline.add(MeasuredPair(baseline: base.sample, candidate: cand.sample))
            if case .done(.failed) = pipeline.next {
            } else if let report = pipeline.report {
                emit(
                    .sample(
                        sequence: candidate.sequence, pair: report.pairs, baseline: base.objective, candidate: cand.objective,
                        estimate: report.pairs >= 2 ? report.estimate : nil))
            }
        }
        guard case .done(let outcome) = pipeline.next else { return .failed("no measurement") }
        switch outcome {
        case .decided(let report): return .decided(report)
        case .rejected(let kind, let reason): return .rejected(kind, reason)
        case .failed(let reason): return .failed(reason)
        }
    }

    // MARK: Noise floor and drift

    enum SidePairs {
        case pairs([SamplePair])
        case failed(Slot, String)
    }

    /// The configured warm-ups, then `count` pairs of one bench run in each of two slots, in
    /// random order within each pair (seeded from the loop's seed and `seed`). A pair with a
    /// run that spanned a pause is measured again, up to 3 × `count` attempts. The pairs are
    /// (first, second) as the decision sees them; the first failing run ends it.
    func interleavedPairs(
        _ first: (slot: Slot, role: String), _ second: (slot: Slot, role: String), count: Int, seed: UInt64, step: StepRecord?
    ) async throws -> SidePairs {
        for _ in 0..<config.metric.warmup {
            for arm in [first, second] {
                if case .failed(let reason) = try await benchOnce(arm.slot, role: arm.role, step: step) { return .failed(arm.slot, reason) }
            }
        }
        var rng = SplitMix64(seed: config.seed ^ seed)
        var pairs: [SamplePair] = []
        var attempts = 0
        while pairs.count < count && attempts < count * 3 {
            attempts += 1
            if let reason = try await safePoint() { throw Interrupted(reason: reason) }
            var runs: [RunValues?] = [nil, nil]
            for index in rng.next() & 1 == 0 ? [0, 1] : [1, 0] {
                let arm = index == 0 ? first : second
                switch try await benchOnce(arm.slot, role: arm.role, step: step) {
                case .failed(let reason): return .failed(arm.slot, reason)
                case .values(let run): runs[index] = run
                }
            }
            guard let a = runs[0], let b = runs[1], !a.spoiled, !b.spoiled else { continue }
            pairs.append(decisionPair(a, b))
        }
        return .pairs(pairs)
    }

    /// Measures the best against itself across the two slots (A/A: the best code built in
    /// the baseline slot against the same code built in the candidate slot, in random
    /// order within each pair) and raises the minimum effect by the slot bias it shows,
    /// once per best commit. A calibration in the audit log for the same best commit and
    /// the same slot roles is reused (a restart, or the daemon's next window, does not
    /// measure again). Returns whether it measured: then the candidate slot holds the best.
    func calibrateNoise(step: StepRecord?) async throws -> Bool {
        guard config.metric.aaPairs > 0, !adoptStoredCalibration() else { return false }
        try sync(candidateSlot, to: bestTree)
        if let build = config.build {
            let result = try await runCommand(build, in: candidateSlot, role: "candidate", step: step, phase: .build)
            if result.stopped { throw Interrupted(reason: options.stop.reason ?? "stopped") }
            guard result.succeeded else { throw slotsDisagree(result) }
        }
        try await measureCalibration(step: step)
        return true
    }

    /// The best builds in the baseline slot but not in the candidate slot.
    func slotsDisagree(_ result: CommandResult, in slot: Slot? = nil) -> RunnerError {
        RunnerError(
            .baselineFailed,
            "the best code (\(bestCommit.short)) builds in \(baselineSlot.directory) but not in \((slot ?? candidateSlot).directory) "
                + "(\(result.summary)), so the two slots cannot be compared: \(result.tail(lines: 5))")
    }

    /// Whether the A/A calibration for the best is in force: measured in this lane, or found
    /// in the audit log (measured before for this best commit, in these slots or, when all
    /// slots run at one mount point, in any lane).
    func adoptStoredCalibration() -> Bool {
        if noiseCalibratedTree == bestTree { return true }
        if let stored = try? audit.recent(limit: 1, loop: config.name, kinds: ["calibration"]).last,
            stored.fields["best"] == bestCommit.hex,
            slotsShareOneMount || (stored.fields["baseline_slot"] == String(baselineIndex) && stored.fields["lane"] == laneField),
            let pairs = stored.fields["aa_pairs"].flatMap({ Int($0) }), let bias = stored.fields["slot_bias"].flatMap({ Double($0) }),
            let error = stored.fields["standard_error"].flatMap({ Double($0) }), let floor = stored.fields["noise_floor"].flatMap({ Double($0) })
        {
            calibration = NoiseFloor(pairs: pairs, trimmed: stored.fields["trimmed"] == "true", bias: bias, standardError: error, floor: floor)
            noiseCalibratedTree = bestTree
            emit(.note("A/A across the slots, as measured before for this best commit: " + (calibration?.summary ?? "")))
            return true
        }
        return false
    }

    /// The A/A pairs across the two slots, both holding the best and built, and the noise
    /// floor they give (audited, and kept for this best).
    /// `against`: the slot holding the second copy of the best (the candidate slot unless given).
    func measureCalibration(step: StepRecord?, against slot: Slot? = nil) async throws {
        let pairs: [SamplePair]
        switch try await interleavedPairs(
            (baselineSlot, "baseline"), (slot ?? candidateSlot, "candidate"), count: config.metric.aaPairs, seed: 0xA11A_A11A, step: step)
        {
        case .failed(let slot, let reason): throw RunnerError(.baselineFailed, "the best code's benchmark fails in \(slot.directory): \(reason)")
        case .pairs(let measured): pairs = measured
        }
        guard pairs.count >= 2 else {
            throw RunnerError(
                .baselineFailed, "the A/A calibration got \(pairs.count) usable pair(s) of \(config.metric.aaPairs): too many runs spanned a pause")
        }
        let measured = SequentialDecision.noiseFloor(aaPairs: pairs, direction: config.metric.decision.direction)
        // Both slots hold the same commit, checked file by file: a bias far beyond what a
        // measurement set-up can explain means they do not run the same code. That is an
        // error to fix, not a correction to absorb into the minimum effect.
        let limit = NoiseFloor.setUpLimit(minEffect: config.metric.decision.minEffect)
        if measured.isSetUpError(minEffect: config.metric.decision.minEffect) {
            try audit.append(
                loop: config.name, kind: "calibration_failed",
                [
                    "best": bestCommit.hex, "slot_bias": String(format: "%.4f", measured.bias),
                    "standard_error": String(format: "%.4f", measured.standardError),
                ])
            throw RunnerError(
                .baselineFailed,
                "the two slots measure \(Format.percent(measured.bias)) apart (± \(Format.percent(measured.standardError)) over \(measured.pairs) A/A pairs) "
                    + "running the same commit \(bestCommit.short): beyond the \(Format.percent(limit)) a measurement set-up may differ by, so they are not "
                    + "measuring the same code; \(slotDifferences()). Make the build and the bench depend only on the files (not on the folder they run in), then run again"
            )
        }
        calibration = measured
        noiseCalibratedTree = bestTree
        var fields = [
            "best": bestCommit.hex, "baseline_slot": String(baselineIndex), "aa_pairs": String(measured.pairs), "trimmed": String(measured.trimmed),
            "slot_bias": String(format: "%.4f", measured.bias), "standard_error": String(format: "%.4f", measured.standardError),
            "noise_floor": String(format: "%.4f", measured.floor),
        ]
        if let laneField { fields["lane"] = laneField }
        try audit.append(loop: config.name, kind: "calibration", fields)
        emit(.note("A/A across the slots: " + measured.summary))
        let minimum = measured.minimumEffect(configured: config.metric.decision.minEffect)
        if minimum > config.metric.decision.minEffect {
            emit(
                .note(
                    "the minimum effect is \(Format.percent(minimum)) with this slot bias (min_effect \(Format.percent(config.metric.decision.minEffect)))"
                ))
        }
    }

    /// Under bubblewrap every slot of every lane runs at one mount point, so nothing of a
    /// slot's identity reaches the program: an A/A calibration for the best commit holds for
    /// every pair of slots, and one lane's is every lane's (another node's is not: a Slurm
    /// worker calibrates on its own node).
    var slotsShareOneMount: Bool { executor.sandbox.bubblewrap != nil && executor.sandbox.mountPoint != nil }

    /// The lane an A/A calibration was measured in (its slots): `nil` for the first lane, as
    /// calibrations were recorded before there were lanes.
    var laneField: String? { lane == 0 ? nil : String(lane) }
}

extension LoopRunner.RunValues {
    /// The run as the Core decision sees it.
    var sample: RunSample {
        RunSample(objective: objective, constraints: constraints, extras: extras, output: output)
    }
}
