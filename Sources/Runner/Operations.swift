import Core
import Execution
import Foundation
import Git
import Store

/// The human side of a loop: review, approve, reject, rollback, reset and promote. Every
/// action is recorded with who did it, in the store and in the audit log.
public final class LoopOperations {
    let workspace: Workspace
    var config: LoopConfig { workspace.config }
    var repository: Repository { workspace.repository }
    var store: Store { workspace.store }
    var audit: AuditLog { workspace.audit }
    let author: Signature

    public init(workspace: Workspace, author: Signature = Signature(name: "Ratchet", email: "ratchet@localhost")) {
        self.workspace = workspace
        self.author = author
    }

    /// The person at this terminal: the OS user, with git's `user.name <user.email>` kept
    /// beside it when set.
    /// - Throws: `GitError` when the repository's git configuration cannot be read.
    public func localActor() throws -> Actor {
        var git = try repository.configValue("user.name")
        if let name = git, let email = try repository.configValue("user.email") { git = "\(name) <\(email)>" }
        return Actor.local(gitIdentity: git)
    }

    func fail(_ message: String) -> RunnerError { RunnerError(.invalidRequest, message) }

    func candidate(_ id: Int64) throws -> CandidateRecord {
        guard let candidate = try store.candidate(id: id), candidate.loop == config.name else {
            throw RunnerError(.invalidRequest, "no candidate \(id) in loop '\(config.name)'; `ratchet log` lists them")
        }
        return candidate
    }

    /// Accepted changes not yet reviewed, oldest first.
    public func pendingReview() throws -> [CandidateRecord] {
        try store.candidates(CandidateRecord.pendingReview(in: config.name), doing: "list the review queue of '\(config.name)'")
    }

    /// The approvals candidate `record` has, counted against what it needs under the current
    /// `[checkpoint]`: distinct people, never the loop itself, and not the run's starter when
    /// `forbid_self_approval` is set.
    public func tally(_ record: CandidateRecord) throws -> ApprovalTally {
        let approvers = try store.approvals(candidate: record.id ?? 0, decision: .approved).map(\.actor)
        let paths = (record.paths ?? "").split(separator: "\n").map(String.init)
        let starter = config.checkpoint.forbidSelfApproval ? try store.starter(ofCandidate: record) : nil
        return ApprovalTally(
            approvers: approvers, required: config.checkpoint.requiredApprovals(paths: paths), starter: starter,
            forbidSelfApproval: config.checkpoint.forbidSelfApproval)
    }

    /// Approvals `actor` made in the last `seconds` (to notice a burst).
    public func recentApprovals(by actor: String, within seconds: TimeInterval) throws -> Int {
        try store.approvalCount(actor: actor, since: Date().addingTimeInterval(-seconds))
    }

    /// Records a human approval of an accepted change (a name nobody checked).
    @discardableResult
    public func approve(_ id: Int64, actor: String, note: String?) throws -> ApprovalTally {
        try approve(id, by: .typed(actor), note: note)
    }

    /// Records `actor`'s approval of an accepted change. The change counts as approved once
    /// it has the approvals `[checkpoint]` asks for, from distinct people.
    /// - Parameters:
    ///   - reviewed: the reviewer stated they reviewed the change (recorded).
    ///   - reviewSeconds: seconds from opening the change's page to this approval (recorded).
    ///   - burst: the approval was confirmed as part of a burst (recorded, flagged in the audit).
    /// - Returns: the approvals counted so far.
    /// - Throws: when the change is not waiting for review, or this approval would not count
    ///   (the loop's identity, a second approval by the same person, the run's starter under
    ///   `forbid_self_approval`).
    @discardableResult
    public func approve(
        _ id: Int64, by actor: Actor, note: String?, reviewed: Bool? = nil, reviewSeconds: Double? = nil, burst: Bool = false
    ) throws -> ApprovalTally {
        var record = try candidate(id)
        guard record.outcome == .accepted else {
            throw fail("candidate \(id) was not accepted (\(record.state.label)); only accepted changes are approved")
        }
        guard record.review == .pending || record.review == nil else {
            throw fail("candidate \(id) was already reviewed (\(record.review?.rawValue ?? ""))")
        }
        let before = try tally(record)
        let starter = config.checkpoint.forbidSelfApproval ? try store.starter(ofCandidate: record) : nil
        if let why = ApprovalTally.refusal(
            of: actor.name, counted: before.counted, starter: starter, forbidSelfApproval: config.checkpoint.forbidSelfApproval)
        {
            throw fail("approval of candidate \(id) refused: \(why); it has \(before.summary)")
        }
        var approval = ApprovalRecord(candidateId: id, loop: config.name, decision: .approved, by: actor, note: note)
        approval.reviewed = reviewed
        approval.reviewSeconds = reviewSeconds
        approval.burst = burst ? true : nil
        _ = try store.add(approval)
        let after = try tally(record)
        var fields = actor.auditFields
        fields.merge(
            [
                "candidate": String(id), "decision": ApprovalDecision.approved.rawValue, "note": note ?? "",
                "approvals": "\(after.counted.count)/\(after.required.count)",
            ]
        ) { _, new in new }
        if let reviewed { fields["reviewed"] = reviewed ? "yes" : "no" }
        if let reviewSeconds { fields["review_seconds"] = String(format: "%.0f", reviewSeconds) }
        if burst { fields["burst"] = "yes" }
        try audit.append(loop: config.name, kind: "approval", actor: actor.name, fields)
        if after.isMet {
            record.review = .approved
            try store.update(record)
            try releaseCheckpointIfClear()
        }
        return after
    }

