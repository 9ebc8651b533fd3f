import Foundation

/// Small inline-SVG charts, self-contained (no script, no external file), with escaped labels.
public enum Charts {
    /// One baseline/candidate pair of benchmark samples.
    public struct Pair: Sendable, Equatable {
        public var pair: Int
        public var baseline: Double?
        public var candidate: Double?

        public init(pair: Int, baseline: Double?, candidate: Double?) {
            self.pair = pair
            self.baseline = baseline
            self.candidate = candidate
        }
    }

    static let baselineColour = "#8c959f"
    static let candidateColour = "#0b5cad"

    static func number(_ value: Double) -> String {
        let magnitude = abs(value)
        if magnitude == 0 { return "0" }
        if magnitude >= 1e5 || magnitude < 1e-3 { return String(format: "%.3g", value) }
        if magnitude >= 100 { return String(format: "%.0f", value) }
        if magnitude >= 10 { return String(format: "%.1f", value) }
        return String(format: "%.3g", value)
    }

    static func f(_ value: Double) -> String { String(format: "%.1f", value) }

    /// Nice evenly spaced ticks covering `low...high`.
    static func ticks(_ low: Double, _ high: Double, count: Int = 4) -> [Double] {
        guard high > low, low.isFinite, high.isFinite else { return [low] }
        let raw = (high - low) / Double(count)
        let power = pow(10, floor(log10(raw)))
        let step = [1.0, 2, 2.5, 5, 10].map { $0 * power }.first { $0 >= raw } ?? raw
        var values: [Double] = []
        var value = (low / step).rounded(.down) * step
        while value <= high + step * 1e-9 && values.count < 20 {
            if value >= low - step * 1e-9 { values.append(value) }
            value += step
        }
        return values
    }

    /// Baseline and candidate samples per pair: two lines of dots, with a legend.
    /// `lowerIsBetter` only decides the legend's hint.
    public static func samples(_ pairs: [Pair], lowerIsBetter: Bool, width: Int = 560, height: Int = 220) -> String {
        let values = pairs.flatMap { [$0.baseline, $0.candidate].compactMap { $0 } }.filter(\.isFinite)
        guard !values.isEmpty, let minimum = values.min(), let maximum = values.max() else {
            return "<p class=\"muted\">No benchmark samples.</p>"
        }
        let pad = (maximum - minimum) * 0.1 + (maximum == minimum ? max(abs(maximum) * 0.05, 1e-9) : 0)
        let low = minimum - pad, high = maximum + pad
        let left = 56.0, right = Double(width) - 14, top = 24.0, bottom = Double(height) - 30
        let count = max(pairs.count, 1)
        func x(_ index: Int) -> Double { count == 1 ? (left + right) / 2 : left + (right - left) * Double(index) / Double(count - 1) }
        func y(_ value: Double) -> Double { bottom - (bottom - top) * (value - low) / (high - low) }
        var svg =
            "<svg class=\"chart samples\" xmlns=\"http://www.w3.org/2000/svg\" width=\"\(width)\" height=\"\(height)\" viewBox=\"0 0 \(width) \(height)\" role=\"img\" aria-label=\"benchmark samples per pair\">"
        svg += "<rect x=\"0\" y=\"0\" width=\"\(width)\" height=\"\(height)\" fill=\"#fff\"/>"
        for tick in ticks(low, high) {
            svg += "<line x1=\"\(f(left))\" x2=\"\(f(right))\" y1=\"\(f(y(tick)))\" y2=\"\(f(y(tick)))\" stroke=\"#eceff3\"/>"
            svg += "<text x=\"\(f(left - 6))\" y=\"\(f(y(tick) + 4))\" text-anchor=\"end\">\(HTML.escape(number(tick)))</text>"
        }
        for (index, pair) in pairs.enumerated() where pairs.count <= 30 || index % max(1, pairs.count / 15) == 0 {
            svg += "<text x=\"\(f(x(index)))\" y=\"\(f(bottom + 16))\" text-anchor=\"middle\">\(pair.pair + 1)</text>"
        }
        svg += "<text x=\"\(f((left + right) / 2))\" y=\"\(height - 2)\" text-anchor=\"middle\">pair</text>"
        for (name, colour, value) in [
            ("baseline", baselineColour, { (p: Pair) in p.baseline }), ("candidate", candidateColour, { (p: Pair) in p.candidate }),
        ] {
            let points = pairs.enumerated().compactMap { index, pair in value(pair).map { (x(index), y($0)) } }
            if points.count > 1 {
                svg +=
                    "<polyline fill=\"none\" stroke=\"\(colour)\" stroke-width=\"1.5\" stroke-opacity=\"0.6\" points=\"\(points.map { "\(f($0.0)),\(f($0.1))" }.joined(separator: " "))\"/>"
            }
            for point in points {
                svg += "<circle class=\"\(name)\" cx=\"\(f(point.0))\" cy=\"\(f(point.1))\" r=\"3.5\" fill=\"\(colour)\"/>"
            }
        }
        svg +=
            "<circle cx=\"\(f(left + 6))\" cy=\"12\" r=\"4\" fill=\"\(baselineColour)\"/><text x=\"\(f(left + 14))\" y=\"16\">baseline (best)</text>"
        svg += "<circle cx=\"\(f(left + 120))\" cy=\"12\" r=\"4\" fill=\"\(candidateColour)\"/><text x=\"\(f(left + 128))\" y=\"16\">candidate</text>"
        svg += "<text x=\"\(f(right))\" y=\"16\" text-anchor=\"end\">\(lowerIsBetter ? "lower is better" : "higher is better")</text>"
        return svg + "</svg>"
    }

