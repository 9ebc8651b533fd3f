import Core
import Foundation
import Report
import Store

/// Everything about one candidate: `GET /api/candidates/{id}`.
struct CandidateDetail: Codable, Sendable {
    var candidate: CandidateSummary
    var diff: String?
    var diffStat: DiffView
    var samples: [SampleRecord]
    var steps: [StepRecord]
    var approvals: [ApprovalRecord]
    var prompt: String?
    var response: String?
    var lowerIsBetter: Bool
    /// For accepted changes: approvals needed, who counts, how many are missing, in words.
    var approvalsRequired: Int?
    var approvalsCounted: [String]?
    var approvalsMissing: Int?
    var approvalStatus: String?

    static func load(_ entry: LoopEntry, _ record: CandidateRecord) throws(StoreError) -> CandidateDetail {
        let id = record.id ?? 0
        let approvals = try entry.store.approvals(candidate: id)
        var detail = CandidateDetail(
            candidate: CandidateSummary(record), diff: record.diff, diffStat: DiffView(record.diff ?? ""), samples: try entry.store.samples(candidate: id),
            steps: try entry.store.steps(candidate: id), approvals: approvals, prompt: record.prompt,
            response: record.response, lowerIsBetter: entry.config.metric.decision.direction == .lower)
        if record.outcome == Outcome.accepted.rawValue {
            let tally = try entry.tally(record, approvals: approvals)
            detail.approvalsRequired = tally.required.count
            detail.approvalsCounted = tally.counted
            detail.approvalsMissing = tally.missing
            detail.approvalStatus = tally.summary
        }
        return detail
    }

    /// Measured (not warm-up) samples of the objective as baseline/candidate pairs, in pair
    /// order (extra `[[benchmark]]`s and a wall-time confirmation are stored under their names).
    var pairs: [Charts.Pair] { pairs(of: nil) }

    /// The same for samples stored under `benchmark` (a `[[benchmark]]`, or the wall-time
    /// confirmation round).
    func pairs(of benchmark: String?) -> [Charts.Pair] {
        let measured = samples.filter { !$0.warmup && $0.benchmark == benchmark }
        let byPair = Dictionary(grouping: measured, by: \.pair)
        return byPair.keys.sorted().map { pair in
            let runs = byPair[pair] ?? []
            return Charts.Pair(pair: pair, baseline: runs.last { $0.arm == "baseline" }?.value, candidate: runs.last { $0.arm == "candidate" }?.value)
        }
    }
}

/// A loop as `GET /api/loops` shows it.
struct LoopStatus: Codable, Sendable {
    var loop: String
    var config: String
    var schedule: String
    /// What the daemon is doing with it.
    var daemon: LoopPhase
    /// `never run` until the loop has a row; otherwise the overview's state.
    var state: String
    var overview: LoopOverview?

    static func load(_ entry: LoopEntry, phase: LoopPhase) throws(StoreError) -> LoopStatus {
        let overview = try LoopOverview.load(loop: entry.name, store: entry.store, stateDirectory: entry.stateDirectory, limits: entry.config.budget)
        return LoopStatus(
            loop: entry.name, config: entry.configPath, schedule: entry.config.schedule.summary, daemon: phase, state: overview?.state ?? "never run",
            overview: overview)
    }
}

extension LoopEntry {
    /// The approvals of `record`, counted against the loop's `[checkpoint]` (as `promote` counts them).
    func tally(_ record: CandidateRecord, approvals: [ApprovalRecord]) throws(StoreError) -> ApprovalTally {
        let checkpoint = config.checkpoint
        let starter = checkpoint.forbidSelfApproval ? try store.starter(ofCandidate: record) : nil
        let paths = (record.paths ?? "").split(separator: "\n").map(String.init)
        return ApprovalTally(
            approvers: approvals.filter { $0.decision == "approved" }.map(\.actor), required: checkpoint.requiredApprovals(paths: paths),
            starter: starter, forbidSelfApproval: checkpoint.forbidSelfApproval)
    }
}
