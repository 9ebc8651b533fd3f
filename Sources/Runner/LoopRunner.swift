import Adapters
import Core
import Execution
import Foundation
import Git
import Store

/// Options for one `ratchet run`.
public struct RunOptions: Sendable {
    /// Stop after this many candidates in this run.
    public var maxIterations: Int?
    /// Use these proposers instead of the config's.
    public var proposers: [ProposerSpec]?
    public var author: Signature
    /// Flipped to stop the loop at the next safe point.
    public var stop: StopSwitch

    public init(
        maxIterations: Int? = nil, proposers: [ProposerSpec]? = nil,
        author: Signature = Signature(name: "Ratchet", email: "ratchet@localhost"), stop: StopSwitch = StopSwitch()
    ) {
        self.stop = stop
        self.maxIterations = maxIterations
        self.proposers = proposers
        self.author = author
    }
}

/// Runs one loop: propose → apply → gate → build → test → measure → decide, until the
/// proposers run out, the iteration cap is hit, or the task is cancelled.
///
/// Every step is recorded in the store before the next begins. The loop branch
/// `ratchet/<loop>` is the source of truth for the best commit: after a crash, a candidate
/// whose commit reached the branch is marked accepted; any other unfinished one is marked
/// interrupted and proposed again.
public final class LoopRunner {
    let workspace: Workspace
    let options: RunOptions
    let emit: @Sendable (RunEvent) -> Void
    let executor = CommandRunner()
    var config: LoopConfig { workspace.config }
    var repository: Repository { workspace.repository }
    var store: Store { workspace.store }

    var loop: LoopRecord
    var bestCommit: ObjectID
    var bestTree: ObjectID
    /// Slot 0 and 1; `baselineIndex` says which one holds the best code.
    var slots: [Slot] = []
    var baselineIndex = 0
    var scratch: Slot?
    var baselineBuiltTree: ObjectID?
    private let lock: LoopLock

    public init(workspace: Workspace, options: RunOptions = RunOptions(), emit: @escaping @Sendable (RunEvent) -> Void) throws(RunnerError) {
        self.workspace = workspace
        self.options = options
        self.emit = emit
        let config = workspace.config
        lock = try LoopLock(path: workspace.stateDirectory + "/\(config.name).lock", loop: config.name)
        let repository = workspace.repository
        let baseCommit: ObjectID
        do {
            baseCommit = try repository.resolveCommit(config.base)
        } catch {
            throw RunnerError(.repository, "loop.base: '\(config.base)' does not name a commit in \(config.repository) (\(error.message))")
        }
        do {
            let existing = try workspace.store.loop(named: config.name)
            let tip = try repository.referenceTarget(config.branch)
            var record =
                existing
                ?? LoopRecord(
                    name: config.name, repository: config.repository, baseRef: config.base, baseCommit: baseCommit.hex,
                    bestCommit: (tip ?? baseCommit).hex, configHash: workspace.configHash, status: "running")
            if let tip {
                record.bestCommit = tip.hex
            } else {
                // The branch does not exist (new loop, or deleted by hand): (re)create it at the best known commit.
                let start = (try? ObjectID(hex: record.bestCommit)) ?? baseCommit
                try repository.updateReference(config.branch, to: start, expecting: nil, message: "ratchet: start loop \(config.name)")
                record.bestCommit = start.hex
            }
            record.status = "running"
            record.statusReason = nil
            record.configHash = workspace.configHash
            try workspace.store.save(record)
            loop = record
            bestCommit = try ObjectID(hex: record.bestCommit)
            bestTree = try repository.tree(ofCommit: bestCommit)
        } catch let error as GitError {
            throw RunnerError(.repository, error.description)
        } catch let error as StoreError {
            throw RunnerError(.store, error.description)
        } catch {
            throw RunnerError(.internalError, "\(error)")
        }
    }

    // MARK: Run

