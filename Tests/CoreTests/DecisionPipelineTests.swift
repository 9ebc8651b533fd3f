import Foundation
import Testing

@testable import Core

/// The whole decision as the loop runs it, fed pairs by hand: no processes.
@Suite struct DecisionPipelineTests {
    private func metric(
        minEffect: Double = 0.01, confidence: Double = 0.99, confirm: Bool = true, confirmWith: ConfirmMetric = .same,
        constraints: [ConstraintSpec] = [], outputsMustMatch: Bool = false
    ) -> MetricSpec {
        var metric = MetricSpec(
            source: .wallTime,
            decision: DecisionPolicy(direction: .lower, minEffect: minEffect, confidence: confidence, minPairs: 3, maxPairs: 30), warmup: 0)
        metric.confirm = confirm
        metric.confirmWith = confirmWith
        metric.constraints = constraints
        metric.outputsMustMatch = outputsMustMatch
        return metric
    }

    /// A pair whose candidate is `gain` better (log scale, lower is better), with extras.
    private func pair(_ gain: Double, constraint: Double? = nil, extras: [Double] = [], output: String? = nil) -> MeasuredPair {
        MeasuredPair(
            baseline: RunSample(objective: 100, constraints: constraint.map { _ in [1000] } ?? [], extras: extras.map { _ in 10 }, output: output),
            candidate: RunSample(
                objective: 100 * exp(-gain), constraints: constraint.map { [1000 * (1 + $0)] } ?? [], extras: extras.map { 10 * exp(-$0) },
                output: output))
    }

    /// Gains around `center` with a small alternating scatter.
    private func gains(_ center: Double, count: Int, scatter: Double = 0.01) -> [Double] {
        (0..<count).map { center + scatter * [0.5, -0.3, 0.8, -0.6, 0.1, -0.4, 0.3, -0.2][$0 % 8] }
    }

    /// Feeds pairs until the pipeline stops asking for the round it is in; returns the rounds seen.
    @discardableResult
    private func feed(_ pipeline: inout DecisionPipeline, _ source: (DecisionPipeline.Round, Int) -> MeasuredPair) -> [DecisionPipeline.Round] {
        var rounds: [DecisionPipeline.Round] = []
        while case .measure(let round) = pipeline.next, rounds.count < 200 {
            if rounds.last != round { rounds.append(round) }
            pipeline.add(source(round, pipeline.pairsInRound))
        }
        return rounds
    }

    private func report(_ pipeline: DecisionPipeline) throws -> DecisionReport {
        guard case .done(.decided(let report)) = pipeline.next else {
            Issue.record("not decided: \(pipeline.next)")
            throw DecisionError.invalidPolicy("not decided")
        }
        return report
    }

    // MARK: - Rounds

    @Test func anAcceptIsConfirmedByAFreshRound() throws {
        var pipeline = DecisionPipeline(metric: metric(), calibration: nil)
        #expect(pipeline.next == .measure(.decide))
        let rounds = feed(&pipeline) { _, index in pair(gains(0.10, count: 30)[index]) }
        #expect(rounds == [.decide, .confirm])
        let report = try report(pipeline)
        #expect(report.verdict == .accept)
        #expect(report.reason.hasPrefix("confirmed: accepted after "), "\(report.reason)")
        #expect(report.reason.contains("(90% lower bound"), "the fresh round decides at confirm_confidence: \(report.reason)")
        #expect(report.reason.contains(" (first round: +10.6% ["), "\(report.reason)")
        #expect(!report.reason.contains("minimum raised"))
    }

    @Test func aWinnersCurseIsNotConfirmed() throws {
        var pipeline = DecisionPipeline(metric: metric(), calibration: nil)
        let rounds = feed(&pipeline) { round, index in pair(round == .decide ? gains(0.10, count: 30)[index] : gains(-0.05, count: 30)[index]) }
        #expect(rounds == [.decide, .confirm])
        let report = try report(pipeline)
        #expect(report.verdict == .reject)
        #expect(report.reason.hasPrefix("not confirmed by a fresh round: rejected after"), "\(report.reason)")
        #expect(report.reason.contains("; the first round had +10."), "\(report.reason)")
    }

