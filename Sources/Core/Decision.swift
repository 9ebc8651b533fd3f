import Foundation
import Synchronization

/// Which way a metric is better.
public enum Direction: String, Sendable, Codable, CaseIterable {
    /// Smaller is better (wall time, instructions, bytes).
    case lower
    /// Larger is better (throughput, score).
    case higher
}

/// The knobs of the keep-or-discard rule for one metric.
public struct DecisionPolicy: Sendable, Equatable, Codable {
    public var direction: Direction
    /// Smallest relative improvement worth keeping: 0.02 means the candidate
    /// must be at least 2% better than the baseline.
    public var minEffect: Double
    /// Confidence level, e.g. 0.95. `1 - confidence` is the largest rate at which
    /// a candidate that is not at least `minEffect` better gets accepted, counted
    /// over every look the loop takes.
    public var confidence: Double
    /// No verdict before this many pairs (at least 2).
    public var minPairs: Int
    /// Stop with `.inconclusive` once this many pairs gave no verdict.
    public var maxPairs: Int
    /// Stop early with `.inconclusive` when, even at an optimistic reading of the data so
    /// far (estimate + 1.645 standard errors), the chance of an accept by `maxPairs` is below
    /// this. 0 turns it off. Stopping early can only prevent accepts, never add one, so the
    /// false-accept rate is unchanged; it spares the pairs a hopeless candidate would use.
    public var futility: Double

    public init(
        direction: Direction,
        minEffect: Double = 0.02,
        confidence: Double = 0.95,
        minPairs: Int = 5,
        maxPairs: Int = 30,
        futility: Double = 0.1
    ) {
        self.direction = direction
        self.minEffect = minEffect
        self.confidence = confidence
        self.minPairs = minPairs
        self.maxPairs = maxPairs
        self.futility = futility
    }

    /// The standard errors added to the estimate for the optimistic reading of the futility rule.
    public static let futilityOptimism = 1.645

    /// No futility stop before this many pairs: the first standard errors are too rough.
    public static let futilityFirstLook = 5

    /// The false-accept rate the rule guarantees: `1 - confidence`.
    public var alpha: Double { 1 - confidence }

    /// The share of `alpha` spent on the outlier screen (see `SequentialDecision`): the
    /// sequential test runs at `alpha * (1 - outlierShare)`, and the chance that the screen
    /// leaves out any pair of Gaussian data, over every look up to `maxPairs`, is at most
    /// `alpha * outlierShare`.
    public static let outlierShare = 0.1

    /// The screen looks from this many pairs on (with fewer, a deleted-residual test has
    /// almost no degrees of freedom).
    public static let outlierFirstLook = 4

    /// Checks that the policy describes a usable rule.
    /// - Throws: `DecisionError.invalidPolicy` naming the field to fix.
    public func validate() throws(DecisionError) {
        guard confidence.isFinite, confidence > 0, confidence < 1 else {
            throw .invalidPolicy("confidence must be strictly between 0 and 1 (e.g. 0.95), got \(confidence)")
        }
        guard minEffect.isFinite, minEffect > -1 else {
            throw .invalidPolicy("minEffect must be a finite fraction above -1 (e.g. 0.02 for 2%), got \(minEffect)")
        }
        guard minPairs >= 2 else {
            throw .invalidPolicy("minPairs must be at least 2 (a variance needs two pairs), got \(minPairs)")
        }
        guard maxPairs >= minPairs else {
            throw .invalidPolicy("maxPairs (\(maxPairs)) must be at least minPairs (\(minPairs))")
        }
        guard futility.isFinite, futility >= 0, futility < 1 else {
            throw .invalidPolicy("futility must be in [0, 1) (e.g. 0.1; 0 turns it off), got \(futility)")
        }
    }
}

/// One baseline run and one candidate run, measured back to back.
public struct SamplePair: Sendable, Equatable, Codable {
    public var baseline: Double
    public var candidate: Double

    public init(baseline: Double, candidate: Double) {
        self.baseline = baseline
        self.candidate = candidate
    }
}

/// What to do with a candidate after the pairs seen so far.
public enum Verdict: String, Sendable, Codable, CaseIterable {
    /// Measure another pair.
    case needMore
    /// The candidate is better than the baseline by at least the minimum effect.
    case accept
    /// The candidate cannot plausibly reach the minimum effect.
    case reject
    /// `maxPairs` reached with neither.
    case inconclusive

    /// True for every verdict except `.needMore`.
    public var isFinal: Bool { self != .needMore }
}

/// The outcome of one evaluation. Effects are relative improvements where
/// positive is better: +0.05 means the candidate is 5% better.
public struct DecisionReport: Sendable, Equatable, Codable {
    public var verdict: Verdict
    public var pairs: Int
    /// Geometric-mean relative improvement: exp(mean g) - 1.
    public var estimate: Double
    /// Lower confidence bound of the improvement; -1 (that is, -100%) while no
    /// bound exists yet.
    public var lower: Double
    /// Upper confidence bound; `.infinity` while no bound exists yet (encoded by
    /// leaving the key out, since JSON has no infinity).
    public var upper: Double
    /// The minimum effect used (relative).
    public var threshold: Double
    /// One sentence with the numbers, e.g. "accepted after 7 pairs: +31.2% (99%
    /// lower bound +27.0%) clears the +2.0% minimum".
    public var reason: String

    public init(
        verdict: Verdict, pairs: Int, estimate: Double, lower: Double, upper: Double,
        threshold: Double, reason: String
    ) {
        self.verdict = verdict
        self.pairs = pairs
        self.estimate = estimate
        self.lower = lower
        self.upper = upper
        self.threshold = threshold
        self.reason = reason
    }

