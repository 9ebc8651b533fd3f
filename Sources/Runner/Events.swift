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

/// The end-of-run summary. In JSON (`ratchet run --json`) the stop is two strings:
/// `stopReason` (the words) and `status` (the loop status it recorded).
public struct RunSummary: Sendable, Encodable {
    public var loop: String
    public var candidates: Int
    public var accepted: Int
    public var rejected: Int
    public var inconclusive: Int
    public var baseCommit: String
    public var bestCommit: String
    /// Why the run stopped (never `.failed`: a failed run throws instead).
    public var stop: StopReason
    /// Why the run stopped, in words.
    public var stopReason: String { stop.message }

    enum CodingKeys: String, CodingKey {
        case loop, candidates, accepted, rejected, inconclusive, baseCommit, bestCommit, stopReason, status
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(loop, forKey: .loop)
        try container.encode(candidates, forKey: .candidates)
        try container.encode(accepted, forKey: .accepted)
        try container.encode(rejected, forKey: .rejected)
        try container.encode(inconclusive, forKey: .inconclusive)
        try container.encode(baseCommit, forKey: .baseCommit)
        try container.encode(bestCommit, forKey: .bestCommit)
        try container.encode(stopReason, forKey: .stopReason)
        try container.encode(stop.status, forKey: .status)
    }
}