    /// The decision spends its whole false-accept budget; a confirmation round keeps Ville's
    /// level, so it stays the stricter check on a winner's curse.
    @Test func onlyTheDecisionRoundIsCalibratedToItsLooks() throws {
        var pipeline = DecisionPipeline(metric: metric(), calibration: nil)
        let decide = DecisionPipeline.rule(.decide, pipeline.policy(for: .decide))
        let confirm = DecisionPipeline.rule(.confirm, pipeline.policy(for: .confirm))
        let wall = DecisionPipeline.rule(.wallTimeConfirm, pipeline.policy(for: .wallTimeConfirm))
        #expect(decide.calibratedToLooks)
        #expect(!confirm.calibratedToLooks && !wall.calibratedToLooks)
        #expect(abs(confirm.level + log(0.1 * (1 - DecisionPolicy.outlierShare))) < 1e-12)
        // The round the pipeline runs uses those critical values.
        feed(&pipeline) { round, index in round == .decide ? pair(gains(0.10, count: 30)[index]) : pair(0.10) }
        #expect(pipeline.roundPolicy.confidence == 0.9)
    }

    @Test func withoutConfirmationOneRoundDecides() throws {
        var pipeline = DecisionPipeline(metric: metric(confirm: false), calibration: nil)
        let rounds = feed(&pipeline) { _, index in pair(gains(0.10, count: 30)[index]) }
        #expect(rounds == [.decide])
        let report = try report(pipeline)
        #expect(report.verdict == .accept && report.reason.hasPrefix("accepted after"))
        // A reject needs no confirmation either.
        var worse = DecisionPipeline(metric: metric(), calibration: nil)
        #expect(feed(&worse) { _, index in pair(gains(-0.10, count: 30)[index]) } == [.decide])
        #expect(try self.report(worse).verdict == .reject)
    }

    @Test func wallTimeConfirmsAnInstructionCountDecision() throws {
        let spec = metric(confirmWith: .wallTime)
        var pipeline = DecisionPipeline(metric: spec, calibration: nil)
        let wall = pipeline.policy(for: .wallTimeConfirm)
        #expect(wall.minEffect == 0 && wall.maxPairs == 30 && wall.minPairs == 3 && wall.confidence == 0.9 && wall.direction == .lower)
        #expect(DecisionPipeline.Round.wallTimeConfirm.warmsUp && !DecisionPipeline.Round.confirm.warmsUp)
        // Counts: exactly 50% fewer instructions; wall time: 20% faster with scatter.
        let rounds = feed(&pipeline) { round, index in
            round == .decide
                ? MeasuredPair(baseline: RunSample(objective: 2e6), candidate: RunSample(objective: 1e6))
                : pair(gains(0.2, count: 30, scatter: 0.03)[index])
        }
        #expect(rounds == [.decide, .wallTimeConfirm])
        let report = try report(pipeline)
        #expect(report.verdict == .accept)
        #expect(abs(report.estimate - 1) < 1e-9, "the estimate stays the instruction count's: \(report.estimate)")
        #expect(report.reason.hasPrefix("accepted after 3 pairs: every pair measured +100.0%"), "\(report.reason)")
        #expect(report.reason.contains("; confirmed by wall time: accepted after"), "\(report.reason)")

        var slower = DecisionPipeline(metric: spec, calibration: nil)
        feed(&slower) { round, index in
            round == .decide
                ? MeasuredPair(baseline: RunSample(objective: 2e6), candidate: RunSample(objective: 1e6))
                : pair(gains(-0.5, count: 30, scatter: 0.03)[index])
        }
        let refused = try self.report(slower)
        #expect(refused.verdict == .reject)
        #expect(refused.reason.hasPrefix("not confirmed by wall time: rejected after"), "\(refused.reason)")
        #expect(refused.reason.contains("; the objective had: accepted after 3 pairs"), "\(refused.reason)")
    }

    // MARK: - After the rounds