    private enum CodingKeys: String, CodingKey {
        case verdict, pairs, estimate, lower, upper, threshold, reason
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        verdict = try container.decode(Verdict.self, forKey: .verdict)
        pairs = try container.decode(Int.self, forKey: .pairs)
        // Non-finite values are written as absent keys; the only one that can
        // occur is +infinity (every effect is at least -1).
        estimate = try container.decodeIfPresent(Double.self, forKey: .estimate) ?? .infinity
        lower = try container.decodeIfPresent(Double.self, forKey: .lower) ?? .infinity
        upper = try container.decodeIfPresent(Double.self, forKey: .upper) ?? .infinity
        threshold = try container.decode(Double.self, forKey: .threshold)
        reason = try container.decode(String.self, forKey: .reason)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(verdict, forKey: .verdict)
        try container.encode(pairs, forKey: .pairs)
        try container.encodeIfPresent(estimate.isFinite ? estimate : nil, forKey: .estimate)
        try container.encodeIfPresent(lower.isFinite ? lower : nil, forKey: .lower)
        try container.encodeIfPresent(upper.isFinite ? upper : nil, forKey: .upper)
        try container.encode(threshold, forKey: .threshold)
        try container.encode(reason, forKey: .reason)
    }
}

/// Why a set of pairs or a policy cannot be evaluated.
public enum DecisionError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A sample is zero or negative; `pair` is 1-based.
    case nonPositiveSample(pair: Int, value: Double)
    /// A sample is NaN or infinite; `pair` is 1-based.
    case notFinite(pair: Int)
    /// The policy cannot describe a rule; the message names the field.
    case invalidPolicy(String)

    public var description: String {
        switch self {
        case .nonPositiveSample(let pair, let value):
            "pair \(pair) has a sample of \(value), but every sample must be greater than 0: "
                + "check that the benchmark reports a time, count or rate, not a difference or a failure code"
        case .notFinite(let pair):
            "pair \(pair) has a sample that is NaN or infinite: "
                + "check the benchmark's output parsing for that run"
        case .invalidPolicy(let message):
            "invalid decision policy: \(message)"
        }
    }
}

/// The sequential keep-or-discard rule.
///
/// Each pair gives g = ln(baseline / candidate) when lower is better, or
/// ln(candidate / baseline) when higher is better, so g > 0 is an improvement and
/// noise is roughly normal on this scale. The rule compares the mean of g with
/// ln(1 + minEffect).
///
/// Method: a sequential t-test (Wald's invariant sequential probability ratio test for a
/// normal mean with unknown variance) with its threshold set for the looks the rule takes.
/// For a hypothesised mean m, the likelihood ratio of the scale-invariant statistic
/// t = (mean(g) - m) / (s / sqrt(n)) between "mean = m + delta * sigma" and "mean = m" does
/// not depend on sigma. The rule averages it over the standardized effects delta in
/// {0.9, 3, 10} (weights 0.8, 0.1, 0.1: most weight where a decision within 30 pairs is
/// possible but costly, some for early stops on large effects), and stops at the first
/// look where that average reaches exp(level). Inverting the test gives a confidence
/// sequence mean(g) +/- c(n) * s / sqrt(n), where c(n) depends only on n and the level. The
/// rule accepts when the lower bound exceeds ln(1 + minEffect) and rejects when the upper
/// bound falls below it.
///
/// The level: Ville's inequality makes 1 / alpha safe over any number of looks, but the
/// rule never looks before max(minPairs, 3) pairs nor after `maxPairs`, and over those
/// looks 1 / alpha spends only about two thirds of alpha. The chance that t ever crosses c(n) at a
/// look when the true mean is m does not depend on sigma, and for normal g it is a number
/// that `Statistics.tFirstCrossings` computes (the t statistics' r_n form a Markov chain
/// with a known kernel); the level is the lowest at which that number is at most
/// `alpha * (1 - numericalMargin)`. A smaller true mean only lowers every t, so the bound
/// holds for every candidate that is not at least `minEffect` better, and by symmetry for
/// the reject side. With more than 100 pairs allowed the rule keeps Ville's level (valid
/// over any number of looks, with no computation that grows with the horizon).
///
/// Why this method: at alpha 0.01, 30 looks, a true +5% change, 3% run-to-run noise and a
/// 1% minimum, it reaches 94% power with 14.9 pairs on average, against 92% with 16.2 for
/// the previous rule (Ville's level, weights on 0.8, 1.2, 3 and 10), 91% with 18.6 for
/// Bonferroni-corrected t-tests at every look, and 30 for a fixed 30 + 30 test; a +30%
/// change stops after 4.6 pairs. See `ratchet-bench-decision` and docs/design-notes.md.
///
/// The bound c(n) is infinite before the first look and for the first few pairs: with noisy
/// data the earliest verdict comes after 3 pairs at 95% confidence and 4 at 99%. The
/// method assumes the g of different pairs are independent and roughly normal.
///
/// Outlier screen: a stalled run (3x slower) would inflate s for the rest of the decision.
/// At every look the pair with the largest studentized deleted residual is left out while it
/// exceeds a Student-t limit (see `outliers`); the limits spend `alpha * outlierShare` over
/// every pair at every look, and the test above runs at the rest, so the false-accept bound
/// is still `alpha` (on the event that the screen never fires the rule is the plain test).
/// Leaving a stall out took the power for a true +5% with 1% of runs 3x slow from 67.5% to
/// 86.8% (`ratchet-bench-decision`); the reason names the pairs left out.
///
/// Futility: from 5 pairs on, a candidate whose chance of an accept by `maxPairs` is below
/// `futility` (10% by default) even if its true gain were the estimate plus 1.645 standard
/// errors stops early as `.inconclusive`. That can only turn would-be accepts into stops, so
/// the false-accept bound is untouched; in simulation (CV 3%, 1% minimum, 99%) it cuts a
/// no-change candidate from 29.4 pairs to about 6.5 and a 5% regression from 10.4 to 5, for
/// about one point of power on a true 5% gain.
///
/// If every g is identical (a deterministic metric such as an instruction count)
/// there is no noise to test against: after `minPairs` the rule accepts when g
/// exceeds ln(1 + minEffect) and rejects otherwise.
public struct SequentialDecision: Sendable {
    public let policy: DecisionPolicy
    /// The critical values, the screen's limits and the level; computed once per alpha and
    /// looks, since a loop calls `evaluate` after every pair.
    private let tables: Tables

