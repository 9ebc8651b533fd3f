// Interim copy of the decision API until Decision.swift lands; removed then.
import Foundation

public enum Direction: String, Sendable, Codable { case lower, higher }

public struct DecisionPolicy: Sendable, Equatable, Codable {
    public var direction: Direction
    public var minEffect: Double
    public var confidence: Double
    public var minPairs: Int
    public var maxPairs: Int
    public init(direction: Direction, minEffect: Double, confidence: Double, minPairs: Int, maxPairs: Int) {
        self.direction = direction
        self.minEffect = minEffect
        self.confidence = confidence
        self.minPairs = minPairs
        self.maxPairs = maxPairs
    }
}

public struct SamplePair: Sendable, Equatable, Codable {
    public var baseline: Double
    public var candidate: Double
    public init(baseline: Double, candidate: Double) {
        self.baseline = baseline
        self.candidate = candidate
    }
}

public enum Verdict: String, Sendable, Codable { case needMore, accept, reject, inconclusive }

public struct DecisionReport: Sendable, Equatable, Codable {
    public var verdict: Verdict
    public var pairs: Int
    public var estimate: Double
    public var lower: Double
    public var upper: Double
    public var threshold: Double
    public var reason: String
}

public enum DecisionError: Error, Sendable, Equatable {
    case nonPositiveSample(pair: Int, value: Double)
    case notFinite(pair: Int)
}

public struct SequentialDecision: Sendable {
    public let policy: DecisionPolicy
    public init(policy: DecisionPolicy) { self.policy = policy }
    public func evaluate(_ pairs: [SamplePair]) throws(DecisionError) -> DecisionReport {
        var g: [Double] = []
        for (i, p) in pairs.enumerated() {
            guard p.baseline.isFinite, p.candidate.isFinite else { throw .notFinite(pair: i) }
            guard p.baseline > 0 else { throw .nonPositiveSample(pair: i, value: p.baseline) }
            guard p.candidate > 0 else { throw .nonPositiveSample(pair: i, value: p.candidate) }
            g.append(policy.direction == .lower ? log(p.baseline / p.candidate) : log(p.candidate / p.baseline))
        }
        let n = Double(g.count)
        let mean = g.isEmpty ? 0 : g.reduce(0, +) / n
        let sd = g.count > 1 ? sqrt(g.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / (n - 1)) : 0
        let z = 3.0
        let half = g.count > 1 ? z * sd / sqrt(n) : .infinity
        let t = log(1 + policy.minEffect)
        var verdict = Verdict.needMore
        if g.count >= policy.minPairs {
            if mean - half > t { verdict = .accept } else if mean + half < t { verdict = .reject } else if g.count >= policy.maxPairs { verdict = .inconclusive }
        }
        return DecisionReport(verdict: verdict, pairs: g.count, estimate: exp(mean) - 1, lower: exp(mean - half) - 1, upper: exp(mean + half) - 1, threshold: policy.minEffect, reason: "\(verdict.rawValue) after \(g.count) pairs")
    }
}