    @Test func aConstraintThatGetsTooMuchWorseRejects() throws {
        let memory = ConstraintSpec(name: "memory", source: .peakMemory, direction: .lower, maxRegression: 0.05)
        var pipeline = DecisionPipeline(metric: metric(constraints: [memory]), calibration: nil)
        feed(&pipeline) { _, index in pair(gains(0.10, count: 30)[index], constraint: 0.10) }
        guard case .done(.rejected(let kind, let reason)) = pipeline.next else {
            Issue.record("\(pipeline.next)")
            return
        }
        #expect(kind == .constraint)
        #expect(reason.hasPrefix("constraint memory (peak_memory): 9.1% worse, the limit is 5.0%; objective: confirmed: accepted after"), "\(reason)")
        // Within its limit it does not stand in the way.
        var within = DecisionPipeline(metric: metric(constraints: [memory]), calibration: nil)
        feed(&within) { _, index in pair(gains(0.10, count: 30)[index], constraint: 0.02) }
        #expect(try report(within).verdict == .accept)
    }

    @Test func severalBenchmarksCombineAndAnyRegressionRefuses() throws {
        let extra = BenchmarkSpec(name: "parse", command: CommandSpec(run: "x", timeout: 1), source: .wallTime, direction: .lower, weight: 1)
        var pipeline = DecisionPipeline(metric: metric(), benchmarks: [extra], calibration: nil)
        // Main +40%, parse -10%: combined about +15%, but parse regressed significantly.
        feed(&pipeline) { _, index in pair(gains(0.40, count: 30)[index], extras: [gains(-0.10, count: 30)[index]]) }
        guard case .done(.rejected(let kind, let reason)) = pipeline.next else {
            Issue.record("\(pipeline.next)")
            return
        }
        #expect(kind == .notBetter)
        #expect(reason.hasPrefix("combined gain, but a significant regression on parse -9.3% (upper bound "), "\(reason)")
        #expect(reason.contains("; combined: confirmed: accepted after"), "\(reason)")

        var both = DecisionPipeline(metric: metric(), benchmarks: [extra], calibration: nil)
        feed(&both) { _, index in pair(gains(0.10, count: 30)[index], extras: [gains(0.05, count: 30)[index]]) }
        let report = try report(both)
        #expect(report.verdict == .accept)
        #expect(report.reason.hasPrefix("combined over 2 benchmarks: confirmed: "), "\(report.reason)")
        #expect(abs(report.estimate - expm1(0.075)) < 0.01, "the weighted mean of +10% and +5% in logs: \(report.estimate)")
    }