    /// The mixture e-value's threshold, as a log: calibrated to the looks
    /// (`calibratedToLooks`), or Ville's log(1 / alpha).
    public var level: Double { tables.level }

    /// Whether `level` was calibrated to the looks from `firstLook` to `maxPairs` (always,
    /// unless more than `calibrationLimit` pairs are allowed).
    public var calibratedToLooks: Bool { tables.calibrated }

    /// The first look with a bound: max(minPairs, 3).
    public var firstLook: Int { Swift.max(policy.minPairs, Self.earliestLook) }

    /// No look before this many pairs (the crossing computation starts there; with noisy data
    /// no verdict is possible earlier at any usual confidence anyway).
    static let earliestLook = 3

    /// Above this many pairs critical values are computed on demand (and not screened).
    private static let tableLimit = 256

    /// Above this many pairs allowed the rule keeps Ville's level: the calibration's cost
    /// grows with the square of the looks (about 0.1 s at 100 pairs).
    static let calibrationLimit = 100

    public init(policy: DecisionPolicy) {
        self.init(policy: policy, anytime: false)
    }

    /// A rule that keeps Ville's level (`anytime`, valid however many looks are taken) instead
    /// of calibrating it to the looks up to `maxPairs`.
    init(policy: DecisionPolicy, anytime: Bool) {
        self.policy = policy
        let alpha = policy.alpha
        guard alpha > 0, alpha < 1, policy.maxPairs >= 0 else {
            tables = Tables(critical: [], screen: [], level: .infinity, calibrated: false)
            return
        }
        let first = Swift.max(policy.minPairs, Self.earliestLook)
        let key = TableKey(alpha: alpha, firstLook: first, maxPairs: policy.maxPairs, anytime: anytime)
        if let known = Self.cache.withLock({ $0[key] }) {
            tables = known
            return
        }
        let testAlpha = alpha * (1 - DecisionPolicy.outlierShare)
        let limit = Swift.min(Swift.max(policy.maxPairs, 2), Self.tableLimit)
        let calibrated = !anytime && policy.maxPairs <= Self.calibrationLimit
        let level =
            calibrated
            ? SequentialTTest.calibratedLevel(alpha: testAlpha, firstLook: first, lastLook: policy.maxPairs) : -log(testAlpha)
        let critical = (0...limit).map { n in n >= first ? SequentialTTest.criticalT(pairs: n, level: level) : .infinity }
        tables = Tables(critical: critical, screen: Self.screenLimits(looks: limit, alpha: alpha), level: level, calibrated: calibrated)
        Self.cache.withLock { $0[key] = tables }
    }

    private struct Tables: Sendable {
        /// c(n) for n in 0..<critical.count.
        var critical: [Double]
        /// screen[m]: the studentized deleted residual beyond which the outlier screen leaves a
        /// pair out of m kept pairs; infinity where it does not look.
        var screen: [Double]
        var level: Double
        var calibrated: Bool
    }

    private struct TableKey: Hashable {
        var alpha: Double
        var firstLook: Int
        var maxPairs: Int
        var anytime: Bool
    }

    /// The tables depend only on alpha and the looks, and take a few milliseconds to compute
    /// (the calibration's crossing computations): a loop, and a simulation that makes a rule
    /// per trial, computes them once.
    private static let cache = Mutex<[TableKey: Tables]>([:])

    /// The screen's limits: with `looks` looks from `DecisionPolicy.outlierFirstLook` on, and
    /// at look n one test of the most extreme of n pairs (n tests of one pair each, by
    /// Bonferroni), the budget alpha * outlierShare is split evenly over all those tests.
    /// For Gaussian data the studentized deleted residual of one pair among m follows
    /// Student's t with m - 2 degrees of freedom exactly, so each limit is a t quantile.
    static func screenLimits(looks: Int, alpha: Double) -> [Double] {
        let first = DecisionPolicy.outlierFirstLook
        guard looks >= first else { return [] }
        let tests = (first...looks).reduce(0, +)
        let level = alpha * DecisionPolicy.outlierShare / Double(2 * tests)
        return (0...looks).map { m in m >= first ? Statistics.studentTQuantile(1 - level, df: Double(m - 2)) : .infinity }
    }

    /// The multiple of the standard error s / sqrt(n) that the confidence bounds
    /// use after `pairs` pairs; `.infinity` when no bound exists yet (with noisy
    /// data no verdict is possible before this becomes finite).
    public func criticalT(pairs: Int) -> Double {
        if pairs >= 0, pairs < tables.critical.count { return tables.critical[pairs] }
        // Past a calibrated horizon there is no look; past the table, Ville's level holds.
        guard !tables.calibrated, pairs >= firstLook, tables.level.isFinite else { return .infinity }
        return SequentialTTest.criticalT(pairs: pairs, level: tables.level)
    }

