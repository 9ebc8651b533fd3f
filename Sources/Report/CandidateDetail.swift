import Core
import Foundation
import Store

/// Everything about one candidate, as `ratchet show --json`, `GET /api/candidates/{id}` and
/// the review page show it: the record, its diff, steps and samples, the samples paired up
/// per benchmark, and for an accepted change its approvals counted against `[checkpoint]`.
public struct CandidateDetail: Codable, Sendable {
    public var candidate: CandidateSummary
    public var diff: String?
    public var diffStat: DiffView
    /// Every stored sample, warm-ups and earlier measurements included, in the order taken.
    public var samples: [SampleRecord]
    /// The latest measurement as baseline/candidate pairs per benchmark, the objective first.
    public var series: [SampleSeries]
    public var steps: [StepRecord]
    public var approvals: [ApprovalRecord]
    public var usage: Usage?
    public var prompt: String?
    public var response: String?
    public var lowerIsBetter: Bool
    /// For accepted changes: approvals needed, who counts, how many are missing, in words.
    public var approvalsRequired: Int?
    public var approvalsCounted: [String]?
    public var approvalsMissing: Int?
    public var approvalStatus: String?

    /// Model use of the proposal, when a model made it.
    public struct Usage: Codable, Sendable, Equatable {
        public var inputTokens: Int
        public var outputTokens: Int
        public var cost: Double
    }

    /// Reads the candidate's samples, steps and approvals from `store`.
    /// - Throws: `StoreError` when the store cannot be read.
    public static func load(_ record: CandidateRecord, store: Store, config: LoopConfig) throws(StoreError) -> CandidateDetail {
        let id = record.id ?? 0
        let approvals = try store.approvals(candidate: id)
        let samples = try store.samples(candidate: id)
        var detail = CandidateDetail(
            candidate: CandidateSummary(record), diff: record.diff, diffStat: DiffView(record.diff ?? ""), samples: samples,
            series: SampleSeries.latest(samples), steps: try store.steps(candidate: id), approvals: approvals,
            usage: record.inputTokens.map { Usage(inputTokens: $0, outputTokens: record.outputTokens ?? 0, cost: record.cost ?? 0) },
            prompt: record.prompt, response: record.response, lowerIsBetter: config.metric.decision.direction == .lower)
        if record.outcome == .accepted {
            let tally = try store.approvalTally(record, approvals: approvals, checkpoint: config.checkpoint)
            detail.approvalsRequired = tally.required.count
            detail.approvalsCounted = tally.counted
            detail.approvalsMissing = tally.missing
            detail.approvalStatus = tally.summary
        }
        return detail
    }

    /// The pairs of `benchmark` (`nil`: the objective), when it has any.
    public func series(of benchmark: String?) -> SampleSeries? {
        series.first { $0.benchmark == benchmark }
    }
}

/// One benchmark's runs of a measurement, as baseline/candidate pairs in pair order.
public struct SampleSeries: Codable, Sendable, Equatable {
    /// `nil` for the objective; else a `[[benchmark]]`'s name or the wall-time confirmation's label.
    public var benchmark: String?
    public var pairs: [Pair]
    /// Warm-up runs and runs of pairs that spanned a pause, left out of `pairs`.
    public var discarded: Int

    public struct Pair: Codable, Sendable, Equatable {
        /// The pair number the measurement gave it (0-based).
        public var pair: Int
        public var baseline: Double?
        public var candidate: Double?
        /// The arm that ran first in the pair.
        public var first: Arm?
    }

    /// The pairs as the sample charts draw them.
    public var chart: [Charts.Pair] {
        pairs.map { Charts.Pair(pair: $0.pair, baseline: $0.baseline, candidate: $0.candidate) }
    }

    /// The series of the latest measurement in `samples` (in the order they were stored), one
    /// per benchmark that has a measured pair: the objective first, then the others in the
    /// order they were first measured.
    ///
    /// A measurement numbers its pairs from 0 upwards across all its rounds and benchmarks,
    /// with one baseline and one candidate run of each benchmark per pair; warm-ups and
    /// pause-spoiled pairs are stored as `warmup`. A candidate measured again (a Slurm accept
    /// whose best moved is re-run on the new best) starts again at pair 0 after the earlier
    /// samples, and only the latest measurement is the one its decision came from.
    public static func latest(_ samples: [SampleRecord]) -> [SampleSeries] {
        let latest = latestMeasurement(samples)
        var names: [String?] = latest.contains { !$0.warmup && $0.benchmark == nil } ? [nil] : []
        for sample in latest where !sample.warmup && !names.contains(sample.benchmark) { names.append(sample.benchmark) }
        return names.map { name in
            let runs = latest.filter { $0.benchmark == name }
            let byPair = Dictionary(grouping: runs.filter { !$0.warmup }, by: \.pair)
            let pairs = byPair.keys.sorted().map { number in
                let pair = byPair[number] ?? []
                return Pair(
                    pair: number, baseline: pair.first { $0.arm == .baseline }?.value, candidate: pair.first { $0.arm == .candidate }?.value,
                    first: pair.first { $0.position == 0 }?.arm)
            }
            return SampleSeries(benchmark: name, pairs: pairs, discarded: runs.count(where: \.warmup))
        }
    }

    /// The samples from the start of the latest measurement: it begins after the last measured
    /// run before the first run whose pair number goes back, or repeats a run already taken.
    static func latestMeasurement(_ samples: [SampleRecord]) -> ArraySlice<SampleRecord> {
        struct Run: Hashable {
            var pair: Int
            var arm: Arm
            var benchmark: String?
        }
        var start = 0
        var lastMeasured = -1
        var highest = -1
        var taken = Set<Run>()
        for (index, sample) in samples.enumerated() where !sample.warmup {
            let run = Run(pair: sample.pair, arm: sample.arm, benchmark: sample.benchmark)
            if sample.pair < highest || taken.contains(run) {
                start = lastMeasured + 1
                taken = []
                highest = -1
            }
            taken.insert(run)
            highest = max(highest, sample.pair)
            lastMeasured = index
        }
        return samples[start...]
    }
}

extension Store {
    /// The approvals of `record`, counted against the loop's `[checkpoint]` (as `promote` counts them).
    /// - Throws: `StoreError` when the run's starter cannot be read.
    public func approvalTally(_ record: CandidateRecord, approvals: [ApprovalRecord], checkpoint: CheckpointSpec) throws(StoreError) -> ApprovalTally
    {
        let starter = checkpoint.forbidSelfApproval ? try starter(ofCandidate: record) : nil
        let paths = (record.paths ?? "").split(separator: "\n").map(String.init)
        return ApprovalTally(
            approvers: approvals.filter { $0.decision == .approved }.map(\.actor), required: checkpoint.requiredApprovals(paths: paths),
            starter: starter, forbidSelfApproval: checkpoint.forbidSelfApproval)
    }
}