    /// Runs the loop until it stops; returns what happened.
    public func run() async throws(RunnerError) -> RunSummary {
        let resumed = try recoverInterrupted()
        try openSlots()
        emit(.started(loop: config.name, best: bestCommit.short, resumed: resumed))
        let proposers = (options.proposers ?? config.proposers).map { makeProposer($0, seed: config.seed) }
        var proposerIndex = 0
        var iterations = 0
        var stopReason = "stopped"
        var status = "stopped"
        while true {
            if let reason = options.stop.reason {
                stopReason = reason
                break
            }
            if let cap = options.maxIterations, iterations >= cap {
                stopReason = "reached --max-iterations \(cap)"
                break
            }
            guard proposerIndex < proposers.count else {
                stopReason = "every proposer has nothing left to propose"
                status = "exhausted"
                break
            }
            let proposer = proposers[proposerIndex]
            let outcome: CandidateOutcome
            do {
                outcome = try await runCandidate(proposer)
            } catch let error as RunnerError {
                loop.status = "failed"
                loop.statusReason = error.message
                try? store.save(loop)
                emit(.stopped(reason: error.message))
                throw error
            } catch {
                throw RunnerError(.internalError, "\(error)")
            }
            switch outcome {
            case .exhausted:
                emit(.note("proposer \(proposer.kind) has nothing left"))
                proposerIndex += 1
            case .interrupted:
                stopReason = options.stop.reason ?? "interrupted"
            case .decided:
                iterations += 1
            }
            if case .interrupted = outcome { break }
        }
        loop.status = status
        loop.statusReason = stopReason
        try wrap { () throws(StoreError) in try store.save(loop) }
        emit(.stopped(reason: stopReason))
        return try summary(stopReason: stopReason)
    }

    enum CandidateOutcome { case exhausted, decided, interrupted }

    func summary(stopReason: String) throws(RunnerError) -> RunSummary {
        let all = try wrap { () throws(StoreError) in try store.candidates(loop: config.name) }
        return RunSummary(
            loop: config.name,
            candidates: all.filter { $0.outcome != nil && $0.outcome != Outcome.interrupted.rawValue }.count,
            accepted: all.filter { $0.outcome == Outcome.accepted.rawValue }.count,
            rejected: all.filter { $0.outcome == Outcome.rejected.rawValue }.count,
            inconclusive: all.filter { $0.outcome == Outcome.inconclusive.rawValue }.count,
            baseCommit: loop.baseCommit,
            bestCommit: bestCommit.hex,
            stopReason: stopReason
        )
    }

    func wrap<T>(_ body: () throws(StoreError) -> T) throws(RunnerError) -> T {
        do { return try body() } catch { throw RunnerError(.store, error.description) }
    }

    // MARK: Recovery

    /// Settles candidates left unfinished by a crash; returns how many there were.
    func recoverInterrupted() throws(RunnerError) -> Int {
        let open = try wrap { () throws(StoreError) in try store.candidates(loop: config.name) }.filter { !$0.lifecycle.isFinished }
        guard !open.isEmpty else { return 0 }
        let trailers = (try? repository.trailers(ofCommit: bestCommit)) ?? [:]
        for var candidate in open {
            if let id = candidate.id, trailers["Ratchet-Candidate"] == String(id) {
                // The commit reached the branch before the crash: the accept stands.
                candidate.state = Outcome.accepted.rawValue
                candidate.outcome = Outcome.accepted.rawValue
                candidate.commit = bestCommit.hex
                candidate.reason = (candidate.reason ?? "") + " (accept completed after restart)"
            } else {
                candidate.reason = "Ratchet stopped while this candidate was at step '\(candidate.state)'; it will be proposed again"
                candidate.state = Outcome.interrupted.rawValue
                candidate.outcome = Outcome.interrupted.rawValue
                candidate.rejection = RejectionKind.interrupted.rawValue
            }
            candidate.finishedAt = Date()
            try wrap { () throws(StoreError) in try store.update(candidate) }
        }
        return open.count
    }

    // MARK: Slots