    /// The pairs (0-based, ascending) the outlier screen leaves out of `gains`: while the most
    /// extreme kept pair's studentized deleted residual (its distance from the mean of the
    /// others, in their standard deviations, times sqrt(1 + 1/(m - 1))) exceeds the limit for
    /// the m pairs kept, it is left out; at most one pair in five. A pair is never left out
    /// when the others have no scatter (a deterministic metric: a differing pair is real).
    public func outliers(_ gains: [Double]) -> [Int] {
        let n = gains.count
        guard n >= DecisionPolicy.outlierFirstLook, n < tables.screen.count else { return [] }
        var kept = Array(gains.indices)
        var out: [Int] = []
        while out.count < n / 5 {
            let m = kept.count
            guard m >= DecisionPolicy.outlierFirstLook else { break }
            let summary = Statistics.Summary(kept.map { gains[$0] })
            let tiny = 1e-18 * Double(m) * Swift.max(1, summary.mean * summary.mean)
            var worst: Int?
            var worstScore = 0.0
            for index in kept {
                let deviation = gains[index] - summary.mean
                let others = summary.sumOfSquares - deviation * deviation * Double(m) / Double(m - 1)
                guard others > tiny else { continue }
                let spread = (others / Double(m - 2)).squareRoot() * (1 + 1 / Double(m - 1)).squareRoot()
                let score = abs(deviation) * Double(m) / Double(m - 1) / spread
                if score > worstScore {
                    worstScore = score
                    worst = index
                }
            }
            guard let worst, worstScore > tables.screen[m] else { break }
            out.append(worst)
            kept.removeAll { $0 == worst }
        }
        return out.sorted()
    }

    /// Evaluates all pairs measured so far. Call it after every new pair.
    /// - Throws: `DecisionError.invalidPolicy` for an unusable policy,
    ///   `.nonPositiveSample` or `.notFinite` naming the first bad pair.
    public func evaluate(_ pairs: [SamplePair]) throws(DecisionError) -> DecisionReport {
        try policy.validate()
        let all = try Self.logImprovements(pairs, direction: policy.direction)
        let n = all.count
        let left = outliers(all)
        let gains = left.isEmpty ? all : all.indices.filter { !left.contains($0) }.map { all[$0] }
        let m = gains.count
        let summary = Statistics.Summary(gains)
        let mean = m > 0 ? summary.mean : 0
        let threshold = log1p(policy.minEffect)
        let deterministic =
            m >= 2 && summary.maximum - summary.minimum <= 1e-12 * Swift.max(1, abs(mean))

        var lowerG = -Double.infinity
        var upperG = Double.infinity
        if deterministic {
            lowerG = mean
            upperG = mean
        } else if m >= 2 {
            let halfWidth = criticalT(pairs: m) * summary.standardDeviation / Double(m).squareRoot()
            lowerG = mean - halfWidth
            upperG = mean + halfWidth
        }
        // Pairs left out in the baseline's favour (the candidate's run was the slow one) may
        // not outnumber those in the candidate's favour by more than one at an accept: a
        // candidate that is itself sometimes very slow must not hide it behind the screen.
        let against = left.filter { all[$0] < mean }.count
        let lopsided = against - (left.count - against) > 1

        let verdict: Verdict
        var futile: Double?
        var heldBack = false
        if n < policy.minPairs {
            verdict = .needMore
        } else if deterministic {
            // A last-bit difference between ln(b / c) and ln(1 + minEffect) is not an improvement.
            verdict = mean - threshold > 1e-12 * Swift.max(1, abs(threshold)) ? .accept : .reject
        } else if lowerG > threshold, !lopsided {
            verdict = .accept
        } else if upperG < threshold {
            verdict = .reject
        } else if n >= policy.maxPairs {
            heldBack = lowerG > threshold
            verdict = .inconclusive
        } else if !(lowerG > threshold), let chance = futileChance(gains, measured: n, summary: summary, threshold: threshold) {
            futile = chance
            verdict = .inconclusive
        } else {
            heldBack = lowerG > threshold
            verdict = .needMore
        }

        var report = DecisionReport(
            verdict: verdict,
            pairs: n,
            estimate: expm1(mean),
            lower: expm1(lowerG),
            upper: expm1(upperG),
            threshold: policy.minEffect,
            reason: ""
        )
        report.reason = reason(for: report, deterministic: deterministic, futile: futile)
        if !left.isEmpty {
            let values = left.map { Format.percent(expm1(all[$0])) }.joined(separator: ", ")
            report.reason += "; \(left.count) of \(n) pairs left out as outliers (\(values))"
            if heldBack {
                report.reason += ", \(against) of them against the candidate: no accept while those outnumber the others by more than one"
            }
        }
        return report
    }

    /// The futility rule's chance, when it stops: the candidate is hopeless both with every
    /// kept pair and with the most extreme kept pair left out too (so one stall that the
    /// screen cannot yet tell from noise does not end a good candidate). `nil` to go on.
    /// Either way it only ever turns a would-be accept into a stop.
    func futileChance(_ gains: [Double], measured n: Int, summary: Statistics.Summary, threshold: Double) -> Double? {
        guard let chance = acceptChance(kept: gains.count, measured: n, summary: summary, threshold: threshold), chance < policy.futility
        else { return nil }
        guard gains.count >= DecisionPolicy.futilityFirstLook,
            let extreme = gains.indices.max(by: { abs(gains[$0] - summary.mean) < abs(gains[$1] - summary.mean) })
        else { return chance }
        var trimmed = gains
        trimmed.remove(at: extreme)
        let trimmedSummary = Statistics.Summary(trimmed)
        guard let other = acceptChance(kept: trimmed.count, measured: n, summary: trimmedSummary, threshold: threshold, looseStart: true)
        else { return chance }
        return other < policy.futility ? Swift.max(chance, other) : nil
    }

