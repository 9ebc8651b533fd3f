import AsyncHTTPClient
import Core
import Execution
import Git

/// What the loop is trying to do, for proposers that explain it to a model.
public struct Objective: Sendable, Equatable {
    /// The metric's source name (`wall_time`, `regex`, …) and what it measures.
    public var metric: String
    public var direction: Direction
    public var minEffect: Double
    /// The benchmark command.
    public var bench: String
    /// The latest measured value of the current best and of the original base, when known.
    public var bestValue: Double?
    public var baseValue: Double?

    public init(metric: String, direction: Direction, minEffect: Double, bench: String, bestValue: Double? = nil, baseValue: Double? = nil) {
        self.metric = metric
        self.direction = direction
        self.minEffect = minEffect
        self.bench = bench
        self.bestValue = bestValue
        self.baseValue = baseValue
    }
}

/// What a proposer is told about the loop before it proposes.
public struct ProposalContext: Sendable {
    public var loop: String
    public var objective: Objective?
    /// Globs of the paths a candidate may change.
    public var scope: [String]
    /// A file a person may edit while the loop runs; re-read before every proposal.
    public var guidanceFile: String?
    /// The commit the loop started from.
    public var baseCommit: ObjectID?
    /// The loop's current best commit: proposals are diffs against its tree.
    public var bestCommit: ObjectID
    public var bestTree: ObjectID
    /// Sources already tried by this proposer (decided candidates), so nothing is proposed twice.
    public var tried: Set<String>
    /// The most recent attempts, newest last, for proposers that learn from them.
    public var recent: [Attempt]
    /// Trees of the earlier bests of this loop (base first): states already beaten.
    public var lineage: [ObjectID]
    /// Candidates other lanes are trying right now (`[parallel] candidates` > 1): their
    /// sources are also in `tried`, and a model is told of them so it proposes something else.
    public var inFlight: [Attempt] = []

    public init(
        loop: String, bestCommit: ObjectID, bestTree: ObjectID, tried: Set<String>, recent: [Attempt], lineage: [ObjectID] = [],
        objective: Objective? = nil, scope: [String] = ["**"], guidanceFile: String? = nil, baseCommit: ObjectID? = nil
    ) {
        self.lineage = lineage
        self.objective = objective
        self.scope = scope
        self.guidanceFile = guidanceFile
        self.baseCommit = baseCommit
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

/// Model usage of one proposal, for cost accounting and budgets.
public struct Usage: Sendable, Equatable, Codable {
    public var inputTokens: Int
    public var outputTokens: Int
    /// In the currency of the configured prices (per million tokens).
    public var cost: Double

    public init(inputTokens: Int = 0, outputTokens: Int = 0, cost: Double = 0) {
        self.inputTokens = inputTokens
        self.outputTokens = outputTokens
        self.cost = cost
    }
}

/// What was said to a model and what it answered (secrets redacted), kept with the candidate.
public struct Transcript: Sendable, Equatable, Codable {
    public var prompt: String
    public var response: String

    public init(prompt: String, response: String) {
        self.prompt = prompt
        self.response = response
    }
}

/// A proposed change: a unified diff against the best tree.
public struct Proposal: Sendable, Equatable {
    /// A stable name for what was proposed (a patch file, a knob assignment); the memory key.
    public var source: String
    /// One line for logs and the commit subject.
    public var title: String
    public var diff: String
    public var usage: Usage?
    public var transcript: Transcript?

    public init(source: String, title: String, diff: String, usage: Usage? = nil, transcript: Transcript? = nil) {
        self.source = source
        self.title = title
        self.diff = diff
        self.usage = usage
        self.transcript = transcript
    }
}

/// A proposer that could not produce a proposal; the candidate is rejected with this reason.
public struct ProposerError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The source the failure belongs to, when known (so it is not retried forever).
    public var source: String?
    public var message: String
    /// Usage spent before the failure (a model that answered with an unusable reply).
    public var usage: Usage?
    public var transcript: Transcript?

    public init(source: String? = nil, _ message: String, usage: Usage? = nil, transcript: Transcript? = nil) {
        self.source = source
        self.message = message
        self.usage = usage
        self.transcript = transcript
    }

    public var description: String { message }
}

/// Produces candidate changes. Returns `nil` when it has nothing left to propose.
public protocol Proposer {
    /// The `kind` named in the config (`tuner`, `patches`, …).
    var kind: String { get }
    /// Proposes one change against `context.bestTree`, or returns `nil` when exhausted.
    /// `scratch` is a slot holding the best code, for proposers that edit files instead of
    /// returning a diff (they return `scratch.diff(against:)`); Ratchet restores it afterwards.
    /// It is `nil` unless `usesScratch` is true.
    func propose(_ context: ProposalContext, repository: Repository, scratch: Slot?) async throws(ProposerError) -> Proposal?

    /// Whether the proposer edits files in a scratch slot (filling one costs a full checkout once).
    var usesScratch: Bool { get }

    /// Whether several lanes may ask this proposer at once. A proposer that picks the next
    /// untried source from `context.tried` (a queue, the tuner) is asked by one lane at a
    /// time, so two lanes never pick the same source; a model is asked concurrently and
    /// told what is in flight instead.
    var proposesConcurrently: Bool { get }
}

extension Proposer {
    public var usesScratch: Bool { false }
    public var proposesConcurrently: Bool { false }
}

/// Builds the proposer a config entry names. Model proposers send through `httpClient`
/// (`ModelProposer.sharedClient` by default) and read their API key from the process
/// environment at each proposal.
/// - Parameter commandRunner: what a `command` proposer runs its program with (its sandbox).
public func makeProposer(
    _ spec: ProposerSpec, seed: UInt64, httpClient: HTTPClient = ModelProposer.sharedClient, commandRunner: CommandRunner = CommandRunner()
) -> any Proposer {
    switch spec {
    case .patches(let directory): PatchesProposer(directory: directory)
    case .tuner(let knobs): TunerProposer(knobs: knobs, seed: seed)
    case .openai(let model): ModelProposer(api: .openAI, spec: model, client: httpClient)
    case .anthropic(let model): ModelProposer(api: .anthropic, spec: model, client: httpClient)
    case .command(let command): CommandProposer(spec: command, runner: commandRunner)
    }
}
