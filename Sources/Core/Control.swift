import Foundation

/// `[budget]`: autonomy limits. Any one that trips stops the loop at the next safe point.
public struct BudgetSpec: Sendable, Equatable, Codable {
    /// Candidates decided, over the loop's life.
    public var iterations: Int?
    /// Wall-clock seconds of running, over the loop's life.
    public var wallSeconds: Double?
    /// Model tokens (input + output) and cost, over the loop's life.
    public var tokens: Int?
    public var cost: Double?
    /// Candidates in a row that failed before measurement (proposer, apply, gate, build, test, bench).
    public var consecutiveFailures: Int?
    /// Candidates in a row without an accept.
    public var plateau: Int?
    /// Accepted changes since the last human review (approval or rejection).
    public var acceptsSinceReview: Int?
    /// Changed lines (added + deleted) of accepted changes since the last human review.
    public var linesSinceReview: Int?

    public init(
        iterations: Int? = nil, wallSeconds: Double? = nil, tokens: Int? = nil, cost: Double? = nil,
        consecutiveFailures: Int? = 10, plateau: Int? = nil, acceptsSinceReview: Int? = nil, linesSinceReview: Int? = nil
    ) {
        self.iterations = iterations
        self.wallSeconds = wallSeconds
        self.tokens = tokens
        self.cost = cost
        self.consecutiveFailures = consecutiveFailures
        self.plateau = plateau
        self.acceptsSinceReview = acceptsSinceReview
        self.linesSinceReview = linesSinceReview
    }
}

/// What the loop has used so far, measured against `BudgetSpec`.
public struct BudgetUse: Sendable, Equatable, Codable {
    public var iterations = 0
    public var wallSeconds = 0.0
    public var tokens = 0
    public var cost = 0.0
    public var consecutiveFailures = 0
    public var sinceImprovement = 0
    public var acceptsSinceReview = 0
    public var linesSinceReview = 0

    public init() {}
}

/// A budget that ran out: which one, and the numbers.
public struct BudgetTrip: Sendable, Equatable, Codable, CustomStringConvertible {
    /// The config key, e.g. `budget.iterations`.
    public var budget: String
    public var limit: Double
    public var used: Double
    public var description: String {
        let fmt: (Double) -> String = { $0 == $0.rounded() && abs($0) < 1e15 ? String(Int($0)) : String(format: "%.2f", $0) }
        return "budget \(budget) tripped: used \(fmt(used)) of \(fmt(limit))"
    }
}

extension BudgetSpec {
    /// The first budget `use` has reached, or `nil`. A budget trips when the use reaches its
    /// limit, so the loop stops before starting work that would overrun it.
    public func tripped(by use: BudgetUse) -> BudgetTrip? {
        let checks: [(String, Double?, Double)] = [
            ("budget.iterations", iterations.map(Double.init), Double(use.iterations)),
            ("budget.wall_clock", wallSeconds, use.wallSeconds),
            ("budget.tokens", tokens.map(Double.init), Double(use.tokens)),
            ("budget.cost", cost, use.cost),
            ("budget.consecutive_failures", consecutiveFailures.map(Double.init), Double(use.consecutiveFailures)),
            ("budget.plateau", plateau.map(Double.init), Double(use.sinceImprovement)),
            ("budget.accepts_since_review", acceptsSinceReview.map(Double.init), Double(use.acceptsSinceReview)),
            ("budget.lines_since_review", linesSinceReview.map(Double.init), Double(use.linesSinceReview)),
        ]
        for (name, limit, used) in checks {
            if let limit, used >= limit { return BudgetTrip(budget: name, limit: limit, used: used) }
        }
        return nil
    }
}

