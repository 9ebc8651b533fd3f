import Core
import Git

/// What a proposer is told about the loop before it proposes.
public struct ProposalContext: Sendable {
    public var loop: String
    /// The loop's current best commit: proposals are diffs against its tree.
    public var bestCommit: ObjectID
    public var bestTree: ObjectID
    /// Sources already tried by this proposer (decided candidates), so nothing is proposed twice.
    public var tried: Set<String>
    /// The most recent attempts, newest last, for proposers that learn from them.
    public var recent: [Attempt]
    /// Trees of the earlier bests of this loop (base first): states already beaten.
    public var lineage: [ObjectID]

    public init(
        loop: String, bestCommit: ObjectID, bestTree: ObjectID, tried: Set<String>, recent: [Attempt], lineage: [ObjectID] = []
    ) {
        self.lineage = lineage
        self.loop = loop
        self.bestCommit = bestCommit
        self.bestTree = bestTree
        self.tried = tried
        self.recent = recent
    }
}

/// A past candidate, as proposers see it.
public struct Attempt: Sendable, Equatable {
    public var source: String
    public var title: String
    public var outcome: String
    public var reason: String?

    public init(source: String, title: String, outcome: String, reason: String?) {
        self.source = source
        self.title = title
        self.outcome = outcome
        self.reason = reason
    }
}

/// A proposed change: a unified diff against the best tree.
public struct Proposal: Sendable, Equatable {
    /// A stable name for what was proposed (a patch file, a knob assignment); the memory key.
    public var source: String
    /// One line for logs and the commit subject.
    public var title: String
    public var diff: String

    public init(source: String, title: String, diff: String) {
        self.source = source
        self.title = title
        self.diff = diff
    }
}

/// A proposer that could not produce a proposal; the candidate is rejected with this reason.
public struct ProposerError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The source the failure belongs to, when known (so it is not retried forever).
    public var source: String?
    public var message: String

    public init(source: String? = nil, _ message: String) {
        self.source = source
        self.message = message
    }

    public var description: String { message }
}

/// Produces candidate changes. Returns `nil` when it has nothing left to propose.
public protocol Proposer {
    /// The `kind` named in the config (`tuner`, `patches`, …).
    var kind: String { get }
    func propose(_ context: ProposalContext, repository: Repository) async throws(ProposerError) -> Proposal?
}

/// Builds the proposer a config entry names.
public func makeProposer(_ spec: ProposerSpec, seed: UInt64) -> any Proposer {
    switch spec {
    case .patches(let directory): PatchesProposer(directory: directory)
    case .tuner(let knobs): TunerProposer(knobs: knobs, seed: seed)
    }
}
