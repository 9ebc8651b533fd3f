import Foundation

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