    /// Records a human rejection of an accepted change and rolls it back.
    public func reject(_ id: Int64, actor: String, reason: String) throws -> ObjectID {
        try reject(id, by: .typed(actor), reason: reason)
    }

    /// Records `actor`'s rejection of an accepted change and rolls it back.
    public func reject(_ id: Int64, by actor: Actor, reason: String) throws -> ObjectID {
        var record = try candidate(id)
        guard record.outcome == .accepted else {
            throw fail("candidate \(id) was not accepted (\(record.state.label)); nothing to reject")
        }
        guard record.review != .rolledBack && record.review != .rejected else { throw fail("candidate \(id) was already rolled back") }
        _ = try store.add(ApprovalRecord(candidateId: id, loop: config.name, decision: .rejected, by: actor, note: reason))
        try audit.append(
            loop: config.name, kind: "approval", actor: actor.name,
            actor.auditFields.merging(["candidate": String(id), "decision": ApprovalDecision.rejected.rawValue, "note": reason]) { _, new in new })
        let revert = try rollback(id, by: actor, reason: "rejected in review: \(reason)")
        record = try candidate(id)
        record.review = .rejected
        try store.update(record)
        try releaseCheckpointIfClear()
        return revert
    }

    /// Reverts one accepted change on the loop branch with a revert commit.
    /// - Throws: when the loop is running, or the revert conflicts with later changes.
    public func rollback(_ id: Int64, actor: String, reason: String? = nil) throws -> ObjectID {
        try rollback(id, by: .typed(actor), reason: reason)
    }

    /// Reverts one accepted change on the loop branch with a revert commit, recorded as `actor`'s.
    public func rollback(_ id: Int64, by actorRecord: Actor, reason: String? = nil) throws -> ObjectID {
        let actor = actorRecord.name
        var record = try candidate(id)
        guard record.outcome == .accepted, let commitHex = record.commit else {
            throw fail("candidate \(id) has no accepted commit to roll back")
        }
        guard record.review != .rolledBack && record.review != .rejected else { throw fail("candidate \(id) was already rolled back") }
        let lock = try LoopLock(path: workspace.stateDirectory + "/\(config.name).lock", loop: config.name)
        defer { withExtendedLifetime(lock) {} }
        workspace.clearStaleBranchLock()
        let commit = try ObjectID(hex: commitHex)
        guard let tip = try repository.referenceTarget(config.branch) else { throw fail("the loop branch ratchet/\(config.name) does not exist") }
        guard try repository.isAncestor(commit, of: tip) else {
            throw fail("candidate \(id)'s commit \(commit.short) is no longer on ratchet/\(config.name) (the loop was reset past it)")
        }
        let tree: ObjectID
        do {
            tree = try repository.replay(commit, onto: tip, revert: true)
        } catch {
            throw fail(
                "cannot roll back candidate \(id): \(error.message); later accepted changes depend on it — roll those back first, or reset the loop")
        }
        let entry = try audit.append(
            loop: config.name, kind: "rollback", actor: actor,
            actorRecord.auditFields.merging(["candidate": String(id), "commit": commit.hex, "reason": reason ?? ""]) { _, new in new })
        let message = """
            ratchet(\(config.name)): roll back candidate \(id) (\(record.title))

            \(reason ?? "Rolled back by \(actor).")

            Ratchet-Loop: \(config.name)
            Ratchet-Rollback: \(id)
            Ratchet-Actor: \(actor)
            Ratchet-Audit: \(entry.seq):\(entry.hash)

            """
        let revert = try repository.commit(tree: tree, parents: [tip], message: message, author: author)
        try repository.updateReference(config.branch, to: revert, expecting: tip, message: "ratchet: roll back candidate \(id)")
        record.review = .rolledBack
        try store.update(record)
        if var loop = try store.loop(named: config.name) {
            loop.bestCommit = revert.hex
            try store.save(loop)
        }
        return revert
    }

