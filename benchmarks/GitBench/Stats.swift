import Foundation

extension Duration {
    var milliseconds: Double {
        let parts = components
        return Double(parts.seconds) * 1000 + Double(parts.attoseconds) / 1e15
    }
}

/// Median and 90th percentile (nearest rank) of a set of millisecond samples.
struct Summary {
    var median: Double
    var p90: Double
    var count: Int

    init?(_ samples: [Double]) {
        guard !samples.isEmpty else { return nil }
        let sorted = samples.sorted()
        let middle = sorted.count / 2
        median = sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
        let rank = Int((0.9 * Double(sorted.count)).rounded(.up))
        p90 = sorted[max(0, min(sorted.count - 1, rank - 1))]
        count = sorted.count
    }
}

func format(_ value: Double?, decimals: Int = 3) -> String {
    guard let value else { return "–" }
    return String(format: "%.\(decimals)f", value)
}

func jsonNumber(_ value: Double?) -> String {
    guard let value, value.isFinite else { return "null" }
    return String(format: "%.3f", value)
}

func pad(_ text: String, _ width: Int, left: Bool = false) -> String {
    let count = text.count
    guard count < width else { return text }
    let spaces = String(repeating: " ", count: width - count)
    return left ? text + spaces : spaces + text
}