/// `[checkpoint]`: when the loop halts for a human.
public struct CheckpointSpec: Sendable, Equatable, Codable {
    /// Halt after every N accepts (0 = never on count).
    public var everyAccepts: Int
    /// An accepted candidate touching any of these globs waits for review.
    public var reviewPaths: [String]
    /// An accepted improvement larger than this (relative, e.g. 0.5 = 50%) waits for review.
    public var suspiciousEffect: Double?
    /// Distinct human approvals every accepted change needs before it can be promoted.
    public var approvals: Int
    /// `[[checkpoint.rule]]`: more approvals for changes touching some paths.
    public var rules: [ApprovalRule]
    /// Whether the person who started the run that made a change may approve it.
    public var forbidSelfApproval: Bool

    public init(
        everyAccepts: Int = 0, reviewPaths: [String] = [], suspiciousEffect: Double? = nil, approvals: Int = 1, rules: [ApprovalRule] = [],
        forbidSelfApproval: Bool = false
    ) {
        self.everyAccepts = everyAccepts
        self.reviewPaths = reviewPaths
        self.suspiciousEffect = suspiciousEffect
        self.approvals = approvals
        self.rules = rules
        self.forbidSelfApproval = forbidSelfApproval
    }

    /// Why an accepted candidate must wait for review, or `nil`.
    /// - Parameters:
    ///   - paths: the paths the candidate touched.
    ///   - effect: its estimated relative improvement.
    ///   - acceptsSinceReview: accepts since the last review, this one included.
    public func reason(paths: [String], effect: Double, acceptsSinceReview: Int) -> String? {
        let globs = reviewPaths.map(Glob.init)
        if let hit = paths.first(where: { path in globs.contains { $0.matches(path) } }) {
            return "touches review-required path \(hit)"
        }
        if let suspiciousEffect, effect > suspiciousEffect {
            return String(format: "improvement %+.1f%% is above the suspicion threshold %+.1f%%", effect * 100, suspiciousEffect * 100)
        }
        if everyAccepts > 0, acceptsSinceReview >= everyAccepts {
            return "\(acceptsSinceReview) accept(s) since the last review (checkpoint every \(everyAccepts))"
        }
        return nil
    }
}

/// `[gate]`: limits and patterns for the automated checks, on top of the built-in rules.
public struct GateSpec: Sendable, Equatable, Codable {
    /// Extra protected globs (added to the defaults, which cannot be removed).
    public var protected: [String]
    /// Regular expressions refused on added lines.
    public var deny: [String]
    public var maxFiles: Int
    public var maxAddedLines: Int
    /// Largest file a candidate may write, in bytes.
    public var maxFileBytes: Int

    public init(protected: [String] = [], deny: [String] = [], maxFiles: Int = 50, maxAddedLines: Int = 2000, maxFileBytes: Int = 1_000_000) {
        self.protected = protected
        self.deny = deny
        self.maxFiles = maxFiles
        self.maxAddedLines = maxAddedLines
        self.maxFileBytes = maxFileBytes
    }
}

/// `[sandbox]`: how user commands are contained.
public struct SandboxSpec: Sendable, Equatable, Codable {
    public enum Mode: String, Sendable, Codable {
        /// bubblewrap when installed, otherwise limits and process-group kill only (with a warning).
        case auto
        /// Refuse to run without bubblewrap.
        case required
        /// No bubblewrap.
        case off
    }

    public var mode: Mode
    public var cpuSeconds: Int?
    public var memoryBytes: Int?
    public var processes: Int?
    public var fileBytes: Int?
    /// Tracked paths (globs) that build, test, validate and bench commands may rewrite at run
    /// time (generated sources): such a change is not a violation, and the file is restored
    /// from the commit before the next step. Any other tracked file written at run time
    /// rejects the candidate.
    public var writable: [String] = []

    public init(mode: Mode = .auto, cpuSeconds: Int? = nil, memoryBytes: Int? = nil, processes: Int? = 512, fileBytes: Int? = nil) {
        self.mode = mode
        self.cpuSeconds = cpuSeconds
        self.memoryBytes = memoryBytes
        self.processes = processes
        self.fileBytes = fileBytes
    }
}