    /// Moves the loop branch back to an earlier reviewed state: the base, or the commit of
    /// an accepted candidate whose changes (and all before it) were approved.
    public func reset(to target: String, actor: String) throws -> ObjectID {
        try reset(to: target, by: .typed(actor))
    }

    /// The same, recorded as `actor`'s.
    public func reset(to target: String, by actorRecord: Actor) throws -> ObjectID {
        let actor = actorRecord.name
        let lock = try LoopLock(path: workspace.stateDirectory + "/\(config.name).lock", loop: config.name)
        defer { withExtendedLifetime(lock) {} }
        workspace.clearStaleBranchLock()
        guard let loop = try store.loop(named: config.name) else { throw fail("loop '\(config.name)' has never run") }
        guard let tip = try repository.referenceTarget(config.branch) else { throw fail("the loop branch ratchet/\(config.name) does not exist") }
        let base = try ObjectID(hex: loop.baseCommit)
        let destination: ObjectID
        if target == "base" {
            destination = base
        } else if let id = Int64(target), let record = try store.candidate(id: id), record.loop == config.name, let hex = record.commit {
            destination = try ObjectID(hex: hex)
        } else {
            do {
                destination = try repository.resolveCommit(target)
            } catch {
                throw fail("--to \(target): not 'base', a candidate id or a commit (\(error.message))")
            }
        }
        guard try repository.isAncestor(destination, of: tip), try repository.isAncestor(base, of: destination) else {
            throw fail("--to \(target): \(destination.short) is not on ratchet/\(config.name) between the base and the tip")
        }
        let kept = try repository.firstParentHistory(from: destination, to: base)
        for commit in kept where try !isReviewed(commit) {
            throw fail("--to \(target): \(commit.short) on the way there was not approved; a reset returns only to reviewed states")
        }
        let dropped = try repository.firstParentHistory(from: tip, to: destination)
        try audit.append(
            loop: config.name, kind: "reset", actor: actor,
            actorRecord.auditFields.merging(["from": tip.hex, "to": destination.hex, "dropped": dropped.map(\.hex).joined(separator: ",")]) {
                _, new in new
            })
        try repository.updateReference(config.branch, to: destination, expecting: tip, message: "ratchet: reset to \(destination.short) by \(actor)")
        for commit in dropped {
            if let id = try candidateID(of: commit), var record = try store.candidate(id: id) {
                record.review = .reset
                record.checkpoint = nil
                try store.update(record)
            }
        }
        var updated = loop
        updated.bestCommit = destination.hex
        updated.status = .stopped
        updated.statusReason = "reset to \(destination.short) by \(actor)"
        try store.save(updated)
        return destination
    }

    func candidateID(of commit: ObjectID) throws -> Int64? {
        try repository.trailers(ofCommit: commit)["Ratchet-Candidate"].flatMap { Int64($0) }
    }

    /// A commit on the loop branch is reviewed when its candidate was approved by as many
    /// people as `[checkpoint]` now asks for, or when it is a rollback (made by a person).
    func isReviewed(_ commit: ObjectID) throws -> Bool {
        try unreviewedReason(commit) == nil
    }

    /// Why `commit` is not reviewed, or `nil` when it is.
    func unreviewedReason(_ commit: ObjectID) throws -> String? {
        let trailers = try repository.trailers(ofCommit: commit)
        if trailers["Ratchet-Rollback"] != nil { return nil }
        guard let id = trailers["Ratchet-Candidate"].flatMap({ Int64($0) }), let record = try store.candidate(id: id) else {
            return "\(commit.short) is not a Ratchet change"
        }
        let tally = try tally(record)
        if record.review == .approved && tally.isMet { return nil }
        if let review = record.review, review.undoesAccept {
            return "candidate \(id) (\(commit.short)) is \(review.rawValue)"
        }
        return "candidate \(id) (\(commit.short), \(record.title)) has \(tally.summary)"
    }

    /// What `promote` did.
    public struct Promotion: Sendable {
        public var target: String
        public var commit: String
        public var commits: Int
        public var fastForward: Bool
        /// Why promotion stopped before the loop branch's tip: the first change short of its
        /// approvals, naming what is missing.
        public var stoppedAt: String?
    }

