import Foundation

/// What one bench run gave, as the decision sees it.
public struct RunSample: Sendable, Equatable {
    /// The objective (or, in a wall-time confirmation round, the plain command's seconds).
    public var objective: Double
    /// One value per `[metric]` constraint, in config order.
    public var constraints: [Double]
    /// One value per `[[benchmark]]`, in config order.
    public var extras: [Double]
    /// The bench's standard output, for `outputs_must_match`; `nil` when not captured.
    public var output: String?

    public init(objective: Double, constraints: [Double] = [], extras: [Double] = [], output: String? = nil) {
        self.objective = objective
        self.constraints = constraints
        self.extras = extras
        self.output = output
    }
}

/// One baseline run and one candidate run, measured back to back in random order.
public struct MeasuredPair: Sendable, Equatable {
    public var baseline: RunSample
    public var candidate: RunSample

    public init(baseline: RunSample, candidate: RunSample) {
        self.baseline = baseline
        self.candidate = candidate
    }
}

/// The whole keep-or-discard decision for one candidate, with no I/O: built from the
/// `[metric]` and `[[benchmark]]` config and the A/A calibration, fed one measured pair at a
/// time, it says which round to measure next or gives the outcome with its reason.
///
/// Rounds: `decide` (the sequential rule at the configured confidence, against the minimum
/// effect after the calibration), then for an accept a fresh `confirm` round of the objective
/// at `confirm_confidence`, or with `confirm_with = "wall_time"` a `wallTimeConfirm` round of
/// the plain command's wall time against 0. After the rounds: the constraints, and with
/// `[[benchmark]]`s the per-benchmark regression check. The runner runs commands, stores
/// samples and feeds them in; it never assigns a verdict.
///
///     var pipeline = DecisionPipeline(metric: config.metric, benchmarks: config.benchmarks, calibration: floor)
///     while case .measure(let round) = pipeline.next {
///         pipeline.add(try await measurePair(round))
///     }
///     guard case .done(let outcome) = pipeline.next else { ... }
public struct DecisionPipeline: Sendable {
    /// Which measurement a pair belongs to.
    public enum Round: String, Sendable, Equatable, CaseIterable {
        /// The decision proper, on the objective.
        case decide
        /// A fresh round of the objective that must accept again.
        case confirm
        /// The bench command run plainly (no callgrind, no GNU time): its wall time must show
        /// the candidate faster.
        case wallTimeConfirm = "wall_time_confirm"

        /// Whether the runner does the configured warm-up runs before this round's first pair.
        public var warmsUp: Bool { self != .confirm }

        /// Whether the round's pairs are plain wall times rather than the objective.
        public var isWallTime: Bool { self == .wallTimeConfirm }

        /// What the runner prints when the round starts.
        public var announcement: String {
            switch self {
            case .decide: "measuring"
            case .confirm: "accepted in round 1; confirming with a fresh round"
            case .wallTimeConfirm: "accepted in round 1; confirming with the plain command's wall time"
            }
        }
    }

    /// How a candidate's measurement ended.
    public enum Outcome: Sendable, Equatable {
        /// A verdict of the rule (accept, reject or inconclusive) with its numbers and reason.
        case decided(DecisionReport)
        /// Refused for a reason other than the objective: `.outputMismatch`, `.constraint`, or
        /// `.notBetter` for a significant regression on one of several benchmarks.
        case rejected(RejectionKind, String)
        /// The samples cannot be compared (a zero, negative or non-finite value).
        case failed(String)
    }

    /// What the runner does next.
    public enum Next: Sendable, Equatable {
        /// Measure one more pair for this round.
        case measure(Round)
        /// Stop measuring: the outcome is final.
        case done(Outcome)
    }

    public let metric: MetricSpec
    public let benchmarks: [BenchmarkSpec]
    public let calibration: NoiseFloor?
    /// The minimum effect the decision uses now: the configured one, or (for a slot bias
    /// beyond noise) raised by the calibration; it is looked at again after every pair, with
    /// the decision's scatter pooled into the bias's standard error, and never falls below
    /// the configured one.
    public private(set) var minimumEffect: Double
    public private(set) var next: Next
    /// The latest report of the current (or last) round.
    public private(set) var report: DecisionReport?
    /// Pairs fed to the current round.
    public var pairsInRound: Int { roundPairs.count }

