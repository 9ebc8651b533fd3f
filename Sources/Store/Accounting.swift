import Core
import Foundation

/// The loop's accounting from its records, shared by the runner (budgets), status, the
/// daemon, the UI and the report, so they all count the same way.
extension CandidateRecord {
    /// Decided: finished with an outcome other than `interrupted`.
    public var isDecided: Bool { outcome != nil && outcome != Outcome.interrupted.rawValue }

    /// An accepted change that still counts (not rolled back, rejected in review or reset away).
    public var isKept: Bool {
        outcome == Outcome.accepted.rawValue && !["rolled_back", "rejected", "reset"].contains(review ?? "")
    }

    /// Relative improvement of the kept accepts together: the product of their estimates, minus one.
    public static func cumulativeImprovement(_ candidates: [CandidateRecord]) -> Double {
        candidates.filter(\.isKept).reduce(1.0) { $0 * (1 + ($1.estimate ?? 0)) } - 1
    }
}

extension RejectionKind {
    /// Rejections that count as failures in a row (`budget.consecutive_failures`): the
    /// candidate never got as far as a measurement.
    public static let failuresBeforeMeasurement: Set<String> = [
        RejectionKind.proposerFailed, .invalidDiff, .applyFailed, .gate, .buildFailed, .testFailed, .benchFailed, .runTimeWrite,
    ].reduce(into: []) { $0.insert($1.rawValue) }
}

extension BudgetUse {
    /// What a loop has used of its budgets. Wall clock: the recorded runs (one that never
    /// recorded its end — a crash — counts as nothing), plus, when `running`, the newest run
    /// up to `now`.
    public static func of(candidates: [CandidateRecord], runs: [RunRecord], running: Bool = false, now: Date = Date()) -> BudgetUse {
        let decided = candidates.filter(\.isDecided)
        var use = BudgetUse()
        use.iterations = decided.count
        use.tokens = decided.reduce(0) { $0 + ($1.inputTokens ?? 0) + ($1.outputTokens ?? 0) }
        use.cost = decided.reduce(0) { $0 + ($1.cost ?? 0) }
        let newest = runs.max { $0.startedAt < $1.startedAt }?.id
        use.wallSeconds = runs.reduce(0) { total, run in
            let end = run.endedAt ?? (running && run.id == newest ? now : run.startedAt)
            return total + max(0, end.timeIntervalSince(run.startedAt))
        }
        let pending = decided.filter { $0.outcome == Outcome.accepted.rawValue && $0.review == "pending" }
        use.acceptsSinceReview = pending.count
        use.linesSinceReview = pending.reduce(0) { $0 + ($1.linesChanged ?? 0) }
        use.consecutiveFailures = decided.reversed().prefix { RejectionKind.failuresBeforeMeasurement.contains($0.rejection ?? "") }.count
        use.sinceImprovement = decided.reversed().prefix { $0.outcome != Outcome.accepted.rawValue }.count
        return use
    }
}