    /// Moves the approved prefix of the loop branch onto `branch`: a fast-forward when the
    /// target has not moved, else the approved commits replayed onto it with the build and
    /// tests run again on the result. Never overwrites the target.
    public func promote(to branch: String, actor: String) async throws -> Promotion {
        try await promote(to: branch, by: .typed(actor))
    }

    /// The same, recorded as `actor`'s.
    /// - Throws: when no change is approved (naming what the first one lacks), the target
    ///   already has them, or a replay does not apply or fails its build or tests.
    public func promote(to branch: String, by actorRecord: Actor) async throws -> Promotion {
        let actor = actorRecord.name
        guard let loop = try store.loop(named: config.name) else { throw fail("loop '\(config.name)' has never run") }
        guard let tip = try repository.referenceTarget(config.branch) else { throw fail("the loop branch ratchet/\(config.name) does not exist") }
        let base = try ObjectID(hex: loop.baseCommit)
        var approved: ObjectID?
        var count = 0
        var stoppedAt: String?
        for commit in try repository.firstParentHistory(from: tip, to: base) {
            if let why = try unreviewedReason(commit) {
                stoppedAt = why
                break
            }
            approved = commit
            count += 1
        }
        guard let approved else {
            throw fail("nothing to promote: \(stoppedAt ?? "no change is approved yet"); see `ratchet review`")
        }
        let reference = branch.hasPrefix("refs/") ? branch : "refs/heads/\(branch)"
        guard reference != config.branch else { throw fail("--to must name another branch than the loop's own") }
        let current = try repository.referenceTarget(reference)
        var result: ObjectID
        var fastForward = true
        if let current {
            if try repository.isAncestor(approved, of: current) {
                throw fail(
                    "\(branch) already contains every approved change (up to \(approved.short))"
                        + (stoppedAt.map { "; the next is held: \($0)" } ?? ""))
            }
            if try repository.isAncestor(current, of: approved) {
                result = approved
            } else {
                // The target moved: replay the approved changes it lacks, then test the result.
                fastForward = false
                result = current
                let missing = try repository.firstParentHistory(from: approved, to: base).filter { commit in
                    !((try? repository.isAncestor(commit, of: current)) ?? false)
                }
                for commit in missing {
                    let tree: ObjectID
                    do {
                        tree = try repository.replay(commit, onto: result, revert: false)
                    } catch {
                        throw fail("cannot promote onto \(branch): \(commit.short) does not apply to it (\(error.message)); nothing was written")
                    }
                    let message = try repository.message(ofCommit: commit).trimmingCharacters(in: .whitespacesAndNewlines)
                    result = try repository.commit(
                        tree: tree, parents: [result], message: message + "\nRatchet-Promoted-From: \(commit.hex)\n", author: author)
                }
                try await verifyTests(tree: try repository.tree(ofCommit: result), branch: branch)
            }
        } else {
            result = approved
        }
        try repository.updateReference(reference, to: result, expecting: current, message: "ratchet: promote \(config.name) by \(actor)")
        try audit.append(
            loop: config.name, kind: "promotion", actor: actor,
            actorRecord.auditFields.merging(
                [
                    "target": reference, "from": current?.hex ?? "", "to": result.hex, "approved_tip": approved.hex,
                    "fast_forward": fastForward ? "yes" : "no", "stopped_at": stoppedAt ?? "",
                ]) { _, new in new })
        return Promotion(target: reference, commit: result.hex, commits: count, fastForward: fastForward, stoppedAt: stoppedAt)
    }

    /// Builds and tests `tree` in a dedicated slot; throws when either fails.
    func verifyTests(tree: ObjectID, branch: String) async throws {
        let slot = try Slot(repository: repository, root: workspace.stateDirectory + "/slots/\(config.name)/promote")
        try slot.sync(to: tree)
        let runner = CommandRunner()
        for (name, command) in [("build", config.build), ("test", config.test)] {
            guard let command else { continue }
            let result = try await runner.run(command.run, in: slot.directory, timeout: command.timeout)
            guard result.succeeded else {
                throw fail(
                    "promotion onto \(branch) refused: the \(name) failed on the combined code (\(result.summary)): \(result.tail(lines: 5)); nothing was written"
                )
            }
        }
    }

    /// When nothing holds the loop at a checkpoint any more, lets it run again.
    func releaseCheckpointIfClear() throws {
        guard var loop = try store.loop(named: config.name), loop.status == .waiting else { return }
        let holding = try !store.waitingCheckpoints(loop: config.name).isEmpty
        if !holding {
            loop.status = .stopped
            loop.statusReason = "checkpoint reviewed; `ratchet run` continues the loop"
            try store.save(loop)
        }
    }
}

@available(*, unavailable)
extension LoopOperations: Sendable {}
