import Core
import Foundation

/// What the runner reports while it works; the CLI turns these into progress lines.
public enum RunEvent: Sendable {
    case started(loop: String, best: String, resumed: Int)
    /// A new candidate; `best` is the current best commit and `accepted` how many were kept so far.
    case candidate(sequence: Int, id: Int64, title: String, best: String, accepted: Int)
    case step(sequence: Int, step: Step)
    case sample(sequence: Int, pair: Int, baseline: Double, candidate: Double, estimate: Double?)
    case finished(sequence: Int, outcome: Outcome, reason: String)
    case note(String)
    case stopped(reason: String)
}

/// The end-of-run summary.
public struct RunSummary: Sendable, Codable {
    public var loop: String
    public var candidates: Int
    public var accepted: Int
    public var rejected: Int
    public var inconclusive: Int
    public var baseCommit: String
    public var bestCommit: String
    public var stopReason: String
}
