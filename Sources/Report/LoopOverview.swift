import Core
import Foundation
import Runner
import Store

/// Where one loop stands, computed from its store rows, the lock and the pause flags: what
/// `ratchet status`, the review UI, the HTTP API and `/metrics` show.
public struct LoopOverview: Sendable, Codable, Equatable {
    public var loop: String
    /// `running`, `paused`, `waiting`, `budget`, `exhausted`, `stopped`, `failed` or `never run`.
    public var state: String
    public var reason: String?
    /// The process running the loop, when one is.
    public var pid: Int?
    public var paused: String?
    public var baseRef: String
    public var baseCommit: String
    public var bestCommit: String
    public var branch: String
    /// Candidates by outcome (`running` for the one in flight).
    public var candidates: [String: Int]
    public var total: Int
    public var accepted: Int
    public var pendingReview: Int
    /// Candidates holding the loop at a checkpoint.
    public var checkpoints: [Int64]
    public var budget: BudgetUse
    /// The config's limits, when the config is known.
    public var limits: BudgetSpec?
    /// The budget that stops the loop now, if any.
    public var tripped: BudgetTrip?
    /// Relative improvement of the best over the base: the product of the kept accepts' estimates, minus one.
    public var improvement: Double
    public var lastCandidate: String?
    public var updatedAt: Date

    /// The overview of `record`'s loop, from every one of its candidates.
    /// - Parameters:
    ///   - stateDirectory: the loop's state folder (for its lock and pause flags).
    ///   - limits: the config's budgets, when known.
    public static func make(
        record: LoopRecord, candidates: [CandidateRecord], runs: [RunRecord], stateDirectory: String, limits: BudgetSpec?, now: Date = Date()
    ) -> LoopOverview {
        make(record: record, figures: .of(candidates), runs: runs, stateDirectory: stateDirectory, limits: limits, now: now)
    }

    /// The overview of `record`'s loop, from its figures (`Store.loopFigures(loop:)`).
    public static func make(
        record: LoopRecord, figures: LoopFigures, runs: [RunRecord], stateDirectory: String, limits: BudgetSpec?, now: Date = Date()
    ) -> LoopOverview {
        let name = record.name
        let pause = PauseSwitch(stateDirectory: stateDirectory, loop: name)
        let holder = LoopLock.holder(path: stateDirectory + "/\(name).lock")
        var state = record.status
        var reason = record.statusReason
        // The recorded status says "running" only while a process holds the lock.
        if holder == nil && (state == .running || state == .paused) {
            if state == .running { reason = "the last run ended without recording why (crash or kill -9); `ratchet run` resumes" }
            state = .stopped
        }
        if holder != nil && pause.isPaused { state = .paused }
        let byOutcome = figures.tally.byOutcome
        let counts = Dictionary(uniqueKeysWithValues: byOutcome.map { ($0.key?.rawValue ?? "running", $0.value) })
        let use = figures.budgetUse(runs: runs, running: holder != nil, now: now)
        let last = figures.last.map { "#\($0.sequence) \($0.title) — \($0.state.label)" }
        return LoopOverview(
            loop: name, state: state.rawValue, reason: reason, pid: holder.map(Int.init), paused: pause.reason, baseRef: record.baseRef,
            baseCommit: record.baseCommit, bestCommit: record.bestCommit, branch: "ratchet/\(name)", candidates: counts,
            total: figures.tally.total, accepted: byOutcome[.accepted] ?? 0, pendingReview: figures.tally.pendingReview,
            checkpoints: figures.checkpoints.compactMap(\.id), budget: use, limits: limits, tripped: limits?.tripped(by: use),
            improvement: figures.improvement, lastCandidate: last, updatedAt: record.updatedAt)
    }

    /// Reads the loop's figures from `store` and makes its overview; `nil` when the loop never ran.
    /// - Throws: `StoreError`.
    public static func load(loop: String, store: Store, stateDirectory: String, limits: BudgetSpec?, now: Date = Date()) throws(StoreError)
        -> LoopOverview?
    {
        guard let record = try store.loop(named: loop) else { return nil }
        return make(
            record: record, figures: try store.loopFigures(loop: loop), runs: try store.runs(loop: loop), stateDirectory: stateDirectory,
            limits: limits,
            now: now)
    }

    /// Budget lines such as `iterations 3/10`, for the configured limits.
    public var budgetLines: [String] {
        guard let budget = limits else { return [] }
        let use = self.budget
        var lines: [String] = []
        if let limit = budget.iterations { lines.append("iterations \(use.iterations)/\(limit)") }
        if let limit = budget.wallSeconds { lines.append(String(format: "wall clock %.0f/%.0f s", use.wallSeconds, limit)) }
        if let limit = budget.tokens { lines.append("tokens \(use.tokens)/\(limit)") }
        if let limit = budget.cost { lines.append(String(format: "cost %.2f/%.2f", use.cost, limit)) }
        if let limit = budget.consecutiveFailures { lines.append("failures in a row \(use.consecutiveFailures)/\(limit)") }
        if let limit = budget.plateau { lines.append("since improvement \(use.sinceImprovement)/\(limit)") }
        if let limit = budget.acceptsSinceReview { lines.append("accepts since review \(use.acceptsSinceReview)/\(limit)") }
        if let limit = budget.linesSinceReview { lines.append("lines since review \(use.linesSinceReview)/\(limit)") }
        return lines
    }

    /// Each configured budget as (config key, used, limit).
    public var budgetRatios: [(key: String, used: Double, limit: Double)] {
        guard let budget = limits else { return [] }
        let use = self.budget
        let all: [(String, Double, Double?)] = [
            ("iterations", Double(use.iterations), budget.iterations.map(Double.init)),
            ("wall_clock", use.wallSeconds, budget.wallSeconds),
            ("tokens", Double(use.tokens), budget.tokens.map(Double.init)),
            ("cost", use.cost, budget.cost),
            ("consecutive_failures", Double(use.consecutiveFailures), budget.consecutiveFailures.map(Double.init)),
            ("plateau", Double(use.sinceImprovement), budget.plateau.map(Double.init)),
            ("accepts_since_review", Double(use.acceptsSinceReview), budget.acceptsSinceReview.map(Double.init)),
            ("lines_since_review", Double(use.linesSinceReview), budget.linesSinceReview.map(Double.init)),
        ]
        return all.compactMap { key, used, limit in limit.map { (key, used, $0) } }
    }
}