    /// The chance of an accept by `maxPairs` if the mean of g were its optimistic reading
    /// now (estimate + 1.645 standard errors) and the scatter stayed as seen: the final mean
    /// of the `kept` pairs and the `maxPairs - measured` still to come must clear `threshold`
    /// by c(total) s / sqrt(total). `nil` before the futility rule looks (off, too few pairs,
    /// or no finite bound).
    func acceptChance(kept: Int, measured n: Int, summary: Statistics.Summary, threshold: Double, looseStart: Bool = false) -> Double? {
        guard policy.futility > 0, n >= Swift.max(policy.minPairs, DecisionPolicy.futilityFirstLook), n < policy.maxPairs,
            looseStart || kept >= DecisionPolicy.futilityFirstLook, kept >= 2
        else { return nil }
        let remaining = Double(policy.maxPairs - n)
        let total = kept + policy.maxPairs - n
        let critical = criticalT(pairs: total)
        let sd = summary.standardDeviation
        guard critical.isFinite, sd > 0 else { return nil }
        let finalBound = threshold + critical * sd / Double(total).squareRoot()
        let needed = (Double(total) * finalBound - Double(kept) * summary.mean) / remaining
        let optimistic = summary.mean + DecisionPolicy.futilityOptimism * sd / Double(kept).squareRoot()
        return 1 - Statistics.normalCDF((needed - optimistic) / (sd / remaining.squareRoot()))
    }

    /// Per-pair log improvements g (positive = candidate better).
    /// - Throws: `DecisionError` naming the first pair (1-based) with a sample
    ///   that is not finite or not positive.
    public static func logImprovements(
        _ pairs: [SamplePair], direction: Direction
    ) throws(DecisionError) -> [Double] {
        var gains: [Double] = []
        gains.reserveCapacity(pairs.count)
        for (index, pair) in pairs.enumerated() {
            for value in [pair.baseline, pair.candidate] {
                guard value.isFinite else { throw .notFinite(pair: index + 1) }
                guard value > 0 else { throw .nonPositiveSample(pair: index + 1, value: value) }
            }
            let ratio = log(pair.candidate) - log(pair.baseline)
            gains.append(direction == .higher ? ratio : -ratio)
        }
        return gains
    }

    /// The minimum effect that measurement bias alone can fake, from A/A pairs: the best
    /// code measured in the baseline slot (`baseline`) against the same code in the
    /// candidate slot (`candidate`), in random order within each pair.
    ///
    /// Run-to-run scatter is the sequential test's business (its false-accept rate
    /// already covers it), so the floor does not add scatter: what the paired design
    /// cannot remove is a systematic difference between the two slots (their paths, the
    /// layout of the two builds, caches), which favours every candidate alike. The floor
    /// is that bias, signed so that only a bias in the candidate's favour raises it, plus
    /// one standard error of its estimate: max(0, exp(mean g + s / sqrt(n)) - 1), g the
    /// per-pair log improvement. With five or more pairs the most extreme one is left
    /// out first (one stall of the machine would otherwise set the floor until the next
    /// accept). Pairs with a non-finite or non-positive sample are skipped.
    ///
    /// Why not an upper confidence bound at the decision's level: with the few A/A pairs
    /// a loop can afford, that bound is mostly scatter (about 2.5 standard deviations of
    /// g with 6 pairs at 99%: +7% on a benchmark with 3% run-to-run noise), so no 5%
    /// improvement could ever pass, while a slot bias it is meant to catch is a fixed
    /// offset that the estimate plus one standard error covers in most calibrations.
    /// `ratchet-bench-decision` measures both against injected slot bias.
    public static func noiseFloor(aaPairs: [SamplePair], direction: Direction) -> NoiseFloor {
        var gains = aaPairs.compactMap { pair -> Double? in
            guard pair.baseline.isFinite, pair.candidate.isFinite,
                pair.baseline > 0, pair.candidate > 0
            else { return nil }
            let ratio = log(pair.candidate) - log(pair.baseline)
            return direction == .higher ? ratio : -ratio
        }
        var trimmed = false
        if gains.count >= 5 {
            let center = Statistics.Summary(gains).mean
            if let worst = gains.indices.max(by: { abs(gains[$0] - center) < abs(gains[$1] - center) }) {
                gains.remove(at: worst)
                trimmed = true
            }
        }
        guard !gains.isEmpty else { return NoiseFloor(pairs: 0, trimmed: false, bias: 0, standardError: 0, floor: 0) }
        let summary = Statistics.Summary(gains)
        let error = gains.count >= 2 ? summary.standardDeviation / Double(gains.count).squareRoot() : 0
        return NoiseFloor(
            pairs: gains.count, trimmed: trimmed, bias: expm1(summary.mean), standardError: error,
            floor: Swift.max(0, expm1(summary.mean + error)))
    }

    // MARK: - Reason text

