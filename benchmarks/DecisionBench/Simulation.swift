import Core
import Foundation

/// How simulated run times scatter around their true value.
struct NoiseModel: Sendable {
    var name: String
    /// Run-to-run coefficient of variation (log-normal).
    var cv: Double
    /// Amplitude of a slow sinusoidal drift (relative), 0 for none.
    var driftAmplitude: Double = 0
    /// Drift period in runs.
    var driftPeriod: Double = 60
    /// Probability that a run is an outlier, and its slowdown factor.
    var outlierRate: Double = 0
    var outlierFactor: Double = 3

    static let cv1 = NoiseModel(name: "CV 1%", cv: 0.01)
    static let cv3 = NoiseModel(name: "CV 3%", cv: 0.03)
    static let cv10 = NoiseModel(name: "CV 10%", cv: 0.10)
    static let drift = NoiseModel(name: "CV 2% + 5% drift", cv: 0.02, driftAmplitude: 0.05)
    static let outliers = NoiseModel(name: "CV 3% + 1% x3 outl.", cv: 0.03, outlierRate: 0.01)
    static let all = [cv1, cv3, cv10, drift, outliers]
}

/// Simulates one benchmark series: a baseline and a candidate whose true run
/// time is `1 / (1 + effect)` of the baseline's (lower is better), measured in
/// pairs whose order alternates (AB, BA, ...) as a careful runner would.
struct SimulatedSeries {
    var model: NoiseModel
    var effect: Double
    /// When set, the pair ratio itself has this CV (noise per pair, not per run).
    var pairLevelCV: Double?

    func pairs(count: Int, using rng: inout Xoshiro256StarStar) -> [SamplePair] {
        let phase = Double.random(in: 0..<(2 * Double.pi), using: &rng)
        var clock = 0.0
        func run(_ truth: Double) -> Double {
            clock += 1
            var value = truth * Statistics.logNormalNoise(cv: model.cv, using: &rng)
            if model.driftAmplitude > 0 {
                value *= exp(model.driftAmplitude * sin(2 * Double.pi * clock / model.driftPeriod + phase))
            }
            if model.outlierRate > 0, Double.random(in: 0..<1, using: &rng) < model.outlierRate {
                value *= model.outlierFactor
            }
            return value
        }
        let candidateTruth = 1 / (1 + effect)
        return (0..<count).map { index in
            if let pairLevelCV {
                return SamplePair(
                    baseline: 1, candidate: candidateTruth * Statistics.logNormalNoise(cv: pairLevelCV, using: &rng))
            }
            if index % 2 == 0 {
                let baseline = run(1)
                return SamplePair(baseline: baseline, candidate: run(candidateTruth))
            } else {
                let candidate = run(candidateTruth)
                return SamplePair(baseline: run(1), candidate: candidate)
            }
        }
    }
}

/// Outcome counts of many simulated decisions.
struct Tally {
    var trials = 0
    var accepts = 0
    var rejects = 0
    var inconclusive = 0
    var pairs = 0

    var acceptRate: Double { trials > 0 ? Double(accepts) / Double(trials) : 0 }
    var meanPairs: Double { trials > 0 ? Double(pairs) / Double(trials) : 0 }

    mutating func record(_ verdict: Verdict, after n: Int) {
        trials += 1
        pairs += n
        switch verdict {
        case .accept: accepts += 1
        case .reject: rejects += 1
        case .inconclusive, .needMore: inconclusive += 1
        }
    }
}

/// A decision rule that can be replayed over the prefixes of a pair series.
protocol Rule {
    var policy: DecisionPolicy { get }
    func verdict(_ pairs: ArraySlice<SamplePair>) -> Verdict
    /// The verdict and the pairs it took over one series, looking after every pair.
    func decide(_ series: [SamplePair]) -> (Verdict, Int)
}

extension Rule {
    /// Looks after every pair, as the loop does, and stops at the first final verdict.
    func decide(_ series: [SamplePair]) -> (Verdict, Int) {
        guard !series.isEmpty else { return (.inconclusive, 0) }
        for n in 1...series.count {
            let verdict = verdict(series[..<n])
            if verdict.isFinal { return (verdict, n) }
        }
        return (.inconclusive, series.count)
    }
}

/// The rule under test, run through the loop's own `DecisionPipeline` (one round: no
/// calibration, no confirmation), fed one pair at a time as the loop feeds it.
struct PipelineRule: Rule {
    let policy: DecisionPolicy

