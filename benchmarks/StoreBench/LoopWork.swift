import Core
import Foundation
import Store

/// The store reads a loop makes for every candidate, timed in this process against the
/// generated store (milliseconds per candidate, median of `reps`).
enum LoopWork {
    static let keys = ["loop_reads_today", "loop_reads_sql", "tried_sources_set"]

    /// Every variant, keyed as in the JSON line.
    static func all(store: Store, loop: String, reps: Int) throws -> [(String, Double)] {
        [
            ("loop_reads_today", try today(store: store, loop: loop, reps: reps)),
            ("loop_reads_sql", try queries(store: store, loop: loop, reps: reps * 20)),
            ("tried_sources_set", try median(reps * 4) { try store.triedSources(loop: loop, proposer: "model").count }),
        ]
    }

    /// The same reads through the Store's queries (what the Runner is to call): whether the
    /// proposal was tried (one lookup; the whole tried set is timed apart, as it grows with
    /// the loop), the last 100 attempts, the candidates whose samples give the base and best
    /// values, the budget use, the checkpoint, the accepted count.
    static func queries(store: Store, loop: String, reps: Int) throws -> Double {
        guard let record = try store.loop(named: loop) else { throw BenchError("no loop \(loop)") }
        return try median(reps) {
            let tried = try store.wasTried(loop: loop, proposer: "model", source: "model:42") ? 1 : 0
            let recent = try store.candidateRows(loop: loop, CandidateQuery(newest: 100)).map(\.title)
            let base = try store.firstMeasured(loop: loop, parentCommit: record.baseCommit)
            let best = try store.candidate(loop: loop, commit: record.bestCommit)
            let use = try store.budgetUse(loop: loop, running: true)
            let waiting = try store.waitingCheckpoint(loop: loop)
            let accepted = try store.tally(loop: loop).count(outcome: .accepted)
            return tried + recent.count + use.iterations + (waiting == nil ? 0 : 1) + accepted + (base == nil ? 0 : 1) + (best == nil ? 0 : 1)
        }
    }

    /// As the Runner does them today: the whole history for the proposal context (tried
    /// sources, the last 100 attempts), the budget check, and the checkpoint check, each
    /// loading every candidate of the loop.
    static func today(store: Store, loop: String, reps: Int) throws -> Double {
        try median(reps) {
            let history = try store.candidates(loop: loop)
            let tried = Set(history.filter { $0.proposer == "model" && $0.isDecided }.map(\.source))
            let recent = history.suffix(100).map(\.title)
            let use = BudgetUse.of(candidates: try store.candidates(loop: loop), runs: try store.runs(loop: loop), running: true)
            let waiting = try store.candidates(loop: loop).first { $0.checkpoint != nil && $0.review == .pending }
            return tried.count + recent.count + use.iterations + (waiting == nil ? 0 : 1)
        }
    }

    static func median(_ reps: Int, _ body: () throws -> Int) throws -> Double {
        var times: [Double] = []
        var sink = 0
        for _ in 0..<max(1, reps) {
            let start = monotonic()
            sink &+= try body()
            times.append((monotonic() - start) * 1000)
        }
        if sink == -1 { progress("") }
        return times.sorted()[times.count / 2]
    }
}
