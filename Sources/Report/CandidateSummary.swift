import Core
import Foundation
import Store

/// A candidate as the API, `ratchet log --json` and `ratchet review --json` list it: the
/// record without its diff, prompt or response.
public struct CandidateSummary: Codable, Sendable {
    public var id: Int64
    public var loop: String
    public var sequence: Int
    public var proposer: String
    public var source: String
    public var title: String
    public var state: CandidateState
    public var outcome: Outcome?
    public var rejection: RejectionKind?
    public var reason: String?
    public var estimate: Double?
    public var lower: Double?
    public var upper: Double?
    public var threshold: Double?
    public var pairs: Int?
    public var commit: String?
    public var review: ReviewState?
    public var checkpoint: String?
    public var linesChanged: Int?
    public var paths: [String]
    public var inputTokens: Int?
    public var outputTokens: Int?
    public var cost: Double?
    public var createdAt: Date
    public var finishedAt: Date?
    /// The review page, relative to the server.
    public var page: String

    public init(_ record: CandidateRecord) { self.init(CandidateRow(record)) }

    public init(_ c: CandidateRow) {
        id = c.id ?? 0
        loop = c.loop
        sequence = c.sequence
        proposer = c.proposer
        source = c.source
        title = c.title
        state = c.state
        outcome = c.outcome
        rejection = c.rejection
        reason = c.reason
        estimate = c.estimate
        lower = c.lower
        upper = c.upper
        threshold = c.threshold
        pairs = c.pairs
        commit = c.commit
        review = c.review
        checkpoint = c.checkpoint
        linesChanged = c.linesChanged
        paths = (c.paths ?? "").split(separator: "\n").map(String.init)
        inputTokens = c.inputTokens
        outputTokens = c.outputTokens
        cost = c.cost
        createdAt = c.createdAt
        finishedAt = c.finishedAt
        page = "/candidates/\(id)?loop=\(c.loop)"
    }
}
