import Core
import Foundation
import GRDB

/// A loop's row: where it started, where it stands, and whether it is running.
public struct LoopRecord: Codable, Sendable, Equatable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "loop"
    public var name: String
    public var repository: String
    public var baseRef: String
    public var baseCommit: String
    /// The loop's current best commit (the tip of `ratchet/<name>`).
    public var bestCommit: String
    public var configHash: String
    public var status: LoopStatus
    public var statusReason: String?
    public var createdAt: Date
    public var updatedAt: Date

    public init(
        name: String, repository: String, baseRef: String, baseCommit: String, bestCommit: String,
        configHash: String, status: LoopStatus, statusReason: String? = nil, createdAt: Date = Date(), updatedAt: Date = Date()
    ) {
        self.name = name
        self.repository = repository
        self.baseRef = baseRef
        self.baseCommit = baseCommit
        self.bestCommit = bestCommit
        self.configHash = configHash
        self.status = status
        self.statusReason = statusReason
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }
}

/// One proposed change and everything decided about it.
public struct CandidateRecord: Codable, Sendable, Equatable, FetchableRecord, MutablePersistableRecord {
    public static let databaseTableName = "candidate"
    public var id: Int64?
    public var loop: String
    /// 1, 2, 3… within the loop.
    public var sequence: Int
    public var proposer: String
    /// What the proposer says this is: a patch file name, a knob assignment.
    public var source: String
    public var title: String
    public var diff: String?
    /// The best commit the candidate was made against.
    public var parentCommit: String
    /// The candidate's tree, once applied.
    public var tree: String?
    /// The step in progress, or the outcome once finished (change it with `advance(to:)`).
    public private(set) var state: CandidateState
    public var outcome: Outcome?
    public var rejection: RejectionKind?
    public var reason: String?
    public var estimate: Double?
    public var lower: Double?
    public var upper: Double?
    public var threshold: Double?
    public var pairs: Int?
    /// The commit on the loop branch, for accepted candidates.
    public var commit: String?
    public var createdAt: Date
    public var finishedAt: Date?
    /// Added plus deleted lines of the diff.
    public var linesChanged: Int?
    /// The paths the diff touches, newline-separated.
    public var paths: String?
    public var inputTokens: Int?
    public var outputTokens: Int?
    public var cost: Double?
    /// What the proposer sent to its model and what came back (secrets redacted).
    public var prompt: String?
    public var response: String?
    /// Human review of an accepted change.
    public var review: ReviewState?
    /// Why an accepted change halted the loop for review, when it did.
    public var checkpoint: String?

    public init(loop: String, sequence: Int, proposer: String, source: String, title: String, parentCommit: String) {
        self.loop = loop
        self.sequence = sequence
        self.proposer = proposer
        self.source = source
        self.title = title
        self.parentCommit = parentCommit
        self.state = .running(.propose)
        self.createdAt = Date()
    }

    public mutating func didInsert(_ inserted: InsertionSuccess) { id = inserted.rowID }

    /// The columns of the `candidate` row. The large texts (`diff`, `prompt`, `response`) are
    /// kept apart, in `candidate_text` and `text_chunk` (see `CandidateTexts`): the Store
    /// reads and writes them with the record, and lists leave them out (`CandidateRow`).
    enum CodingKeys: String, CodingKey, CaseIterable {
        case id, loop, sequence, proposer, source, title, parentCommit, tree, state, outcome, rejection, reason, estimate, lower, upper
        case threshold, pairs, commit, createdAt, finishedAt, linesChanged, paths, inputTokens, outputTokens, cost, review, checkpoint
    }

    /// Moves the candidate to `next` (a step, or an outcome: then `outcome` too).
    /// - Throws: `CandidateState.InvalidTransition` when the state machine does not allow it
    ///   (backwards, or out of a finished state); the record is left unchanged.
    public mutating func advance(to next: CandidateState) throws(CandidateState.InvalidTransition) {
        state = try state.advanced(to: next)
        if let outcome = next.outcome { self.outcome = outcome }
    }
}

/// One step of one candidate: when it ran and how it ended.
public struct StepRecord: Codable, Sendable, Equatable, FetchableRecord, MutablePersistableRecord {
    public static let databaseTableName = "step"
    public var id: Int64?
    public var candidateId: Int64
    public var step: Step
    public var status: StepStatus
    public var detail: String?
    public var exitStatus: Int?
    public var wallSeconds: Double?
    public var output: String?
    public var startedAt: Date
    public var finishedAt: Date?
    /// The process group of the command running for this step, while it runs.
    public var processGroup: Int?