    private func reason(for report: DecisionReport, deterministic: Bool, futile: Double?) -> String {
        let level = Format.confidence(policy.confidence)
        let minimum = "the \(Format.percent(policy.minEffect)) minimum"
        let n = report.pairs
        let pairWord = n == 1 ? "pair" : "pairs"
        let estimate = Format.percent(report.estimate)
        let bounds =
            report.upper.isFinite
            ? "\(level) bounds \(Format.percent(report.lower)) to \(Format.percent(report.upper))"
            : "no \(level) bound yet"
        switch report.verdict {
        case .accept where deterministic:
            return "accepted after \(n) \(pairWord): every pair measured \(estimate) (zero variance, "
                + "so the \(level) bounds equal it), which clears \(minimum)"
        case .reject where deterministic:
            return "rejected after \(n) \(pairWord): every pair measured \(estimate) (zero variance, "
                + "so the \(level) bounds equal it), which does not clear \(minimum)"
        case .accept:
            return "accepted after \(n) \(pairWord): \(estimate) (\(level) lower bound "
                + "\(Format.percent(report.lower))) clears \(minimum)"
        case .reject:
            return "rejected after \(n) \(pairWord): \(estimate) (\(level) upper bound "
                + "\(Format.percent(report.upper))) cannot reach \(minimum)"
        case .inconclusive where futile != nil:
            let chance = Format.percent(futile ?? 0).dropFirst()
            return "stopped early, inconclusive after \(n) \(pairWord): \(estimate) (\(bounds)); even at an optimistic reading "
                + "the chance to clear \(minimum) by \(policy.maxPairs) pairs is \(chance), below the "
                + "\(Format.percent(policy.futility).dropFirst()) futility limit"
        case .inconclusive:
            return "inconclusive after \(n) \(pairWord) (the maximum): \(estimate) (\(bounds)) "
                + "neither clears nor rules out \(minimum)"
        case .needMore where n < policy.minPairs:
            return "need more pairs: \(n) of at least \(policy.minPairs) so far, \(estimate) "
                + "(\(bounds)) against \(minimum)"
        case .needMore:
            return "need more pairs: after \(n) \(pairWord) \(estimate) (\(bounds)) "
                + "neither clears nor rules out \(minimum)"
        }
    }
}

/// Wald's invariant sequential t-test as a mixture e-process.
///
/// With x_i = g_i - m, S1 = sum x_i, S2 = sum x_i^2 and r = S1 / sqrt(S2), the
/// likelihood ratio of the scale-invariant data between mean delta * sigma and
/// mean 0 is
///   R_n(r; delta) = exp(-n delta^2 / 2) * J_{n-1}(delta r) / J_{n-1}(0),
/// J_k(a) = integral over v > 0 of v^k exp(-v^2 / 2 + a v) dv. R_n is a
/// nonnegative martingale with mean 1 under the null for every sigma, so a
/// weighted average of R_n over several deltas is one too.
enum SequentialTTest {
    /// Standardized effects (mean over sigma of g) and their weights. With the level
    /// calibrated to the looks the weights only shape the boundary: most at 0.9 (effects the
    /// horizon can decide but only with 10-20 pairs, where pairs are dear; smaller ones rarely
    /// clear a 30-pair horizon at all), the rest at 3 and 10 so large effects stop after a few
    /// pairs. Simulated against the previous (0.8, 1.2, 3, 10 at 0.4, 0.35, 0.15, 0.1), both
    /// calibrated: +0.7 points of power and -0.2 pairs at 0.9 s.d. per pair, +0.1 to +0.4
    /// pairs at 1.2-2.5 s.d.
    static let alternatives: [(delta: Double, weight: Double)] = [
        (0.9, 0.8), (3, 0.1), (10, 0.1),
    ]

    /// The share of the false-accept budget left unspent for the crossing computation's
    /// numerical error (measured below 0.2%; see `Statistics.tFirstCrossings`).
    static let numericalMargin = 0.01

    /// log J_k(a) for a >= 0, by the recurrence J_{k+1} = a J_k + k J_{k-1}
    /// (all terms positive, so it is stable) from J_0 = e^{a^2/2} sqrt(2 pi) Phi(a)
    /// and J_1 = 1 + a J_0.
    static func logHalfLineMoment(order k: Int, tilt a: Double) -> Double {
        guard a >= 0 else { return logHalfLineMomentByQuadrature(order: k, tilt: a) }
        let logJ0 = a * a / 2 + 0.5 * log(2 * Double.pi) + log(Statistics.normalCDF(a))
        if k == 0 { return logJ0 }
        var ratio = a + exp(-logJ0)  // J_1 / J_0
        var logJ = logJ0 + log(ratio)
        var order = 1
        while order < k {
            ratio = a + Double(order) / ratio  // J_{order+1} / J_order
            logJ += log(ratio)
            order += 1
        }
        return logJ
    }

    /// log J_k(a) by the trapezoid rule after v = e^u, for any a (used for a < 0,
    /// where the recurrence would lose digits, and to cross-check it in tests).
    static func logHalfLineMomentByQuadrature(order k: Int, tilt a: Double) -> Double {
        // In u the integrand is exp(f(u)), f(u) = n u - e^{2u} / 2 + a e^u, with one
        // peak where e^u = (a + sqrt(a^2 + 4n)) / 2 and curvature -(e^{2u} + n) there.
        let n = Double(k + 1)
        let peakExp = (a + (a * a + 4 * n).squareRoot()) / 2
        let peak = log(peakExp)
        let h = 0.1 / (peakExp * peakExp + n).squareRoot()
        func f(_ u: Double) -> Double { n * u - exp(2 * u) / 2 + a * exp(u) }
        let top = f(peak)
        var sum = 1.0
        for direction in [-1.0, 1.0] {
            var step = 1
            while step < 1_000_000 {
                let term = exp(f(peak + direction * Double(step) * h) - top)
                sum += term
                if term < 1e-18 { break }
                step += 1
            }
        }
        return top + log(sum * h)
    }

    /// log R_n(r; delta) for one alternative.
    static func logLikelihoodRatio(pairs n: Int, r: Double, delta: Double) -> Double {
        let k = n - 1
        let logNull = (Double(n) / 2 - 1) * log(2.0) + Statistics.logGamma(Double(n) / 2)
        return -Double(n) * delta * delta / 2 + logHalfLineMoment(order: k, tilt: delta * r) - logNull
    }

    /// log of the mixture e-value after n pairs at statistic r.
    static func logEValue(pairs n: Int, r: Double) -> Double {
        let terms = alternatives.map { log($0.weight) + logLikelihoodRatio(pairs: n, r: r, delta: $0.delta) }
        let top = terms.max() ?? -.infinity
        guard top.isFinite else { return top }
        return top + log(terms.reduce(0) { $0 + exp($1 - top) })
    }