    /// The cumulative improvement over time as a step line (0% at the start), one dot per accept.
    public static func improvement(_ points: [(time: Date, value: Double)], from start: Date, to end: Date, width: Int = 640, height: Int = 200)
        -> String
    {
        let values = [0.0] + points.map(\.value)
        var maximum = max(values.max() ?? 0, 0.01)
        let minimum = min(values.min() ?? 0, 0)
        // Round the top up to a tick, so the highest point sits under a labelled line.
        let axis = ticks(minimum, maximum)
        if let last = axis.last, last < maximum, axis.count > 1 { maximum = last + (axis[1] - axis[0]) }
        let left = 52.0, right = Double(width) - 16, top = 14.0, bottom = Double(height) - 28
        let span = max(end.timeIntervalSince(start), 1)
        func x(_ time: Date) -> Double { left + (right - left) * min(max(time.timeIntervalSince(start) / span, 0), 1) }
        func y(_ value: Double) -> Double { bottom - (bottom - top) * (value - minimum) / (maximum - minimum) }
        var svg =
            "<svg class=\"chart improvement\" xmlns=\"http://www.w3.org/2000/svg\" width=\"\(width)\" height=\"\(height)\" viewBox=\"0 0 \(width) \(height)\" role=\"img\" aria-label=\"cumulative improvement over time\">"
        svg += "<rect x=\"0\" y=\"0\" width=\"\(width)\" height=\"\(height)\" fill=\"#fff\"/>"
        for tick in ticks(minimum, maximum) {
            svg += "<line x1=\"\(f(left))\" x2=\"\(f(right))\" y1=\"\(f(y(tick)))\" y2=\"\(f(y(tick)))\" stroke=\"#eceff3\"/>"
            svg +=
                "<text x=\"\(f(left - 6))\" y=\"\(f(y(tick) + 4))\" text-anchor=\"end\">\(HTML.escape(String(format: "%+.0f%%", tick * 100)))</text>"
        }
        let formatter = DateFormatter()
        formatter.dateFormat = span > 2 * 86400 ? "MMM d" : "HH:mm"
        for step in 0...4 {
            let time = start.addingTimeInterval(span * Double(step) / 4)
            svg += "<text x=\"\(f(x(time)))\" y=\"\(f(bottom + 16))\" text-anchor=\"middle\">\(HTML.escape(formatter.string(from: time)))</text>"
        }
        var path = "M\(f(x(start))),\(f(y(0)))"
        var current = 0.0
        for point in points {
            path += " H\(f(x(point.time))) V\(f(y(point.value)))"
            current = point.value
        }
        path += " H\(f(x(end))) V\(f(y(current)))"
        svg += "<path d=\"\(path)\" fill=\"none\" stroke=\"#1a7f37\" stroke-width=\"2\"/>"
        for point in points {
            svg +=
                "<circle cx=\"\(f(x(point.time)))\" cy=\"\(f(y(point.value)))\" r=\"3.5\" fill=\"#1a7f37\"><title>\(HTML.escape(HTML.percent(point.value)))</title></circle>"
        }
        return svg + "</svg>"
    }

