import Core
import Foundation

/// What the loop's accounting reads of a candidate: shared by full records and list rows.
public protocol CandidateFacts {
    var outcome: Outcome? { get }
    var rejection: RejectionKind? { get }
    var review: ReviewState? { get }
    var estimate: Double? { get }
    var inputTokens: Int? { get }
    var outputTokens: Int? { get }
    var cost: Double? { get }
    var linesChanged: Int? { get }
}

extension CandidateRecord: CandidateFacts {}
extension CandidateRow: CandidateFacts {}

/// The loop's accounting from its records, shared by the runner (budgets), status, the
/// daemon, the UI and the report, so they all count the same way.
extension CandidateFacts {
    /// Decided: finished with an outcome other than `interrupted`.
    public var isDecided: Bool { outcome != nil && outcome != .interrupted }

    /// An accepted change that still counts (not rolled back, rejected in review or reset away).
    public var isKept: Bool {
        outcome == .accepted && review?.undoesAccept != true
    }
}

extension CandidateRecord {
    /// Relative improvement of the kept accepts together: the product of their estimates, minus one.
    public static func cumulativeImprovement(_ candidates: [some CandidateFacts]) -> Double {
        candidates.filter(\.isKept).reduce(1.0) { $0 * (1 + ($1.estimate ?? 0)) } - 1
    }
}

extension RejectionKind {
    /// Rejections that count as failures in a row (`budget.consecutive_failures`): the
    /// candidate never got as far as a measurement.
    public static let failuresBeforeMeasurement: Set<RejectionKind> = [
        .proposerFailed, .invalidDiff, .applyFailed, .gate, .buildFailed, .testFailed, .benchFailed, .runTimeWrite,
    ]
}

extension BudgetUse {
    /// What a loop has used of its budgets. Wall clock: the recorded runs (one that never
    /// recorded its end — a crash — counts as nothing), plus, when `running`, the newest run
    /// up to `now`.
    public static func of(candidates: [CandidateRecord], runs: [RunRecord], running: Bool = false, now: Date = Date()) -> BudgetUse {
        LoopFigures.of(candidates).budgetUse(runs: runs, running: running, now: now)
    }

    /// The same from a tally and the two streaks (decided candidates since the last one that
    /// was not a failure before measurement, and since the last accept).
    public static func of(
        tally: CandidateTally, consecutiveFailures: Int, sinceImprovement: Int, runs: [RunRecord], running: Bool = false, now: Date = Date()
    ) -> BudgetUse {
        var use = BudgetUse()
        use.iterations = tally.decided
        use.tokens = tally.decidedTokens
        use.cost = tally.decidedCost
        let newest = runs.max { $0.startedAt < $1.startedAt }?.id
        use.wallSeconds = runs.reduce(0) { total, run in
            let end = run.endedAt ?? (running && run.id == newest ? now : run.startedAt)
            return total + max(0, end.timeIntervalSince(run.startedAt))
        }
        use.acceptsSinceReview = tally.pendingReview
        use.linesSinceReview = tally.pendingLines
        use.consecutiveFailures = consecutiveFailures
        use.sinceImprovement = sinceImprovement
        return use
    }
}

/// A loop's candidates counted by outcome, rejection and review, with the sums of their
/// tokens, cost and changed lines: what `candidate_tally` keeps up to date in the store
/// (`Store.tally(loop:)`), or the same counted from records (`of(_:)`).
public struct CandidateTally: Sendable, Equatable {
    public struct Group: Sendable, Equatable {
        public var outcome: Outcome?
        public var rejection: RejectionKind?
        public var review: ReviewState?
        public var count: Int
        /// Input plus output tokens.
        public var tokens: Int
        public var cost: Double
        public var lines: Int

        public init(outcome: Outcome?, rejection: RejectionKind?, review: ReviewState?, count: Int, tokens: Int, cost: Double, lines: Int) {
            self.outcome = outcome
            self.rejection = rejection
            self.review = review
            self.count = count
            self.tokens = tokens
            self.cost = cost
            self.lines = lines
        }

        var key: String { "\(outcome?.rawValue ?? "")\u{1}\(rejection?.rawValue ?? "")\u{1}\(review?.rawValue ?? "")" }
    }

    /// Non-empty groups, in key order.
    public var groups: [Group]

    public init(groups: [Group]) {
        self.groups = groups.filter { $0.count > 0 }.sorted { $0.key < $1.key }
    }

    /// The tally of `candidates`, counted in Swift.
    public static func of(_ candidates: [some CandidateFacts]) -> CandidateTally {
        var groups: [String: Group] = [:]
        for c in candidates {
            var group = Group(outcome: c.outcome, rejection: c.rejection, review: c.review, count: 0, tokens: 0, cost: 0, lines: 0)
            group = groups[group.key] ?? group
            group.count += 1
            group.tokens += (c.inputTokens ?? 0) + (c.outputTokens ?? 0)
            group.cost += c.cost ?? 0
            group.lines += c.linesChanged ?? 0
            groups[group.key] = group
        }
        return CandidateTally(groups: Array(groups.values))
    }

    public var total: Int { groups.reduce(0) { $0 + $1.count } }

    /// Candidates by outcome, `nil` for those without one (running, or left by a crash).
    public var byOutcome: [Outcome?: Int] { groups.reduce(into: [:]) { $0[$1.outcome, default: 0] += $1.count } }

    /// Candidates with the outcome `outcome`; with `nil`, those without one yet.
    public func count(outcome: Outcome?) -> Int { groups.filter { $0.outcome == outcome }.reduce(0) { $0 + $1.count } }

    var decidedGroups: [Group] { groups.filter { $0.outcome != nil && $0.outcome != .interrupted } }

    /// Finished with an outcome other than `interrupted`.
    public var decided: Int { decidedGroups.reduce(0) { $0 + $1.count } }
    public var decidedTokens: Int { decidedGroups.reduce(0) { $0 + $1.tokens } }
    public var decidedCost: Double { decidedGroups.reduce(0) { $0 + $1.cost } }

    var pendingGroups: [Group] { groups.filter { $0.outcome == .accepted && $0.review == .pending } }

    /// Accepted changes waiting for review, and their changed lines.
    public var pendingReview: Int { pendingGroups.reduce(0) { $0 + $1.count } }
    public var pendingLines: Int { pendingGroups.reduce(0) { $0 + $1.lines } }

    /// Rejected candidates by rejection kind (`nil` when none is recorded).
    public var rejections: [RejectionKind?: Int] {
        groups.filter { $0.outcome == .rejected }.reduce(into: [:]) { $0[$1.rejection, default: 0] += $1.count }
    }
}