    init(_ policy: DecisionPolicy) { self.policy = policy }

    /// The `[metric]` table of a loop with this policy and no confirmation round.
    static func metric(_ policy: DecisionPolicy, confirm: Bool = false) -> MetricSpec {
        var metric = MetricSpec(source: .wallTime, decision: policy, warmup: 0)
        metric.confirm = confirm
        return metric
    }

    func verdict(_ pairs: ArraySlice<SamplePair>) -> Verdict {
        decide(Array(pairs)).0
    }

    func decide(_ series: [SamplePair]) -> (Verdict, Int) {
        run(DecisionPipeline(metric: Self.metric(policy), calibration: nil), series)
    }
}

/// Feeds `series` to `pipeline` until it is done; the verdict and the pairs it used (every
/// round); `.needMore` when the series ran out first. A rejection other than the objective's
/// (constraints, outputs) counts as a reject.
func run(_ start: DecisionPipeline, _ series: [SamplePair], confirmation: [SamplePair] = []) -> (Verdict, Int) {
    var pipeline = start
    var used = 0
    var sources = [series, confirmation]
    var round: DecisionPipeline.Round = .decide
    while case .measure(let next) = pipeline.next {
        if next != round {
            round = next
            sources.removeFirst()
        }
        guard let source = sources.first, pipeline.pairsInRound < source.count else { return (.needMore, used) }
        let pair = source[pipeline.pairsInRound]
        used += 1
        pipeline.add(MeasuredPair(baseline: RunSample(objective: pair.baseline), candidate: RunSample(objective: pair.candidate)))
    }
    guard case .done(let outcome) = pipeline.next else { return (.inconclusive, used) }
    switch outcome {
    case .decided(let report): return (report.verdict, used)
    case .rejected: return (.reject, used)
    case .failed: return (.inconclusive, used)
    }
}

/// The textbook alternative: a t-test at every look from minPairs to maxPairs,
/// each at alpha / (number of looks) (Bonferroni).
struct BonferroniRule: Rule {
    let policy: DecisionPolicy
    private let critical: [Double]

    init(_ policy: DecisionPolicy) {
        self.policy = policy
        let looks = Double(policy.maxPairs - policy.minPairs + 1)
        critical = (0...policy.maxPairs).map { n in
            n >= 2 ? Statistics.studentTQuantile(1 - policy.alpha / looks, df: Double(n - 1)) : .infinity
        }
    }

    func verdict(_ pairs: ArraySlice<SamplePair>) -> Verdict {
        let n = pairs.count
        guard n >= policy.minPairs,
            let gains = try? SequentialDecision.logImprovements(Array(pairs), direction: policy.direction)
        else { return .needMore }
        let summary = Statistics.Summary(gains)
        let threshold = log1p(policy.minEffect)
        let c = n < critical.count ? critical[n] : .infinity
        let halfWidth = c * summary.standardDeviation / Double(n).squareRoot()
        if summary.mean - halfWidth > threshold { return .accept }
        if summary.mean + halfWidth < threshold { return .reject }
        return n >= policy.maxPairs ? .inconclusive : .needMore
    }
}

/// Fixed 30 + 30 protocol: one t-test after all pairs, at full alpha.
struct FixedRule: Rule {
    let policy: DecisionPolicy

    func verdict(_ pairs: ArraySlice<SamplePair>) -> Verdict {
        let n = pairs.count
        guard n >= policy.maxPairs,
            let gains = try? SequentialDecision.logImprovements(Array(pairs), direction: policy.direction)
        else { return .needMore }
        let summary = Statistics.Summary(gains)
        let c = Statistics.studentTQuantile(1 - policy.alpha, df: Double(n - 1))
        let halfWidth = c * summary.standardDeviation / Double(n).squareRoot()
        let threshold = log1p(policy.minEffect)
        if summary.mean - halfWidth > threshold { return .accept }
        if summary.mean + halfWidth < threshold { return .reject }
        return .inconclusive
    }
}

func simulate(
    _ rules: [any Rule], series: SimulatedSeries, trials: Int, seed: UInt64
) -> [Tally] {
    var rng = Xoshiro256StarStar(seed: seed)
    var tallies = [Tally](repeating: Tally(), count: rules.count)
    let length = rules.map(\.policy.maxPairs).max() ?? 30
    for _ in 0..<trials {
        // Every rule sees the same data.
        let data = series.pairs(count: length, using: &rng)
        for (index, rule) in rules.enumerated() {
            let (verdict, n) = rule.decide(Array(data.prefix(rule.policy.maxPairs)))
            tallies[index].record(verdict, after: n)
        }
    }
    return tallies
}