    func openSlots() throws(RunnerError) {
        let root = workspace.stateDirectory + "/slots/\(config.name)"
        do {
            slots = [try Slot(repository: repository, root: root + "/0"), try Slot(repository: repository, root: root + "/1")]
        } catch {
            throw RunnerError(.io, "cannot open worktree slots in \(root): \(error.description)")
        }
        baselineIndex = (slots[1].tree == bestTree && slots[0].tree != bestTree) ? 1 : 0
    }

    /// A third slot, holding the best code, for proposers that edit files; restored after each use.
    func scratchSlot() throws -> Slot {
        let slot: Slot
        if let existing = scratch {
            slot = existing
        } else {
            slot = try Slot(repository: repository, root: workspace.stateDirectory + "/slots/\(config.name)/scratch")
            scratch = slot
        }
        if slot.tree != nil, try !slot.diff(against: slot.tree ?? bestTree).isEmpty {
            try slot.restore(to: slot.tree ?? bestTree)
        }
        try slot.sync(to: bestTree)
        return slot
    }

    var baselineSlot: Slot { slots[baselineIndex] }
    var candidateSlot: Slot { slots[1 - baselineIndex] }

    // MARK: One candidate

    func runCandidate(_ proposer: any Proposer) async throws -> CandidateOutcome {
        let history = try store.candidates(loop: config.name)
        let mine = history.filter { $0.proposer == proposer.kind && $0.outcome != nil && $0.outcome != Outcome.interrupted.rawValue }
        let context = ProposalContext(
            loop: config.name, bestCommit: bestCommit, bestTree: bestTree,
            tried: Set(mine.map(\.source)),
            recent: history.suffix(10).map { Attempt(source: $0.source, title: $0.title, outcome: $0.outcome ?? $0.state, reason: $0.reason) },
            lineage: lineage()
        )
        let proposal: Proposal
        let scratch = proposer.usesScratch ? try scratchSlot() : nil
        do {
            guard let made = try await proposer.propose(context, repository: repository, scratch: scratch) else { return .exhausted }
            proposal = made
        } catch {
            // Record the failure so the same source is not retried forever; with no source
            // the proposer cannot make progress at all, so move on to the next one.
            var failed = CandidateRecord(
                loop: config.name, sequence: 0, proposer: proposer.kind, source: error.source ?? "error",
                title: "\(proposer.kind) failed", parentCommit: bestCommit.hex)
            failed = try store.insertCandidate(failed)
            emit(.candidate(sequence: failed.sequence, id: failed.id ?? 0, title: failed.title, best: bestCommit.short, accepted: acceptedCount(history)))
            try finish(&failed, .rejected, .proposerFailed, error.message)
            return error.source == nil ? .exhausted : .decided
        }

        var candidate = try store.insertCandidate(
            CandidateRecord(
                loop: config.name, sequence: 0, proposer: proposer.kind, source: proposal.source,
                title: proposal.title, parentCommit: bestCommit.hex))
        candidate.diff = proposal.diff
        try store.update(candidate)
        emit(.candidate(sequence: candidate.sequence, id: candidate.id ?? 0, title: candidate.title, best: bestCommit.short, accepted: acceptedCount(history)))
        return try await evaluate(&candidate)
    }

    func acceptedCount(_ history: [CandidateRecord]) -> Int {
        history.filter { $0.outcome == Outcome.accepted.rawValue }.count
    }

    /// Trees of the loop's earlier bests: first parents from the best back to the base.
    func lineage() -> [ObjectID] {
        var trees: [ObjectID] = []
        var commit = bestCommit
        let base = try? ObjectID(hex: loop.baseCommit)
        while commit != base, trees.count < 1000, let parent = try? repository.parents(ofCommit: commit).first {
            guard let tree = try? repository.tree(ofCommit: parent) else { break }
            trees.append(tree)
            commit = parent
        }
        return trees.reversed()
    }

