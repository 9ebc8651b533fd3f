/// Percentages and confidence levels as Ratchet writes them everywhere: decision reasons,
/// commit trailers, the CLI, the report and the UI. One formatter, locale-independent, so a
/// number reads the same wherever it appears.
public enum Format {
    /// "+31.2%", "-3.0%", "+0.0%" (a tiny negative rounds to +0.0%, never -0.0%); "+inf%" or
    /// "-inf%" for infinity or a value too large to print, "+nan%" for not a number.
    public static func percent(_ fraction: Double) -> String {
        if fraction.isNaN { return "+nan%" }
        guard fraction.isFinite else { return fraction > 0 ? "+inf%" : "-inf%" }
        let tenths = (fraction * 1000).rounded()
        guard abs(tenths) < 1e15 else { return fraction > 0 ? "+inf%" : "-inf%" }
        let magnitude = Int(abs(tenths))
        let sign = tenths < 0 ? "-" : "+"
        return "\(sign)\(magnitude / 10).\(magnitude % 10)%"
    }

    /// "95%", "99.5%", "99.99%".
    public static func confidence(_ level: Double) -> String {
        let hundredths = Int((level * 10_000).rounded())
        let whole = hundredths / 100
        let fraction = hundredths % 100
        if fraction == 0 { return "\(whole)%" }
        if fraction % 10 == 0 { return "\(whole).\(fraction / 10)%" }
        return "\(whole).\(fraction < 10 ? "0" : "")\(fraction)%"
    }

    /// `+31.2% [+27.0%, +35.1%]`, or the estimate alone while no bound exists.
    public static func effect(_ report: DecisionReport) -> String {
        effect(estimate: report.estimate, lower: report.lower, upper: report.upper)
    }

    /// As `effect(_:)` for stored numbers: empty when there is no estimate.
    public static func effect(estimate: Double?, lower: Double?, upper: Double?) -> String {
        guard let estimate else { return "" }
        guard let lower, let upper, lower > -1, upper.isFinite else { return percent(estimate) }
        return "\(percent(estimate)) [\(percent(lower)), \(percent(upper))]"
    }
}