    private var rule: SequentialDecision
    private var roundPairs: [SamplePair] = []
    /// Every pair of the objective's rounds (not the wall-time round), for the constraints
    /// and the per-benchmark checks.
    private var objectivePairs: [MeasuredPair] = []
    private var firstRound: DecisionReport?

    public init(metric: MetricSpec, benchmarks: [BenchmarkSpec] = [], calibration: NoiseFloor?) {
        self.metric = metric
        self.benchmarks = benchmarks
        self.calibration = calibration
        let configured = metric.decision.minEffect
        minimumEffect = calibration?.minimumEffect(configured: configured) ?? configured
        var policy = metric.decision
        policy.minEffect = minimumEffect
        rule = SequentialDecision(policy: policy)
        next = .measure(.decide)
    }

    /// The round being measured, or `nil` when done.
    public var round: Round? {
        if case .measure(let round) = next { return round }
        return nil
    }

    /// The rule of the current round.
    public var roundPolicy: DecisionPolicy { rule.policy }

    /// The rule of a round. The decision's level is calibrated to its looks (it spends the
    /// whole false-accept budget, for power and fewer pairs); the confirmation rounds keep
    /// Ville's level, which spends about two thirds of theirs. A confirmation round guards
    /// against the winner's curse, not the false-accept bound (the first round's). Spending
    /// all of it there raised the whole pipeline's power on a true +5% by only half a point
    /// (90.5 to 90.9%) but let a no-change candidate behind a +2% slot bias, which 10 A/A pairs
    /// cannot see, through 1.3% of the time instead of 0.9% (`ratchet-bench-decision`).
    static func rule(_ round: Round, _ policy: DecisionPolicy) -> SequentialDecision {
        SequentialDecision(policy: policy, anytime: round != .decide)
    }

    /// The policy of a round: the decision's; the same against the same minimum at
    /// `confirm_confidence` to confirm; for wall time, a minimum of 0 with at least the
    /// pairs a noisy verdict needs (3) and room for 20.
    public func policy(for round: Round) -> DecisionPolicy {
        var policy = metric.decision
        policy.minEffect = minimumEffect
        switch round {
        case .decide:
            return policy
        case .confirm:
            policy.confidence = metric.effectiveConfirmConfidence
            return policy
        case .wallTimeConfirm:
            return DecisionPolicy(
                direction: .lower, minEffect: 0, confidence: metric.effectiveConfirmConfidence, minPairs: max(policy.minPairs, 3),
                maxPairs: max(policy.maxPairs, 20))
        }
    }

    /// Feeds one measured pair (both runs whole: a pair spoiled by a pause is not fed) to the
    /// current round and returns what to do next.
    @discardableResult
    public mutating func add(_ pair: MeasuredPair) -> Next {
        guard let round else { return next }
        if round != .wallTimeConfirm {
            if objectivePairs.isEmpty, metric.outputsMustMatch, let mismatch = outputMismatch(pair) {
                next = .done(.rejected(.outputMismatch, mismatch))
                return next
            }
            objectivePairs.append(pair)
            roundPairs.append(decisionPair(pair))
            updateMinimum(for: round)
        } else {
            roundPairs.append(SamplePair(baseline: pair.baseline.objective, candidate: pair.candidate.objective))
        }
        let current: DecisionReport
        do {
            current = try rule.evaluate(roundPairs)
        } catch {
            next = .done(.failed("benchmark values cannot be compared: \(error)"))
            return next
        }
        report = current
        guard current.verdict != .needMore || roundPairs.count >= rule.policy.maxPairs else { return next }
        finish(round, current)
        return next
    }

    /// Pools the scatter of every objective pair so far (outliers left out) into the
    /// calibration's standard error and moves the current round's minimum if it changed.
    private mutating func updateMinimum(for round: Round) {
        guard let calibration else { return }
        let gains = objectivePairs.compactMap { pair -> Double? in
            let sample = decisionPair(pair)
            guard sample.baseline > 0, sample.candidate > 0, sample.baseline.isFinite, sample.candidate.isFinite else { return nil }
            return log(sample.candidate / sample.baseline)
        }
        let left = rule.outliers(gains)
        let scatter = Statistics.Summary(gains.indices.filter { !left.contains($0) }.map { gains[$0] })
        let minimum = calibration.minimumEffect(configured: metric.decision.minEffect, pooledWith: scatter)
        guard minimum != minimumEffect else { return }
        minimumEffect = minimum
        rule = Self.rule(round, policy(for: round))
    }