/// The A/A rule of a pipeline row: the loop's (the calibration handed to the pipeline), or
/// earlier rules kept as reference rows, whose minimum is computed here and handed to the
/// same pipeline as its configured minimum.
enum PipelineFloor: CaseIterable {
    /// No calibration: the configured minimum only.
    case none
    /// The rule before the slot-bias floor: the best against itself in ONE slot (6 pairs,
    /// the most extreme |g| left out), floor = |mean g| + t(99.5%) s / sqrt(n).
    case upperBoundOneSlot
    /// The previous slot-bias rule: min_effect on top of the bias, and at least the bias plus
    /// one standard error, whatever the bias (a tax on every calibration).
    case alwaysRaised
    /// The loop's rule (`NoiseFloor.minimumEffect`): 10 pairs across the two slots; a bias
    /// within noise leaves the minimum alone, one beyond noise is paid in full.
    case slotBias

    var label: String {
        switch self {
        case .none: "none"
        case .upperBoundOneSlot: "old: 99% bound, 1 slot, 6"
        case .alwaysRaised: "prev: always raised, 2 slots"
        case .slotBias: "loop: tripwire, 2 slots, 10"
        }
    }

    var key: String {
        switch self {
        case .none: "nofloor"
        case .upperBoundOneSlot: "oldfloor"
        case .alwaysRaised: "prevfloor"
        case .slotBias: "slotfloor"
        }
    }
}

/// Pipeline outcomes: a tally of final verdicts (pairs of both rounds) and the minimum used.
struct PipelineResult {
    var tally = Tally()
    var minimumSum = 0.0
    var meanMinimum: Double { tally.trials > 0 ? minimumSum / Double(tally.trials) : 0 }
}

/// One calibration and one candidate per trial, as the loop runs them, through the loop's
/// `DecisionPipeline`: the calibration, the decision and for an accept a fresh confirmation
/// round. `slotBias` makes every run in the candidate slot read that much better. Pairs
/// counted are the decision's (both rounds), not the calibration's.
func simulatePipeline(
    floor rule: PipelineFloor, effect: Double, slotBias: Double, model: NoiseModel, policy: DecisionPolicy, trials: Int,
    using rng: inout Xoshiro256StarStar
) -> PipelineResult {
    var result = PipelineResult()
    let apparent = (1 + effect) * (1 + slotBias) - 1
    for _ in 0..<trials {
        var configured = policy
        var calibration: NoiseFloor?
        switch rule {
        case .none:
            break
        case .upperBoundOneSlot:
            // One slot cannot see a slot bias: both sides run the same build.
            let pairs = SimulatedSeries(model: model, effect: 0).pairs(count: 6, using: &rng)
            var g = pairs.map { log($0.candidate) - log($0.baseline) }
            if let worst = g.indices.max(by: { abs(g[$0]) < abs(g[$1]) }) { g.remove(at: worst) }
            let summary = Statistics.Summary(g)
            let n = Double(g.count)
            let t = Statistics.studentTQuantile((1 + policy.confidence) / 2, df: n - 1)
            configured.minEffect = max(policy.minEffect, expm1(abs(summary.mean) + t * summary.standardDeviation / n.squareRoot()))
        case .alwaysRaised:
            let floor = SequentialDecision.noiseFloor(
                aaPairs: SimulatedSeries(model: model, effect: slotBias).pairs(count: 10, using: &rng), direction: .lower)
            configured.minEffect = max(expm1(log1p(policy.minEffect) + log1p(max(0, floor.bias))), floor.floor)
        case .slotBias:
            calibration = SequentialDecision.noiseFloor(
                aaPairs: SimulatedSeries(model: model, effect: slotBias).pairs(count: 10, using: &rng), direction: .lower)
        }
        let pipeline = DecisionPipeline(metric: PipelineRule.metric(configured, confirm: true), calibration: calibration)
        let series = SimulatedSeries(model: model, effect: apparent)
        let first = series.pairs(count: policy.maxPairs, using: &rng)
        let second = series.pairs(count: policy.maxPairs, using: &rng)
        let (verdict, pairs) = run(pipeline, first, confirmation: second)
        result.tally.record(verdict, after: pairs)
        result.minimumSum += pipeline.minimumEffect
    }
    return result
}
