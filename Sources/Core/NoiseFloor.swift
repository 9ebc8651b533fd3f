import Foundation

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

extension SequentialDecision {
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
}
