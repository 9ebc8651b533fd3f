import Foundation

/// An extra benchmark of a loop (`[[benchmark]]`), measured on every run next to the main
/// `[commands.bench]`.
public struct BenchmarkSpec: Sendable, Equatable, Codable {
    public var name: String
    public var command: CommandSpec
    public var source: MetricSource
    public var direction: Direction
    /// Its share of the combined gain (relative to the others).
    public var weight: Double

    public init(name: String, command: CommandSpec, source: MetricSource, direction: Direction, weight: Double) {
        self.name = name
        self.command = command
        self.source = source
        self.direction = direction
        self.weight = weight
    }
}

/// Several benchmarks in one loop: a candidate is judged on the weighted combined gain, and
/// refused if any single benchmark regresses significantly (one-sided t-tests with a
/// Bonferroni correction over the benchmarks).
public enum MultiBenchmark {
    /// Per-pair combined log improvement: the weighted mean of each benchmark's.
    /// - Parameter improvements: `improvements[b][p]` is benchmark b's log improvement in pair p.
    public static func combined(_ improvements: [[Double]], weights: [Double]) -> [Double] {
        guard let pairs = improvements.map(\.count).min(), pairs > 0 else { return [] }
        let total = weights.reduce(0, +)
        guard total > 0 else { return [] }
        return (0..<pairs).map { pair in
            zip(improvements, weights).reduce(0) { $0 + $1.0[pair] * $1.1 } / total
        }
    }

    /// A benchmark that got significantly worse.
    public struct Regression: Sendable, Equatable {
        public var name: String
        /// Relative change (negative = worse).
        public var estimate: Double
        /// Upper confidence bound of the relative change.
        public var upper: Double
    }

    /// The benchmarks whose mean log improvement is significantly below zero at `alpha`,
    /// corrected for the number of benchmarks tested.
    public static func significantRegressions(names: [String], improvements: [[Double]], alpha: Double) -> [Regression] {
        let corrected = alpha / Double(max(names.count, 1))
        var found: [Regression] = []
        for (name, values) in zip(names, improvements) {
            guard values.count >= 2, let mean = Statistics.mean(values), let variance = Statistics.sampleVariance(values) else { continue }
            let n = Double(values.count)
            let sd = variance.squareRoot()
            if sd == 0 {
                if mean < 0 { found.append(Regression(name: name, estimate: exp(mean) - 1, upper: exp(mean) - 1)) }
                continue
            }
            let t = Statistics.studentTQuantile(1 - corrected, df: n - 1)
            let upper = mean + t * sd / n.squareRoot()
            if upper < 0 { found.append(Regression(name: name, estimate: exp(mean) - 1, upper: exp(upper) - 1)) }
        }
        return found
    }
}
