import Adapters
import Core
import Execution
import Foundation
import Git
import Store

extension LoopRunner {
    // MARK: One candidate

    func runCandidate(_ proposer: any Proposer) async throws -> CandidateOutcome {
        _ = await adoptBest()
        // A proposer that picks the next untried source is asked by one lane at a time, from
        // reading what is tried and in flight to recording its pick.
        let serialised = laneCount > 1 && !proposer.proposesConcurrently
        if serialised { await coordinator.proposals.take() }
        var proposing = serialised
        defer { if proposing { coordinator.proposals.give() } }
        // Store reads that stay small however long the loop has run: the last 100 attempts,
        // the candidates in flight, this proposer's tried sources.
        let recent = try store.candidateRows(loop: config.name, CandidateQuery(newest: 100))
        // Unfinished candidates are in flight in other lanes (recovery settled the rest).
        let inFlight = try store.candidateRows(loop: config.name, CandidateQuery(unfinished: true))
        let tried = try store.triedSources(loop: config.name, proposer: proposer.kind).union(
            inFlight.filter { $0.proposer == proposer.kind }.map(\.source))
        let accepted = try store.tally(loop: config.name).count(outcome: .accepted)
        let measured = measuredValues()
        var context = ProposalContext(
            loop: config.name, bestCommit: bestCommit, bestTree: bestTree,
            tried: tried,
            recent: recent.sorted { $0.sequence < $1.sequence }.map {
                Attempt(source: $0.source, title: $0.title, outcome: $0.state.label, reason: $0.reason)
            },
            lineage: lineage(),
            objective: Objective(
                metric: config.metric.source.name, direction: config.metric.decision.direction, minEffect: config.metric.decision.minEffect,
                bench: config.bench.run, bestValue: measured.best, baseValue: measured.base),
            scope: config.scope,
            baseCommit: try? ObjectID(hex: loop.baseCommit)
        )
        context.inFlight = inFlight.map { Attempt(source: $0.source, title: $0.title, outcome: "in flight", reason: nil) }
        let proposal: Proposal
        let scratch = proposer.usesScratch ? try scratchSlot() : nil
        do {
            guard let made = try await proposer.propose(context, repository: repository, scratch: scratch) else { return .exhausted }
            proposal = made
        } catch {
            // Record the failure so the same source is not retried forever; with no source
            // the proposer cannot make progress at all, so move on to the next one.
            var failed = try store.insertCandidate(
                CandidateRecord(
                    loop: config.name, sequence: 0, proposer: proposer.kind, source: error.source ?? "error",
                    title: "\(proposer.kind) failed", parentCommit: bestCommit.hex))
            record(usage: error.usage, transcript: error.transcript, in: &failed)
            emit(.candidate(sequence: failed.sequence, id: failed.id ?? 0, title: failed.title, best: bestCommit.short, accepted: accepted))
            try finish(&failed, .rejected, .proposerFailed, error.message)
            return error.source == nil ? .exhausted : .decided
        }

        var candidate = try store.insertCandidate(
            CandidateRecord(
                loop: config.name, sequence: 0, proposer: proposer.kind, source: proposal.source,
                title: proposal.title, parentCommit: bestCommit.hex))
        candidate.diff = proposal.diff
        record(usage: proposal.usage, transcript: proposal.transcript, in: &candidate)
        try store.update(candidate)
        if proposing {
            proposing = false
            coordinator.proposals.give()
        }
        emit(.candidate(sequence: candidate.sequence, id: candidate.id ?? 0, title: candidate.title, best: bestCommit.short, accepted: accepted))
        let id = candidate.id ?? 0
        await coordinator.beginEvaluation(id)
        do {
            let outcome = try await evaluate(&candidate)
            await coordinator.endEvaluation(id)
            return outcome
        } catch let interruption as Interrupted {
            await coordinator.endEvaluation(id)
            // Stopped after the candidate was decided (in the A/A built beside it): its decision stands.
            if case .finished = candidate.state { return .interrupted(interruption.reason) }
            try finish(
                &candidate, .interrupted, .interrupted, "\(interruption.reason) while at step '\(candidate.state.label)'; it will be proposed again")
            return .interrupted(interruption.reason)
        } catch let broken as SealBroken {
            await coordinator.endEvaluation(id)
            if var step = currentStep, step.finishedAt == nil { try close(&step, ok: false, detail: broken.message) }
            // The best's own A/A, after the candidate was decided, is no candidate's doing.
            if case .finished = candidate.state { throw RunnerError(.baselineFailed, "the A/A of the best \(bestCommit.short): \(broken.message)") }
            try finish(&candidate, .rejected, .runTimeWrite, broken.message)
            return .decided
        }
    }

