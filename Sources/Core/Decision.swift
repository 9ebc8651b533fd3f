import Foundation
import Synchronization

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
