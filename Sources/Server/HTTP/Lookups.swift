import Core
import Foundation
import HTTPTypes
import Report
import Store

/// What the API and the pages read from the daemon's loops and stores. A store that cannot
/// be read throws its `StoreError` (a 500 naming the database).
struct Lookups: Sendable {
    let state: DaemonState

    /// - Throws: `RequestFailure` 404 naming the loops there are.
    func entry(_ loop: String) throws(RequestFailure) -> LoopEntry {
        guard let entry = state.entry(named: loop) else {
            let known = state.catalog.loops.map(\.name).joined(separator: ", ")
            throw RequestFailure(.notFound, "no loop '\(loop)' in this daemon (loops: \(known.isEmpty ? "none" : known))")
        }
        return entry
    }

    /// The loop and record of candidate `id`; `loop` picks among stores when ids collide.
    /// - Throws: `RequestFailure` 404 when there is no such candidate, 409 when the id is in
    ///   several loops and `loop` does not say which.
    func locate(_ id: Int64, loop: String?) throws -> (LoopEntry, CandidateRecord) {
        let entries = try loop.map { name throws(RequestFailure) in [try entry(name)] } ?? state.catalog.loops
        var found: [(LoopEntry, CandidateRecord)] = []
        var checked = Set<String>()
        for entry in entries where checked.insert(entry.store.path + "\u{0}" + entry.name).inserted {
            if let record = try entry.store.candidate(id: id), record.loop == entry.name { found.append((entry, record)) }
        }
        guard let first = found.first else {
            throw RequestFailure(
                .notFound, "no candidate \(id)" + (loop.map { " in loop '\($0)'" } ?? "") + "; GET /api/loops/{loop}/candidates lists them")
        }
        guard found.count == 1 else {
            throw RequestFailure(.conflict, "candidate id \(id) exists in loops \(found.map(\.0.name).joined(separator: ", ")); add ?loop=NAME")
        }
        return first
    }

    func loops() throws -> [LoopSnapshot] {
        try state.catalog.loops.map { entry throws in try LoopSnapshot.load(entry, phase: state.control(entry.name).phase) }
    }

    /// The candidates of `loop`, all or of one outcome (`running`: those without one yet).
    /// - Throws: `RequestFailure` 400 for an outcome that is not one.
    func candidates(loop: String, outcome: String?) throws -> [CandidateRow] {
        let entry = try entry(loop)
        return try entry.store.candidateRows(loop: entry.name, try Self.query(outcome: outcome))
    }

    static func query(outcome: String?) throws(RequestFailure) -> CandidateQuery {
        guard let outcome, !outcome.isEmpty, outcome != "all" else { return CandidateQuery() }
        if outcome == "running" { return CandidateQuery(unfinished: true) }
        guard let value = Outcome(rawValue: outcome) else {
            let names = Outcome.allCases.map(\.rawValue) + ["running"]
            throw RequestFailure(.badRequest, "no outcome '\(outcome)'; use one of \(names.joined(separator: ", "))")
        }
        return CandidateQuery(outcome: value)
    }

    /// Candidate `id` with its samples, steps and approvals.
    func detail(_ id: Int64, loop: String?) throws -> (LoopEntry, CandidateRecord, CandidateDetail) {
        let (entry, record) = try locate(id, loop: loop)
        return (entry, record, try CandidateDetail.load(record, store: entry.store, config: entry.config))
    }

    /// The newest `limit` audit entries of every store of the daemon, oldest first.
    func audit(loop: String?, limit: Int) throws -> [AuditEntry] {
        var seen = Set<String>()
        var entries: [AuditEntry] = []
        for entry in state.catalog.loops where seen.insert(entry.store.path).inserted {
            entries += try entry.audit.recent(limit: limit, loop: loop)
        }
        return Array(entries.sorted { $0.time != $1.time ? $0.time < $1.time : $0.seq < $1.seq }.suffix(limit))
    }

    /// Review depth per reviewer over the last `hours`, over every store of the daemon.
    func reviewDepth(hours: Double = 24) throws -> [ReviewerDepth] {
        var seen = Set<String>()
        var decisions: [ReviewDecision] = []
        let since = Date().addingTimeInterval(-hours * 3600)
        for entry in state.catalog.loops where seen.insert(entry.store.path).inserted {
            decisions += try entry.store.reviewDecisions(since: since)
        }
        return ReviewerDepth.summarize(decisions)
    }

    /// Each loop for the queue page: its status, the changes waiting for review with their
    /// diffs, and its newest candidates.
    func queueRows() throws -> [Pages.LoopRow] {
        try state.catalog.loops.map { entry throws in
            let pending = try entry.store.pendingReview(loop: entry.name)
            return Pages.LoopRow(
                entry: entry, status: try LoopSnapshot.load(entry, phase: state.control(entry.name).phase), pending: pending,
                diffs: try entry.store.diffs(of: pending.compactMap(\.id)),
                recent: try entry.store.candidateRows(loop: entry.name, CandidateQuery(newest: Pages.recentCount)))
        }
    }
}