    func record(usage: Usage?, transcript: Transcript?, in candidate: inout CandidateRecord) {
        if let usage {
            candidate.inputTokens = usage.inputTokens
            candidate.outputTokens = usage.outputTokens
            candidate.cost = usage.cost
        }
        if let transcript {
            candidate.prompt = transcript.prompt
            candidate.response = transcript.response
        }
    }

    /// The median measured value of the current best and of the original base, from stored
    /// samples (the base as the first measured baseline, the best as the candidate side of the
    /// accept that made it).
    func measuredValues() -> (best: Double?, base: Double?) {
        func median(_ values: [Double]) -> Double? {
            guard !values.isEmpty else { return nil }
            let sorted = values.sorted()
            return sorted[sorted.count / 2]
        }
        func values(_ candidate: CandidateRow?, arm: Arm) -> Double? {
            guard let id = candidate?.id, let samples = try? store.samples(candidate: id) else { return nil }
            return median(samples.filter { !$0.warmup && $0.arm == arm && $0.benchmark == nil }.map(\.value))
        }
        let base = values(try? store.firstMeasured(loop: config.name, parentCommit: loop.baseCommit), arm: .baseline)
        let best = bestCommit.hex == loop.baseCommit ? base : values(try? store.candidate(loop: config.name, commit: bestCommit.hex), arm: .candidate)
        return (best, base)
    }

    /// Trees of the loop's earlier bests: first parents from the best back to the base.
    func lineage() -> [ObjectID] {
        guard let base = try? ObjectID(hex: loop.baseCommit),
            let commits = try? repository.firstParentHistory(from: bestCommit, to: base, limit: 1000)
        else { return [] }
        var trees: [ObjectID] = []
        if let baseTree = try? repository.tree(ofCommit: base) { trees.append(baseTree) }
        for commit in commits.dropLast() {
            if let tree = try? repository.tree(ofCommit: commit) { trees.append(tree) }
        }
        return trees
    }

    /// Marks the candidate's step, in the store first; a safe point comes before it.
    func enter(_ step: Step, _ candidate: inout CandidateRecord) async throws -> StepRecord {
        if let reason = try await safePoint() { throw Interrupted(reason: reason) }
        try advance(&candidate, to: .running(step))
        try store.update(candidate)
        emit(.step(sequence: candidate.sequence, step: step))
        let record = try store.startStep(step, candidate: candidate.id ?? 0)
        currentStep = record
        return record
    }

    /// Moves the candidate through the Core state machine.
    /// - Throws: `RunnerError` (`internalError`) for a transition it does not allow.
    func advance(_ candidate: inout CandidateRecord, to next: CandidateState) throws(RunnerError) {
        do {
            try candidate.advance(to: next)
        } catch {
            throw RunnerError(.internalError, "candidate #\(candidate.sequence) (id \(candidate.id ?? 0)): \(error.description)")
        }
    }

    func finish(_ candidate: inout CandidateRecord, _ outcome: Outcome, _ rejection: RejectionKind?, _ reason: String) throws {
        try advance(&candidate, to: .finished(outcome))
        candidate.rejection = rejection
        candidate.reason = reason
        candidate.finishedAt = Date()
        try store.update(candidate)
        var fields = ["candidate": String(candidate.id ?? 0), "outcome": outcome.rawValue, "reason": reason, "source": candidate.source]
        if let rejection { fields["rejection"] = rejection.rawValue }
        if let commit = candidate.commit { fields["commit"] = commit }
        if let estimate = candidate.estimate { fields["effect"] = Format.effect(estimate: estimate, lower: candidate.lower, upper: candidate.upper) }
        try audit.append(loop: config.name, kind: "decision", fields)
        emit(.finished(sequence: candidate.sequence, outcome: outcome, reason: reason))
    }