    private mutating func finish(_ round: Round, _ current: DecisionReport) {
        if round == .decide, current.verdict == .accept, metric.confirm {
            firstRound = current
            let following: Round = metric.confirmWith == .wallTime ? .wallTimeConfirm : .confirm
            rule = Self.rule(following, policy(for: following))
            roundPairs = []
            next = .measure(following)
            return
        }
        next = .done(conclude(current))
    }

    /// The verdict and reason after the last round: confirmation, the raised minimum, then
    /// constraints and the per-benchmark check.
    private func conclude(_ last: DecisionReport) -> Outcome {
        var final = last
        if let first = firstRound {
            if metric.confirmWith == .wallTime {
                // The decision's numbers stay the objective's; the wall-time round only confirms.
                final = first
                if last.verdict == .accept {
                    final.reason += "; confirmed by wall time: " + last.reason
                } else {
                    final.verdict = .reject
                    final.reason = "not confirmed by wall time: " + last.reason + "; the objective had: " + first.reason
                }
            } else if last.verdict == .accept {
                final.reason = "confirmed: " + last.reason + " (first round: " + Format.effect(first) + ")"
            } else {
                final.verdict = .reject
                final.reason = "not confirmed by a fresh round: " + last.reason + "; the first round had " + Format.effect(first)
            }
        }
        if let calibration, minimumEffect > metric.decision.minEffect {
            final.reason += " (minimum raised from \(Format.percent(metric.decision.minEffect)) by the A/A " + calibration.summary + ")"
        }
        if final.verdict == .accept, let violation = constraintViolation() {
            return .rejected(.constraint, violation + "; objective: " + final.reason)
        }
        if final.verdict == .accept, !benchmarks.isEmpty {
            let names = ["bench"] + benchmarks.map(\.name)
            let regressions = MultiBenchmark.significantRegressions(
                names: names, improvements: improvements(objectivePairs), alpha: metric.decision.alpha)
            if !regressions.isEmpty {
                let list = regressions.map { String(format: "%@ %+.1f%% (upper bound %+.1f%%)", $0.name, $0.estimate * 100, $0.upper * 100) }
                return .rejected(
                    .notBetter, "combined gain, but a significant regression on " + list.joined(separator: ", ") + "; combined: " + final.reason)
            }
            final.reason = "combined over \(names.count) benchmarks: " + final.reason
        }
        return .decided(final)
    }

    // MARK: - Pieces (public for the runner's A/A and drift measurements)

    /// The pair the decision rule sees: the main benchmark's, or with `[[benchmark]]`s a
    /// synthetic pair whose ratio is the weighted combined gain.
    public func decisionPair(_ pair: MeasuredPair) -> SamplePair {
        Self.decisionPair(pair, metric: metric, benchmarks: benchmarks)
    }

    /// `decisionPair` for a config, without a pipeline.
    public static func decisionPair(_ pair: MeasuredPair, metric: MetricSpec, benchmarks: [BenchmarkSpec]) -> SamplePair {
        guard !benchmarks.isEmpty else { return SamplePair(baseline: pair.baseline.objective, candidate: pair.candidate.objective) }
        let g =
            MultiBenchmark.combined(improvements([pair], metric: metric, benchmarks: benchmarks), weights: [1] + benchmarks.map(\.weight)).first ?? 0
        return metric.decision.direction == .lower ? SamplePair(baseline: 1, candidate: exp(-g)) : SamplePair(baseline: 1, candidate: exp(g))
    }

    /// The per-pair log improvement of every benchmark (main first), each in its direction.
    public func improvements(_ pairs: [MeasuredPair]) -> [[Double]] {
        Self.improvements(pairs, metric: metric, benchmarks: benchmarks)
    }

    static func improvements(_ pairs: [MeasuredPair], metric: MetricSpec, benchmarks: [BenchmarkSpec]) -> [[Double]] {
        let main = pairs.map { log(ratio($0.baseline.objective, $0.candidate.objective, metric.decision.direction)) }
        let extras = benchmarks.enumerated().map { index, spec in
            pairs.map { pair -> Double in
                guard index < pair.baseline.extras.count, index < pair.candidate.extras.count else { return 0 }
                return log(ratio(pair.baseline.extras[index], pair.candidate.extras[index], spec.direction))
            }
        }
        return [main] + extras
    }