    /// An effect and its interval on a horizontal axis with zero and the minimum effect marked.
    public static func interval(estimate: Double, lower: Double?, upper: Double?, threshold: Double?, width: Int = 420, height: Int = 54) -> String {
        let marks = [estimate, lower, upper, threshold, 0].compactMap { $0 }.filter(\.isFinite)
        let low = (marks.min() ?? 0), high = (marks.max() ?? 0)
        let pad = max((high - low) * 0.15, 0.01)
        let from = low - pad, to = high + pad
        let left = 10.0, right = Double(width) - 10
        func x(_ value: Double) -> Double { left + (right - left) * (value - from) / (to - from) }
        var svg =
            "<svg class=\"chart interval\" xmlns=\"http://www.w3.org/2000/svg\" width=\"\(width)\" height=\"\(height)\" viewBox=\"0 0 \(width) \(height)\" role=\"img\" aria-label=\"effect with its interval\">"
        svg += "<line x1=\"\(f(left))\" x2=\"\(f(right))\" y1=\"22\" y2=\"22\" stroke=\"#dde2ea\"/>"
        svg +=
            "<line x1=\"\(f(x(0)))\" x2=\"\(f(x(0)))\" y1=\"8\" y2=\"36\" stroke=\"#8c959f\"/><text x=\"\(f(x(0)))\" y=\"48\" text-anchor=\"\((threshold ?? 0) < 0 ? "start" : "end")\">0</text>"
        if let threshold, threshold.isFinite {
            // Beside the zero mark when they are close, so the labels never overlap.
            let close = abs(x(threshold) - x(0)) < 40
            let anchor = close ? (threshold >= 0 ? "start" : "end") : "middle"
            let labelX = close ? x(threshold) + (threshold >= 0 ? 8 : -8) : x(threshold)
            svg += "<line x1=\"\(f(x(threshold)))\" x2=\"\(f(x(threshold)))\" y1=\"8\" y2=\"36\" stroke=\"#9a6700\" stroke-dasharray=\"3,2\"/>"
            svg += "<text x=\"\(f(labelX))\" y=\"48\" text-anchor=\"\(anchor)\">min \(HTML.escape(HTML.percent(threshold)))</text>"
        }
        if let lower, let upper, lower.isFinite, upper.isFinite {
            let colour = lower > (threshold ?? 0) ? "#1a7f37" : (upper < (threshold ?? 0) ? "#cf222e" : "#9a6700")
            svg +=
                "<rect x=\"\(f(x(lower)))\" y=\"16\" width=\"\(f(max(1, x(upper) - x(lower))))\" height=\"12\" rx=\"3\" fill=\"\(colour)\" fill-opacity=\"0.25\" stroke=\"\(colour)\"/>"
        }
        svg += "<circle cx=\"\(f(x(estimate)))\" cy=\"22\" r=\"5\" fill=\"#1d2330\"/>"
        svg += "<text x=\"\(f(x(estimate)))\" y=\"11\" text-anchor=\"middle\">\(HTML.escape(HTML.percent(estimate)))</text>"
        return svg + "</svg>"
    }

    /// A text sparkline (▁▂▃▅▇) for terminals and Markdown.
    public static func sparkline(_ values: [Double]) -> String {
        guard let low = values.min(), let high = values.max(), !values.isEmpty else { return "" }
        let bars = Array("▁▂▃▄▅▆▇█")
        return String(
            values.map { value in
                high == low ? bars[0] : bars[min(bars.count - 1, Int((value - low) / (high - low) * Double(bars.count - 1) + 0.5))]
            })
    }
}