    /// Marks the candidate's step, in the store first.
    func enter(_ step: Step, _ candidate: inout CandidateRecord) throws -> StepRecord {
        candidate.state = step.rawValue
        try store.update(candidate)
        emit(.step(sequence: candidate.sequence, step: step))
        return try store.startStep(step, candidate: candidate.id ?? 0)
    }

    func finish(_ candidate: inout CandidateRecord, _ outcome: Outcome, _ rejection: RejectionKind?, _ reason: String) throws {
        candidate.state = outcome.rawValue
        candidate.outcome = outcome.rawValue
        candidate.rejection = rejection?.rawValue
        candidate.reason = reason
        candidate.finishedAt = Date()
        try store.update(candidate)
        emit(.finished(sequence: candidate.sequence, outcome: outcome, reason: reason))
    }

    func close(_ record: inout StepRecord, ok: Bool, detail: String, result: CommandResult? = nil) throws {
        record.status = ok ? "ok" : "failed"
        record.detail = detail
        if let result {
            record.exitStatus = result.exitStatus.map(Int.init)
            record.wallSeconds = result.wallSeconds
            record.output = result.tail(lines: 200)
        }
        try store.finish(record)
    }

    func evaluate(_ candidate: inout CandidateRecord) async throws -> CandidateOutcome {
        let diff = candidate.diff ?? ""
        // apply
        var step = try enter(.apply, &candidate)
        let tree: ObjectID
        let summary: PatchSummary
        do {
            summary = try repository.parsePatch(diff)
            tree = try repository.apply(patch: diff, to: bestTree)
        } catch {
            let kind: RejectionKind = (error.code == .applyFailed || error.code == .conflict) ? .applyFailed : .invalidDiff
            let reason = kind == .applyFailed ? "diff does not apply to the best code: \(error.message)" : "not a usable diff: \(error.message)"
            try close(&step, ok: false, detail: reason)
            try finish(&candidate, .rejected, kind, reason)
            return .decided
        }
        candidate.tree = tree.hex
        try close(&step, ok: true, detail: "\(summary.files.count) file(s), +\(summary.addedLines) -\(summary.deletedLines)")
        if tree == bestTree {
            try finish(&candidate, .rejected, .invalidDiff, "the diff changes nothing")
            return .decided
        }

        // gate
        step = try enter(.gate, &candidate)
        let gate = Gate(scope: config.scope, protected: config.protectedPaths)
        let violations = gate.check(
            summary.files.map {
                ChangedPath(path: $0.path, oldPath: $0.oldPath.isEmpty ? $0.path : $0.oldPath, oldMode: $0.oldMode, newMode: $0.newMode, isBinary: $0.isBinary)
            })
        if !violations.isEmpty {
            let reason = "gate: " + violations.map(\.description).joined(separator: "; ")
            try close(&step, ok: false, detail: reason)
            try finish(&candidate, .rejected, .gate, reason)
            return .decided
        }
        try close(&step, ok: true, detail: "\(summary.files.count) path(s) checked")

        // build, test
        try sync(candidateSlot, to: tree)
        if let build = config.build {
            step = try enter(.build, &candidate)
            let result = try await runCommand(build, in: candidateSlot, role: "candidate")
            try close(&step, ok: result.succeeded, detail: result.summary, result: result)
            if !result.succeeded {
                try finish(&candidate, .rejected, .buildFailed, "build failed (\(result.summary)): \(result.tail(lines: 5))")
                return .decided
            }
        }
        if let test = config.test {
            step = try enter(.test, &candidate)
            let result = try await runCommand(test, in: candidateSlot, role: "candidate")
            try close(&step, ok: result.succeeded, detail: result.summary, result: result)
            if !result.succeeded {
                try finish(&candidate, .rejected, .testFailed, "tests failed (\(result.summary)): \(result.tail(lines: 5))")
                return .decided
            }
        }

        // measure
        step = try enter(.measure, &candidate)
        try await prepareBaseline()
        let measured = try await measure(&candidate)
        switch measured {
        case .failed(let reason):
            try close(&step, ok: false, detail: reason)
            try finish(&candidate, .rejected, .benchFailed, reason)
            return .decided
        case .interrupted:
            try close(&step, ok: false, detail: "interrupted")
            return .interrupted
        case .decided(let report):
            try close(&step, ok: true, detail: report.reason)
            candidate.estimate = report.estimate
            candidate.lower = report.lower
            candidate.upper = report.upper
            candidate.threshold = report.threshold
            candidate.pairs = report.pairs
            step = try enter(.decide, &candidate)
            switch report.verdict {
            case .accept:
                try accept(&candidate, tree: tree, report: report)
                try close(&step, ok: true, detail: "committed \(candidate.commit ?? "")")
            case .reject, .needMore:
                try close(&step, ok: true, detail: "rejected")
                try finish(&candidate, .rejected, .notBetter, report.reason)
            case .inconclusive:
                try close(&step, ok: true, detail: "inconclusive")
                try finish(&candidate, .inconclusive, .inconclusive, report.reason)
            }
            return .decided
        }
    }