    func close(_ record: inout StepRecord, ok: Bool, detail: String, result: CommandResult? = nil) throws {
        record.status = ok ? .ok : .failed
        record.detail = detail
        if let result {
            record.exitStatus = result.exitStatus.map(Int.init)
            record.wallSeconds = result.wallSeconds
            record.output = result.tail(lines: 200)
        }
        try store.finish(record)
        if currentStep?.id == record.id { currentStep = nil }
        try audit.append(
            loop: config.name, kind: "step",
            ["candidate": String(record.candidateId), "step": record.step.rawValue, "status": record.status.rawValue, "detail": detail])
    }

    /// The gate's verdict on a candidate, with every protected path of this repository.
    func gateViolations(_ summary: PatchSummary, tree: ObjectID?) -> [GateViolation] {
        let repository = self.repository
        let best = bestTree
        let protected = config.protectedPaths(fileExists: { (try? repository.entry(at: $0, inTree: best)) != nil })
        let gate = Gate(scope: config.scope, protected: protected, limits: config.gate)
        // The size and content checks read the same candidate blobs: read each once.
        var candidateFiles: [String: [UInt8]?] = [:]
        let candidateContent = { (path: String) -> [UInt8]? in
            guard let tree else { return nil }
            if let known = candidateFiles[path] { return known }
            let bytes = (try? repository.file(at: path, inTree: tree)) ?? nil
            candidateFiles[path] = bytes
            return bytes
        }
        return gate.check(
            GateInput(
                changes: summary.files.map {
                    ChangedPath(
                        path: $0.path, oldPath: $0.oldPath.isEmpty ? $0.path : $0.oldPath, oldMode: $0.oldMode, newMode: $0.newMode,
                        isBinary: $0.isBinary)
                },
                addedLines: summary.addedContent,
                baseMode: { (try? repository.entry(at: $0, inTree: best))?.mode },
                candidateSize: { candidateContent($0)?.count },
                baseContent: { (try? repository.file(at: $0, inTree: best)) ?? nil },
                candidateContent: candidateContent
            ))
    }

    func sync(_ slot: Slot, to tree: ObjectID) throws {
        let guarded = try slotGuard(slot)
        try settleSlots(after: .run, in: nil, step: "before moving \(slot.directory)")
        do {
            try slot.sync(to: tree)
        } catch {
            throw RunnerError(.io, "cannot update worktree slot \(slot.directory): \(error.description)")
        }
        guarded.ownWritesDone()
    }

    /// Runs a user command in a slot under the loop's control (stop, pause, wall-clock
    /// budget), recording its process group on the step so a crash cannot orphan it.
    ///
    /// Sealed evaluation: every guarded slot is checked before the command (a process left
    /// running may have written since) and after it, every touched path compared by content
    /// with the commit; the evaluator's files are also bound read-only under bubblewrap; a
    /// slot whose build output a run changed is built again first. A write where none may
    /// be throws `SealBroken`, after the slot has been put right.
    /// `keep` names untracked files a bench run makes for Ratchet to read (metric files).
    func runCommand(
        _ command: CommandSpec, in slot: Slot, role: String, step: StepRecord? = nil, extra: [String: String] = [:],
        phase: SlotGuard.Phase = .run, label: String? = nil, keep: (String) -> Bool = { _ in false }
    ) async throws -> CommandResult {
        let label = label ?? (phase == .build ? "build" : role == Self.benchRole ? "bench" : step?.step.rawValue ?? role)
        let guarded = try slotGuard(slot)
        try settleSlots(after: .run, in: nil, step: "before \(label)")
        if phase == .run, guarded.needsBuild, let build = config.build {
            guarded.needsBuild = false
            let rebuilt = try await runCommand(build, in: slot, role: slot === baselineSlot ? "baseline" : "candidate", step: step, phase: .build)
            if rebuilt.stopped { throw Interrupted(reason: options.stop.reason ?? "stopped") }
            guard rebuilt.succeeded else {
                throw SealBroken(
                    message:
                        "a run changed build output in \(slot.directory), and building again failed (\(rebuilt.summary)): \(rebuilt.tail(lines: 5))")
            }
        }
        let store = self.store
        let stepRecord = step
        var environment = ["RATCHET_LOOP": config.name, "RATCHET_ROLE": role, "RATCHET_SLOT": slot.directory]
        environment.merge(extra) { $1 }
        var runner = executor
        runner.sandbox.sealed = try sealedBinds(for: slot)
        if role == Self.benchRole { runner.sandbox.cpus = measuring?.cores }
        let held = try await buildHold(role: role)
        defer { held?.release() }
        let result: CommandResult
        do {
            result = try await runner.run(
                command.run, in: slot.directory, timeout: command.timeout,
                environment: environment,
                control: control,
                started: { group in
                    guard var record = stepRecord else { return }
                    record.processGroup = Int(group)
                    try? store.update(record)
                })
        } catch {
            throw RunnerError(.io, error.description)
        }
        do {
            try settleSlots(after: phase, in: slot, step: label, keep: keep)
        } catch let broken as SealBroken where result.stopped {
            // Killed because the loop stops: the candidate is proposed again (the slot is put right).
            emit(.note("while stopping: \(broken.message)"))
        }
        return result
    }