    @Test func differingOutputsRejectOnTheFirstPair() {
        var pipeline = DecisionPipeline(metric: metric(outputsMustMatch: true), calibration: nil)
        let next = pipeline.add(
            MeasuredPair(
                baseline: RunSample(objective: 10, output: "result 42\nok"), candidate: RunSample(objective: 5, output: "result 41\nok")))
        #expect(next == .done(.rejected(.outputMismatch, "bench output differs from the best's at line 1: expected 'result 42', got 'result 41'")))
        var same = DecisionPipeline(metric: metric(outputsMustMatch: true), calibration: nil)
        #expect(
            same.add(MeasuredPair(baseline: RunSample(objective: 10, output: "a"), candidate: RunSample(objective: 5, output: "a")))
                == .measure(.decide))
    }

    @Test func unusableSamplesFailNamingThePair() {
        var pipeline = DecisionPipeline(metric: metric(), calibration: nil)
        pipeline.add(pair(0.1))
        let next = pipeline.add(MeasuredPair(baseline: RunSample(objective: 0), candidate: RunSample(objective: 1)))
        guard case .done(.failed(let reason)) = next else {
            Issue.record("\(next)")
            return
        }
        #expect(reason.hasPrefix("benchmark values cannot be compared: pair 2 has a sample of 0.0"), "\(reason)")
    }

    // MARK: - The A/A tripwire

    @Test func aBiasWithinNoiseLeavesTheMinimumAlone() throws {
        // +0.8% with a standard error of 1.3% over 9 pairs: noise.
        let noise = NoiseFloor(pairs: 9, trimmed: true, bias: 0.008, standardError: 0.013, floor: 0.021)
        #expect(!noise.isBeyondNoise)
        #expect(noise.minimumEffect(configured: 0.01) == 0.01)
        var pipeline = DecisionPipeline(metric: metric(), calibration: noise)
        #expect(pipeline.minimumEffect == 0.01)
        feed(&pipeline) { _, index in pair(gains(0.10, count: 30)[index]) }
        #expect(try !report(pipeline).reason.contains("minimum raised"))
        // A bias against the candidate slot never raises it either.
        #expect(NoiseFloor(pairs: 9, trimmed: true, bias: -0.05, standardError: 0.001, floor: 0).minimumEffect(configured: 0.01) == 0.01)
    }

    @Test func aBiasBeyondNoiseIsPaidInFull() throws {
        // +5% with a standard error of 0.5% over 9 pairs (trimmed: the limit is 2.90 x 1.395 = 4.0 s.e.).
        let biased = NoiseFloor(pairs: 9, trimmed: true, bias: 0.05, standardError: 0.005, floor: 0.0553)
        #expect(biased.isBeyondNoise)
        let expected = 1.01 * 1.05 * exp(0.005) - 1
        #expect(abs(biased.minimumEffect(configured: 0.01) - expected) < 1e-12)
        // Just inside the limit it is noise: 3.9 s.e. trimmed, but 3.9 > 2.90 untrimmed.
        let edge = NoiseFloor(pairs: 9, trimmed: true, bias: expm1(0.039), standardError: 0.01, floor: 0)
        #expect(!edge.isBeyondNoise)
        #expect(NoiseFloor(pairs: 9, trimmed: false, bias: expm1(0.039), standardError: 0.01, floor: 0).isBeyondNoise)
        // Deterministic: any bias is beyond noise; 1% on top of 5%.
        let exact = NoiseFloor(pairs: 3, trimmed: false, bias: 0.05, standardError: 0, floor: 0.05)
        #expect(abs(exact.minimumEffect(configured: 0.01) - 0.0605) < 1e-12)
        #expect(!NoiseFloor(pairs: 3, trimmed: false, bias: 0, standardError: 0, floor: 0).isBeyondNoise)

        var pipeline = DecisionPipeline(metric: metric(), calibration: biased)
        #expect(abs(pipeline.minimumEffect - expected) < 1e-12)
        feed(&pipeline) { _, index in pair(gains(0.20, count: 30)[index]) }
        let report = try report(pipeline)
        #expect(report.verdict == .accept)
        // The decision's own scatter (about 0.5%) is pooled into the bias's standard error.
        #expect(report.threshold > 0.06 && report.threshold < expected + 0.002, "\(report.threshold)")
        #expect(
            report.reason.hasSuffix(
                "(minimum raised from +1.0% by the A/A slot bias +5.0% +/- 0.5% over 9 A/A pairs (most extreme left out): floor +5.5%)"),
            "\(report.reason)")
    }

    @Test func theDecisionsOwnScatterSharpensTheTripwire() {
        // +4% at 1.3% s.e. (3 s.e.) over 9 A/A pairs is within the A/A-only limit (4 s.e.);
        // pooled with 20 decision pairs of the same 4% scatter, the limit is 2.8 s.e.: beyond it.
        let bias = NoiseFloor(pairs: 9, trimmed: true, bias: expm1(0.04), standardError: 0.04 / 3, floor: 0)
        #expect(!bias.isBeyondNoise)
        let scatter = Statistics.Summary(gains(0.0, count: 20, scatter: 0.04 / 0.5))
        #expect(bias.isBeyondNoise(pooledWith: scatter))
        #expect(bias.minimumEffect(configured: 0.01, pooledWith: scatter) > 0.06)
        // Noise stays noise.
        let noise = NoiseFloor(pairs: 9, trimmed: true, bias: 0.005, standardError: 0.04 / 3, floor: 0)
        #expect(noise.minimumEffect(configured: 0.01, pooledWith: scatter) == 0.01)
    }

    @Test func theTripwireRarelyFiresOnNoiseAndCatchesALargeBias() {
        var rng = Xoshiro256StarStar(seed: 41)
        func calibration(bias: Double) -> NoiseFloor {
            let pairs = (0..<10).map { _ in
                SamplePair(
                    baseline: Statistics.logNormalNoise(cv: 0.03, using: &rng),
                    candidate: Statistics.logNormalNoise(cv: 0.03, using: &rng) / (1 + bias))
            }
            return SequentialDecision.noiseFloor(aaPairs: pairs, direction: .lower)
        }
        let none = (0..<1000).filter { _ in calibration(bias: 0).isBeyondNoise }.count
        #expect(none <= 25, "no bias: beyond noise in \(none) of 1000 calibrations (about 1% by design)")
        let large = (0..<300).filter { _ in calibration(bias: 0.08).isBeyondNoise }.count
        #expect(large >= 270, "an 8% bias (6 s.e.): beyond noise in \(large) of 300")
    }

    // MARK: - The outlier screen

    @Test func aStallIsLeftOutAndTheWinStillGetsThrough() throws {
        let rule = SequentialDecision(policy: DecisionPolicy(direction: .lower, minEffect: 0.01, confidence: 0.99, minPairs: 3, maxPairs: 30))
        var values = gains(0.05, count: 16, scatter: 0.03)
        values[2] = 0.05 - log(3)  // the candidate's run stalled: 3x slower
        let samples = values.map { SamplePair(baseline: 100, candidate: 100 * exp(-$0)) }
        #expect(rule.outliers(values) == [2])
        let report = try rule.evaluate(samples)
        #expect(report.verdict == .accept, "\(report.reason)")
        #expect(report.pairs == 16)
        #expect(report.reason.hasSuffix("; 1 of 16 pairs left out as outliers (-65.0%)"), "\(report.reason)")
        // The stall stays in the count of pairs measured; without the screen it would sink the test.
        var clean = values
        clean.remove(at: 2)
        #expect(abs(report.estimate - expm1(clean.reduce(0, +) / 15)) < 1e-12)
    }

    @Test func theScreenLeavesGaussianDataAlmostAlwaysWhole() {
        // The screen's budget is alpha * 0.1 over every look: at 95%, 0.5% of series.
        let rule = SequentialDecision(policy: DecisionPolicy(direction: .lower, minEffect: 0, confidence: 0.95, minPairs: 3, maxPairs: 30))
        var rng = Xoshiro256StarStar(seed: 8)
        var touched = 0
        for _ in 0..<400 {
            let values = (0..<30).map { _ in 0.03 * Statistics.standardNormal(using: &rng) }
            if (4...30).contains(where: { !rule.outliers(Array(values.prefix($0))).isEmpty }) { touched += 1 }
        }
        #expect(touched <= 4, "\(touched) of 400 Gaussian series had a pair left out")
        // A deterministic metric's differing pair is real, not an outlier.
        #expect(rule.outliers([0.1, 0.1, 0.1, 0.1, 0.1, 0.5]).isEmpty)
    }

    // MARK: - Drift

    @Test func driftIsAClaimAboveTheMeasuredIntervalByMoreThanMinEffect() throws {
        let pairs = [0.50, 0.52, 0.48, 0.51, 0.49, 0.50].map { SamplePair(baseline: 1, candidate: exp(-$0)) }
        let holds = try #require(DriftMeasurement.assess(pairs: pairs, direction: .lower, confidence: 0.95, claimed: expm1(0.5)))
        #expect(!holds.drifted && holds.pairs == 6 && holds.lower < holds.measured && holds.measured < holds.upper)
        let lost = try #require(DriftMeasurement.assess(pairs: pairs, direction: .lower, confidence: 0.95, claimed: 1.0))
        #expect(lost.drifted)
        // Better than claimed is no drift; short of the claim by less than min_effect neither.
        #expect(DriftMeasurement.assess(pairs: pairs, direction: .lower, confidence: 0.95, claimed: 0.3)?.drifted == false)
        let upper = holds.upper
        #expect(
            DriftMeasurement.assess(pairs: pairs, direction: .lower, confidence: 0.95, claimed: (1 + upper) * 1.04 - 1, tolerance: 0.05)?.drifted
                == false)
        #expect(
            DriftMeasurement.assess(pairs: pairs, direction: .lower, confidence: 0.95, claimed: (1 + upper) * 1.06 - 1, tolerance: 0.05)?.drifted
                == true)
        #expect(DriftMeasurement.assess(pairs: Array(pairs.prefix(1)), direction: .lower, confidence: 0.95, claimed: 0) == nil)
        // Exact metrics: a last-digit difference is not a drift.
        let exact = [SamplePair](repeating: SamplePair(baseline: 3, candidate: 1), count: 6)
        #expect(DriftMeasurement.assess(pairs: exact, direction: .lower, confidence: 0.95, claimed: 2.000000000001)?.drifted == false)
    }
}
