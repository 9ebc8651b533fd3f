import Foundation
import Store

/// A `drift_check` audit entry, read back for `ratchet status` and the morning report.
public struct DriftCheck: Sendable, Equatable {
    public var time: String
    public var claimed: Double
    public var measured: Double
    public var lower: Double?
    public var upper: Double?
    public var pairs: Int
    /// The claimed improvement lies outside the measured interval.
    public var drifted: Bool

    /// `nil` when `entry` is not a drift check or lacks its numbers.
    public init?(_ entry: AuditEntry) {
        let fields = entry.fields
        guard entry.kind == "drift_check", let claimed = fields["claimed"].flatMap(Double.init),
            let measured = fields["measured"].flatMap(Double.init)
        else { return nil }
        time = entry.time
        self.claimed = claimed
        self.measured = measured
        lower = fields["lower"].flatMap(Double.init)
        upper = fields["upper"].flatMap(Double.init)
        pairs = fields["pairs"].flatMap { Int($0) } ?? 0
        drifted = fields["drifted"] == "true"
    }

    /// "the accepts claimed +100.0%; the best measures +0.0% [-0.5%, +0.5%] against the base (6 pairs)".
    public var message: String {
        let interval = lower.flatMap { low in upper.map { " [\(HTML.percent(low)), \(HTML.percent($0))]" } } ?? ""
        return
            "the accepts claimed \(HTML.percent(claimed)); the best measures \(HTML.percent(measured))\(interval) against the base (\(pairs) pairs)"
    }

    /// The newest drift check of `loop`, if any.
    public static func latest(_ audit: AuditLog, loop: String) -> DriftCheck? {
        ((try? audit.recent(limit: 1, loop: loop, kinds: ["drift_check"])) ?? []).last.flatMap(DriftCheck.init)
    }
}