    func sync(_ slot: Slot, to tree: ObjectID) throws {
        do {
            try slot.sync(to: tree)
        } catch {
            throw RunnerError(.io, "cannot update worktree slot \(slot.directory): \(error.description)")
        }
    }

    func runCommand(_ command: CommandSpec, in slot: Slot, role: String) async throws -> CommandResult {
        do {
            return try await executor.run(
                command.run, in: slot.directory, timeout: command.timeout,
                environment: ["RATCHET_LOOP": config.name, "RATCHET_ROLE": role, "RATCHET_SLOT": slot.directory])
        } catch {
            throw RunnerError(.io, error.description)
        }
    }

    /// Puts the best code in the baseline slot and builds it once per best commit.
    func prepareBaseline() async throws {
        try sync(baselineSlot, to: bestTree)
        guard baselineBuiltTree != bestTree else { return }
        if let build = config.build {
            let result = try await runCommand(build, in: baselineSlot, role: "baseline")
            guard result.succeeded else {
                throw RunnerError(
                    .baselineFailed,
                    "the best code (\(bestCommit.short)) no longer builds in \(baselineSlot.directory) (\(result.summary)): \(result.tail(lines: 5))")
            }
        }
        baselineBuiltTree = bestTree
    }

    // MARK: Decide

    func accept(_ candidate: inout CandidateRecord, tree: ObjectID, report: DecisionReport) throws {
        let effect = Format.effect(report)
        let message = """
            ratchet(\(config.name)): \(candidate.title)

            \(report.reason)

            Ratchet-Loop: \(config.name)
            Ratchet-Candidate: \(candidate.id ?? 0)
            Ratchet-Effect: \(effect)

            """
        let commit = try repository.commit(tree: tree, parents: [bestCommit], message: message, author: options.author)
        try repository.updateReference(config.branch, to: commit, expecting: bestCommit, message: "ratchet: accept candidate \(candidate.id ?? 0)")
        bestCommit = commit
        bestTree = tree
        loop.bestCommit = commit.hex
        try store.save(loop)
        candidate.commit = commit.hex
        // The candidate slot holds (and has built) the new best: it becomes the baseline.
        baselineIndex = 1 - baselineIndex
        baselineBuiltTree = tree
        try finish(&candidate, .accepted, nil, report.reason)
    }
}

@available(*, unavailable)
extension LoopRunner: Sendable {}

/// Number formatting shared by commits, logs and the CLI.
public enum Format {
    public static func percent(_ value: Double) -> String {
        String(format: "%+.1f%%", value * 100)
    }

    /// `+31.2% [+27.0%, +35.1%]`
    public static func effect(_ report: DecisionReport) -> String {
        "\(percent(report.estimate)) [\(percent(report.lower)), \(percent(report.upper))]"
    }

    public static func effect(estimate: Double?, lower: Double?, upper: Double?) -> String {
        guard let estimate else { return "" }
        guard let lower, let upper else { return percent(estimate) }
        return "\(percent(estimate)) [\(percent(lower)), \(percent(upper))]"
    }
}