    /// Puts the best code in the baseline slot and builds it once per best commit.
    func prepareBaseline() async throws {
        guard let result = try await buildBaselineSlot(), !result.succeeded else { return }
        throw RunnerError(
            .baselineFailed,
            "the best code (\(bestCommit.short)) no longer builds in \(baselineSlot.directory) (\(result.summary)): \(result.tail(lines: 5))")
    }

    /// Puts the best code in the baseline slot and, when it is not built there yet, builds
    /// it; the build's result (`nil` when nothing was built).
    func buildBaselineSlot() async throws -> CommandResult? {
        try sync(baselineSlot, to: bestTree)
        guard baselineBuiltTree != bestTree else { return nil }
        var result: CommandResult?
        if let build = config.build {
            let built = try await runCommand(build, in: baselineSlot, role: "baseline", phase: .build)
            if built.stopped { throw Interrupted(reason: options.stop.reason ?? "stopped") }
            result = built
            guard built.succeeded else { return built }
        }
        baselineBuiltTree = bestTree
        return result
    }

    // MARK: Decide

    /// Commits an accepted candidate on the loop branch; returns the checkpoint reason when
    /// it must wait for a human.
    func accept(_ candidate: inout CandidateRecord, tree: ObjectID, report: DecisionReport, paths: [String]) throws -> String? {
        let effect = Format.effect(report)
        let anchor = try audit.anchor() ?? "0:\(AuditLog.genesis)"
        let message = """
            ratchet(\(config.name)): \(candidate.title)

            \(report.reason)

            Ratchet-Loop: \(config.name)
            Ratchet-Candidate: \(candidate.id ?? 0)
            Ratchet-Effect: \(effect)
            Ratchet-Audit: \(anchor)

            """
        let commit = try repository.commit(tree: tree, parents: [bestCommit], message: message, author: options.author)
        try repository.updateReference(config.branch, to: commit, expecting: bestCommit, message: "ratchet: accept candidate \(candidate.id ?? 0)")
        bestCommit = commit
        bestTree = tree
        // Other lanes and `ratchet pause` write the loop's row too: change only the best.
        if let fresh = try store.loop(named: config.name) { loop = fresh }
        loop.bestCommit = commit.hex
        try store.save(loop)
        candidate.commit = commit.hex
        candidate.review = .pending
        // The candidate slot holds (and has built) the new best: it becomes the baseline.
        baselineIndex = 1 - baselineIndex
        baselineBuiltTree = tree
        let pending = try budgetUse().acceptsSinceReview + 1
        let checkpoint = config.checkpoint.reason(paths: paths, effect: report.estimate, acceptsSinceReview: pending)
        candidate.checkpoint = checkpoint
        try finish(&candidate, .accepted, nil, report.reason)
        if let checkpoint {
            try audit.append(loop: config.name, kind: "checkpoint", ["candidate": String(candidate.id ?? 0), "reason": checkpoint])
            return "waiting for review: candidate \(candidate.id ?? 0) \(checkpoint); see `ratchet review`"
        }
        return nil
    }
}