    static func ratio(_ baseline: Double, _ candidate: Double, _ direction: Direction) -> Double {
        guard baseline > 0, candidate > 0, baseline.isFinite, candidate.isFinite else { return 1 }
        return direction == .lower ? baseline / candidate : candidate / baseline
    }

    /// Why a constraint metric forbids the candidate (its geometric-mean change over every
    /// objective pair is worse than its limit), or `nil`.
    func constraintViolation() -> String? {
        for (index, constraint) in metric.constraints.enumerated() {
            let samples = objectivePairs.compactMap { pair -> SamplePair? in
                guard index < pair.baseline.constraints.count, index < pair.candidate.constraints.count else { return nil }
                return SamplePair(baseline: pair.baseline.constraints[index], candidate: pair.candidate.constraints[index])
            }
            guard !samples.isEmpty, let g = try? SequentialDecision.logImprovements(samples, direction: constraint.direction) else { continue }
            let change = exp(g.reduce(0, +) / Double(g.count)) - 1
            if change < -constraint.maxRegression {
                return String(
                    format: "constraint %@ (%@): %.1f%% worse, the limit is %.1f%%", constraint.name, constraint.source.name, -change * 100,
                    constraint.maxRegression * 100)
            }
        }
        return nil
    }

    /// How the two bench outputs of a pair differ (lines matching `match_ignore`, and the
    /// metric's own pattern, left out), or `nil` when they match or were not captured.
    public func outputMismatch(_ pair: MeasuredPair) -> String? {
        guard let baseline = pair.baseline.output, let candidate = pair.candidate.output else { return nil }
        var ignore = metric.matchIgnore.map { [$0] } ?? []
        if case .regex(let pattern) = metric.source { ignore.append(pattern) }
        let a = MetricExtractor.comparable(baseline, ignoring: ignore)
        let b = MetricExtractor.comparable(candidate, ignoring: ignore)
        guard a != b else { return nil }
        let firstA = a.split(separator: "\n", omittingEmptySubsequences: false)
        let firstB = b.split(separator: "\n", omittingEmptySubsequences: false)
        let line = zip(firstA, firstB).enumerated().first { $0.element.0 != $0.element.1 }?.offset ?? min(firstA.count, firstB.count)
        let expected = line < firstA.count ? String(firstA[line]) : "(end of output)"
        let actual = line < firstB.count ? String(firstB[line]) : "(end of output)"
        return "bench output differs from the best's at line \(line + 1): expected '\(expected.prefix(120))', got '\(actual.prefix(120))'"
    }
}

/// The drift check's numbers: the best against the original base, measured again, and
/// whether the improvement the accepts claimed is above what was measured.
public struct DriftMeasurement: Sendable, Equatable {
    public var pairs: Int
    public var measured: Double
    public var lower: Double
    public var upper: Double
    public var claimed: Double
    public var drifted: Bool

    /// A two-sided Student-t interval at `confidence` for the geometric-mean improvement of
    /// `pairs` (base as baseline, best as candidate); drifted when `claimed` (the product of
    /// the kept accepts) is above its upper end by more than `tolerance` (the loop's
    /// `min_effect`, as a ratio), plus a last-digit difference for deterministic metrics,
    /// whose interval has zero width. A best that measures better than claimed, or short of
    /// the claim by less than the smallest improvement the loop counts, is no drift: the
    /// check flagged both (a +36.9% claim measured at +37.9% [+37.1%, +38.6%] was a "DRIFT").
    /// `nil` with fewer than two usable pairs.
    public static func assess(pairs: [SamplePair], direction: Direction, confidence: Double, claimed: Double, tolerance: Double = 0)
        -> DriftMeasurement?
    {
        guard let g = try? SequentialDecision.logImprovements(pairs, direction: direction), g.count >= 2 else { return nil }
        let summary = Statistics.Summary(g)
        let t = Statistics.studentTQuantile((1 + confidence) / 2, df: Double(g.count - 1))
        let half = t * summary.standardDeviation / Double(g.count).squareRoot()
        let lower = expm1(summary.mean - half)
        let upper = expm1(summary.mean + half)
        let slack = 1e-9 * max(1, abs(claimed))
        return DriftMeasurement(
            pairs: g.count, measured: expm1(summary.mean), lower: lower, upper: upper, claimed: claimed,
            drifted: log1p(claimed) > log1p(upper) + log1p(max(0, tolerance)) + slack)
    }
}