    public init(candidateId: Int64, step: Step) {
        self.candidateId = candidateId
        self.step = step
        self.status = .started
        self.startedAt = Date()
    }

    public mutating func didInsert(_ inserted: InsertionSuccess) { id = inserted.rowID }
}

/// One benchmark run.
public struct SampleRecord: Codable, Sendable, Equatable, FetchableRecord, MutablePersistableRecord {
    public static let databaseTableName = "sample"
    public var id: Int64?
    public var candidateId: Int64
    /// Pair number (0-based); warm-ups have their own numbering.
    public var pair: Int
    public var arm: Arm
    /// 0 when this arm ran first in its pair, 1 when second.
    public var position: Int
    public var value: Double
    public var wallSeconds: Double
    public var warmup: Bool
    public var createdAt: Date
    /// The extra benchmark (`[[benchmark]]`) this run belongs to; `nil` for the main one.
    public var benchmark: String?

    public init(
        candidateId: Int64, pair: Int, arm: Arm, position: Int, value: Double, wallSeconds: Double, warmup: Bool, benchmark: String? = nil
    ) {
        self.benchmark = benchmark
        self.candidateId = candidateId
        self.pair = pair
        self.arm = arm
        self.position = position
        self.value = value
        self.wallSeconds = wallSeconds
        self.warmup = warmup
        self.createdAt = Date()
    }

    public mutating func didInsert(_ inserted: InsertionSuccess) { id = inserted.rowID }
}

/// One `ratchet run` of a loop.
public struct RunRecord: Codable, Sendable, Equatable, FetchableRecord, MutablePersistableRecord {
    public static let databaseTableName = "run"
    public var id: Int64?
    public var loop: String
    public var pid: Int
    public var startedAt: Date
    public var endedAt: Date?
    public var stopReason: String?
    /// The OS user of the process that started the run (for `forbid_self_approval`).
    public var startedBy: String?

    public init(loop: String, pid: Int, startedAt: Date) {
        self.loop = loop
        self.pid = pid
        self.startedAt = startedAt
    }

    public mutating func didInsert(_ inserted: InsertionSuccess) { id = inserted.rowID }
}

/// A human decision on an accepted change.
public struct ApprovalRecord: Codable, Sendable, Equatable, FetchableRecord, MutablePersistableRecord {
    public static let databaseTableName = "approval"
    public var id: Int64?
    public var candidateId: Int64
    public var loop: String
    public var decision: ApprovalDecision
    /// Who decided: a personal token's name, or the OS user of a CLI action.
    public var actor: String
    public var note: String?
    public var createdAt: Date
    /// How `actor` was established: `token`, `session` (a browser session made from a
    /// token), `os-user` (the CLI), or `typed` (a name given by hand, before personal tokens).
    public var auth: String?
    /// The token's id (`token 3`) or the OS user id (`uid 1000`).
    public var actorId: String?
    /// The reviewer stated they reviewed the change (API `"reviewed": true`).
    public var reviewed: Bool?
    /// Seconds from opening the change's page (with its diff) to this decision, in the UI.
    public var reviewSeconds: Double?
    /// Made in a burst of approvals (more than 5 in a minute), confirmed explicitly.
    public var burst: Bool?

    public init(candidateId: Int64, loop: String, decision: ApprovalDecision, actor: String, note: String?) {
        self.candidateId = candidateId
        self.loop = loop
        self.decision = decision
        self.actor = actor
        self.note = note
        self.createdAt = Date()
    }

    public init(candidateId: Int64, loop: String, decision: ApprovalDecision, by actor: Actor, note: String?) {
        self.init(candidateId: candidateId, loop: loop, decision: decision, actor: actor.name, note: note)
        auth = actor.auth.rawValue
        actorId = actor.id
    }

    public mutating func didInsert(_ inserted: InsertionSuccess) { id = inserted.rowID }
}

/// A reviewer opened a change's page, diff included (review depth).
public struct ReviewViewRecord: Codable, Sendable, Equatable, FetchableRecord, MutablePersistableRecord {
    public static let databaseTableName = "review_view"
    public var id: Int64?
    public var candidateId: Int64
    public var loop: String
    public var actor: String
    public var actorId: String?
    public var openedAt: Date

    public init(candidateId: Int64, loop: String, actor: String, actorId: String?, openedAt: Date = Date()) {
        self.candidateId = candidateId
        self.loop = loop
        self.actor = actor
        self.actorId = actorId
        self.openedAt = openedAt
    }

    public mutating func didInsert(_ inserted: InsertionSuccess) { id = inserted.rowID }
}