    /// The t value at which the e-value reaches 1 / alpha after n pairs (Ville's level), or
    /// infinity when it cannot (too few pairs for this alpha).
    static func criticalT(pairs n: Int, alpha: Double) -> Double {
        guard alpha > 0, alpha < 1 else { return .infinity }
        return criticalT(pairs: n, level: -log(alpha))
    }

    /// The t value at which the log e-value reaches `level` after n pairs, or infinity when it
    /// cannot (too few pairs for this level).
    static func criticalT(pairs n: Int, level target: Double) -> Double {
        guard n >= 2, !target.isNaN, target < .infinity else { return .infinity }
        let rootN = Double(n).squareRoot()
        // r ranges over [0, sqrt(n)); r = sqrt(n) means zero variance. The e-value rises with
        // r: a bracketed regula falsi (Illinois) finds the crossing in about ten evaluations.
        var high = rootN
        var fHigh = logEValue(pairs: n, r: high) - target
        guard fHigh > 0 else { return .infinity }
        var low = 0.0
        var fLow = logEValue(pairs: n, r: low) - target
        guard fLow < 0 else { return 0 }
        var side = 0
        for _ in 0..<200 {
            guard high - low > 1e-14 * rootN else { break }
            var next = (low * fHigh - high * fLow) / (fHigh - fLow)
            if !(next > low && next < high) { next = (low + high) / 2 }
            let f = logEValue(pairs: n, r: next) - target
            if f > 0 {
                (high, fHigh) = (next, f)
                if side == 1 { fLow /= 2 }
                side = 1
            } else {
                (low, fLow) = (next, f)
                if side == -1 { fHigh /= 2 }
                side = -1
            }
            if f > 0, f < 1e-12 { break }
        }
        let r2 = high * high
        let count = Double(n)
        guard r2 < count else { return .infinity }
        return (Double(n - 1) * r2 / (count - r2)).squareRoot()
    }

    /// The chance, for normal g whose mean is exactly the threshold, that the rule with this
    /// level crosses at some look from `firstLook` to `lastLook` (`Statistics.tFirstCrossings`).
    static func falseAcceptChance(level: Double, firstLook: Int, lastLook: Int) -> Double {
        guard lastLook >= 0 else { return 0 }
        let critical = (0...lastLook).map { n in n >= firstLook ? criticalT(pairs: n, level: level) : .infinity }
        return Statistics.tFirstCrossings(critical: critical, firstLook: firstLook).reduce(0, +)
    }

    /// The lowest level whose `falseAcceptChance` over the looks is at most
    /// `alpha * (1 - numericalMargin)`, to 0.2% of that budget; Ville's log(1 / alpha) when
    /// that is already at the budget (it is valid whatever the looks) or there is no look.
    /// The chance falls as the level rises (every c(n) rises), so the search is a bracketed
    /// regula falsi on log(chance), which is close to linear in the level.
    static func calibratedLevel(alpha: Double, firstLook: Int, lastLook: Int) -> Double {
        let ville = -log(alpha)
        let first = Swift.max(firstLook, SequentialDecision.earliestLook)
        guard alpha > 0, alpha < 1, lastLook >= first else { return ville }
        let target = alpha * (1 - numericalMargin)
        func chance(_ level: Double) -> Double { falseAcceptChance(level: level, firstLook: first, lastLook: lastLook) }
        // high: at or below the budget; low: above it.
        var high = ville
        var highChance = chance(high)
        guard highChance <= target, highChance.isFinite else { return ville }
        // Ville's level spends 10-70% of alpha and the chance falls about as exp(-level): the
        // first guess is usually within a few percent.
        var low = highChance > 0 ? high - Swift.min(1.15 * log(target / highChance) + 0.02, 3) : high - 1
        var lowChance = chance(low)
        while lowChance <= target {
            guard low > ville - 20, lowChance.isFinite else { return high }
            (high, highChance) = (low, lowChance)
            low -= 0.5
            lowChance = chance(low)
        }
        guard lowChance.isFinite else { return high }
        // Regula falsi on log(chance / target) (positive at low, at most 0 at high), with the
        // Illinois halving when one end is kept twice.
        var fLow = log(lowChance / target)
        var fHigh = highChance > 0 ? log(highChance / target) : -Double.infinity
        var side = 0
        for _ in 0..<30 {
            guard high - low > 1e-7, highChance < target * (1 - 2e-3) else { break }
            var next = (low + high) / 2
            if fHigh.isFinite {
                let candidate = (low * fHigh - high * fLow) / (fHigh - fLow)
                if candidate > low, candidate < high { next = candidate }
            }
            let nextChance = chance(next)
            guard nextChance.isFinite else { break }
            let f = nextChance > 0 ? log(nextChance / target) : -Double.infinity
            if nextChance <= target {
                (high, highChance, fHigh) = (next, nextChance, f)
                if side == -1 { fLow /= 2 }
                side = -1
            } else {
                (low, lowChance, fLow) = (next, nextChance, f)
                if side == 1 { fHigh /= 2 }
                side = 1
            }
        }
        return high
    }
}

/// What an A/A calibration showed: the bias between the two slots and the minimum
/// effect it implies. Effects are relative, positive = in the candidate slot's favour.
public struct NoiseFloor: Sendable, Equatable, Codable {
    /// A/A pairs used (after the most extreme one was left out, if it was).
    public var pairs: Int
    /// Whether the most extreme pair was left out.
    public var trimmed: Bool
    /// The candidate slot's apparent advantage with identical code: exp(mean g) - 1.
    public var bias: Double
    /// Standard error of mean g (log scale, about a relative error).
    public var standardError: Double
    /// max(0, exp(mean g + standard error) - 1): what a candidate must beat.
    public var floor: Double

    public init(pairs: Int, trimmed: Bool, bias: Double, standardError: Double, floor: Double) {
        self.pairs = pairs
        self.trimmed = trimmed
        self.bias = bias
        self.standardError = standardError
        self.floor = floor
    }

    /// The largest slot bias a measurement set-up may show on its own: max(3 × min_effect, 10%).
    public static func setUpLimit(minEffect: Double) -> Double {
        max(3 * minEffect, 0.10)
    }

    /// Whether the two slots disagree far beyond what a set-up explains, in either direction:
    /// the bias's 99.9% confidence interval (Student t over the A/A pairs' degrees of freedom,
    /// so three noisy pairs on a loaded machine cannot trip it) lies wholly beyond
    /// `setUpLimit`. Slots that hold the same commit (checked file by file) and still do this
    /// are not measuring the same code: the loop stops instead of raising the minimum.
    public func isSetUpError(minEffect: Double) -> Bool {
        let limit = log1p(Self.setUpLimit(minEffect: minEffect))
        let g = abs(log1p(bias))
        guard standardError > 0 else { return g > limit }
        guard pairs >= 2 else { return false }
        return g - Statistics.studentTQuantile(0.999, df: Double(pairs - 1)) * standardError > limit
    }

    /// Whether the bias in the candidate slot's favour is beyond what A/A noise explains at
    /// 99%: log(1 + bias) above `significanceLimit` standard errors (any bias above 0 when
    /// there is no scatter, as with instruction counts).
    public var isBeyondNoise: Bool { isBeyondNoise(pooledWith: Statistics.Summary()) }

    /// `isBeyondNoise` with the scatter of the decision's own pairs pooled in: the A/A pairs
    /// alone give the standard error few degrees of freedom (8 with 10 pairs, one left out),
    /// so a 5% bias at CV 3% would pass for noise 60% of the time; pooled with the pairs of
    /// the decision so far (the same benchmark on the same machine), the limit falls from
    /// about 4 standard errors toward 2.4.
    public func isBeyondNoise(pooledWith decision: Statistics.Summary) -> Bool {
        let g = log1p(bias)
        let (error, limit) = pooledError(decision)
        guard error > 0 else { return g > 1e-12 }
        return g > limit * error
    }

    /// The standard error of the bias with the decision's scatter pooled in, and the limit in
    /// standard errors for it.
    func pooledError(_ decision: Statistics.Summary) -> (error: Double, limit: Double) {
        guard pairs >= 2 else { return (standardError, .infinity) }
        let aaDegrees = Double(pairs - 1)
        guard decision.count >= 2 else { return (standardError, Self.significanceLimit(pairs: pairs, trimmed: trimmed)) }
        let aaSquares = standardError * standardError * Double(pairs) * aaDegrees
        let degrees = aaDegrees + Double(decision.count - 1)
        let sd = ((aaSquares + decision.sumOfSquares) / degrees).squareRoot()
        return (sd / Double(pairs).squareRoot(), Statistics.studentTQuantile(Self.pooledLevel, df: degrees))
    }

    /// The one-sided level of the pooled limit: stricter than the A/A-only 99%, because it is
    /// looked at again after every pair and each look may raise the minimum.
    static let pooledLevel = 0.995

    /// The one-sided 99% limit for mean / standard error of the A/A pairs: Student's t with
    /// pairs - 1 degrees of freedom, widened by 1 + 1.25 / sqrt(pairs + 1) when the most
    /// extreme pair was left out (that shrinks the standard error: by simulation, the 99%
    /// quantile of the trimmed statistic is 1.35 t at 10 pairs, 1.22 t at 20, 1.13 t at 40;
    /// the widening is at or above that from 8 pairs on).
    static func significanceLimit(pairs: Int, trimmed: Bool) -> Double {
        guard pairs >= 2 else { return .infinity }
        let t = Statistics.studentTQuantile(0.99, df: Double(pairs - 1))
        return trimmed ? t * (1 + 1.25 / Double(pairs + 1).squareRoot()) : t
    }

    /// The minimum effect a candidate must show in this set-up. A/A is a tripwire, not a tax:
    /// a bias within noise (`isBeyondNoise` false) leaves `configured` alone, since raising
    /// the minimum by every calibration's scatter costs real wins (in simulation, a true +5%
    /// at CV 3% went from 90% to 63% accepted). A bias beyond noise is paid for in full:
    /// `configured` on top of the bias plus one standard error,
    /// (1 + configured) exp(log(1 + bias) + se) - 1, so the change itself is still
    /// `configured` better. A bias far beyond noise stops the loop instead (the runner's
    /// `NoiseFloor.setUpLimit`). `decision` pools the decision's own scatter in (see
    /// `isBeyondNoise(pooledWith:)`); the minimum never falls below `configured`, so however
    /// it moves during a decision the false-accept bound at `configured` holds.
    public func minimumEffect(configured: Double, pooledWith decision: Statistics.Summary = Statistics.Summary()) -> Double {
        guard isBeyondNoise(pooledWith: decision) else { return configured }
        return expm1(log1p(configured) + log1p(bias) + pooledError(decision).error)
    }

    /// "slot bias +0.4% +/- 0.8% over 11 A/A pairs: floor +1.2%".
    public var summary: String {
        "slot bias \(Format.percent(bias)) +/- \(Format.percent(standardError).dropFirst()) over \(pairs) A/A "
            + (pairs == 1 ? "pair" : "pairs") + (trimmed ? " (most extreme left out)" : "")
            + ": floor \(Format.percent(floor))"
    }
}
