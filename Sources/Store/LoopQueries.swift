import Core
import Foundation
import GRDB

/// Everything an overview of a loop reads from its candidates, in one read transaction:
/// `ratchet status`, the review queue, `/api/loops`, `/metrics` and the morning report.
public struct LoopFigures: Sendable {
    public var tally: CandidateTally
    /// Decided candidates since the last one that was not a failure before measurement.
    public var consecutiveFailures: Int
    /// Decided candidates since the last accept.
    public var sinceImprovement: Int
    /// Relative improvement of the kept accepts together (product of estimates, minus one).
    public var improvement: Double
    /// Accepted changes holding the loop at a checkpoint until they are reviewed.
    public var checkpoints: [CandidateRow]
    /// The newest candidate.
    public var last: CandidateRow?

    /// What the loop has used of its budgets (see `BudgetUse.of`).
    public func budgetUse(runs: [RunRecord], running: Bool = false, now: Date = Date()) -> BudgetUse {
        BudgetUse.of(
            tally: tally, consecutiveFailures: consecutiveFailures, sinceImprovement: sinceImprovement, runs: runs, running: running, now: now)
    }
}

// Per-loop reads answered by the tally and the indexes of migration `v6-season`: each costs
// the same with 100 candidates or 100 000 (the two streaks cost their length).
extension Store {
    /// The columns of a `CandidateRow`, quoted (`commit` is an SQL keyword).
    static let rowColumns = CandidateRecord.CodingKeys.allCases.map { "\"\($0.rawValue)\"" }.joined(separator: ", ")

    /// `loop`'s candidates counted by outcome, rejection and review (kept up to date by
    /// triggers; no candidate is read).
    public func tally(loop: String) throws(StoreError) -> CandidateTally {
        try read("tally candidates of '\(loop)'") { db in try Self.tally(loop: loop, db) }
    }

    static func tally(loop: String, _ db: Database) throws -> CandidateTally {
        let rows = try Row.fetchAll(
            db, sql: "SELECT outcome, rejection, review, count, tokens, cost, lines FROM candidate_tally WHERE loop = ?", arguments: [loop])
        // The tally keeps `NULL` as the empty text.
        return CandidateTally(
            groups: try rows.map { row in
                CandidateTally.Group(
                    outcome: try UnknownStoredValue.decode(row["outcome"], column: "candidate_tally.outcome"),
                    rejection: try UnknownStoredValue.decode(row["rejection"], column: "candidate_tally.rejection"),
                    review: try UnknownStoredValue.decode(row["review"], column: "candidate_tally.review"), count: row["count"],
                    tokens: row["tokens"], cost: row["cost"], lines: row["lines"])
            })
    }

    /// The figures of `loop`'s overview.
    public func loopFigures(loop: String) throws(StoreError) -> LoopFigures {
        try read("read the figures of '\(loop)'") { db in
            LoopFigures(
                tally: try Self.tally(loop: loop, db), consecutiveFailures: try Self.consecutiveFailures(loop: loop, db),
                sinceImprovement: try Self.sinceImprovement(loop: loop, db), improvement: try Self.cumulativeImprovement(loop: loop, db),
                checkpoints: try Self.waitingCheckpoints(loop: loop, db),
                last: try CandidateRow.fetchOne(
                    db, sql: "SELECT \(Self.rowColumns) FROM candidate WHERE loop = ? ORDER BY sequence DESC LIMIT 1", arguments: [loop]))
        }
    }

    /// What `loop` has used of its budgets; `running`: the newest run counts up to `now`.
    public func budgetUse(loop: String, running: Bool = false, now: Date = Date()) throws(StoreError) -> BudgetUse {
        try read("read the budget use of '\(loop)'") { db in
            BudgetUse.of(
                tally: try Self.tally(loop: loop, db), consecutiveFailures: try Self.consecutiveFailures(loop: loop, db),
                sinceImprovement: try Self.sinceImprovement(loop: loop, db),
                runs: try RunRecord.filter(Column("loop") == loop).order(Column("id")).fetchAll(db), running: running, now: now)
        }
    }

    // `+outcome` keeps SQLite off the outcome index here: walking (loop, sequence) from the
    // newest candidate backwards stops at the streak's start.
    static let decided = "+outcome IS NOT NULL AND +outcome != 'interrupted'"

    static func consecutiveFailures(loop: String, _ db: Database) throws -> Int {
        let failures = RejectionKind.failuresBeforeMeasurement.map { "'\($0.rawValue)'" }.sorted().joined(separator: ", ")
        return try Int.fetchOne(
            db,
            sql: """
                SELECT COUNT(*) FROM candidate WHERE loop = ?1 AND \(decided) AND sequence > IFNULL((
                    SELECT sequence FROM candidate WHERE loop = ?1 AND \(decided) AND (rejection IS NULL OR rejection NOT IN (\(failures)))
                    ORDER BY sequence DESC LIMIT 1), 0)
                """, arguments: [loop]) ?? 0
    }

    static func sinceImprovement(loop: String, _ db: Database) throws -> Int {
        try Int.fetchOne(
            db,
            sql: """
                SELECT COUNT(*) FROM candidate WHERE loop = ?1 AND \(decided) AND sequence > IFNULL((
                    SELECT MAX(sequence) FROM candidate WHERE loop = ?1 AND outcome = 'accepted'), 0)
                """, arguments: [loop]) ?? 0
    }

    /// The product of the kept accepts' estimates, minus one, multiplied in sequence order
    /// (as `CandidateRecord.cumulativeImprovement` does).
    public func cumulativeImprovement(loop: String) throws(StoreError) -> Double {
        try read("read the improvement of '\(loop)'") { db in try Self.cumulativeImprovement(loop: loop, db) }
    }

    static func cumulativeImprovement(loop: String, _ db: Database) throws -> Double {
        let rows = try Row.fetchCursor(
            db, sql: "SELECT estimate, review FROM candidate WHERE loop = ? AND outcome = 'accepted' ORDER BY sequence", arguments: [loop])
        var product = 1.0
        while let row = try rows.next() {
            let review: ReviewState? = try row.decode(forColumn: "review")
            if review?.undoesAccept != true { product *= 1 + ((row["estimate"] as Double?) ?? 0) }
        }
        return product - 1
    }

    /// Accepted changes of `loop` waiting for review, oldest first.
    public func pendingReview(loop: String) throws(StoreError) -> [CandidateRow] {
        try read("list the review queue of '\(loop)'") { db in try CandidateRow.pendingReview(in: loop).fetchAll(db) }
    }

    /// Accepted changes holding `loop` at a checkpoint until they are reviewed, oldest first.
    public func waitingCheckpoints(loop: String) throws(StoreError) -> [CandidateRow] {
        try read("list the checkpoints of '\(loop)'") { db in try Self.waitingCheckpoints(loop: loop, db) }
    }

    static func waitingCheckpoints(loop: String, _ db: Database) throws -> [CandidateRow] {
        try CandidateRow.waitingAtCheckpoint(in: loop).fetchAll(db)
    }

    /// The first candidate holding `loop` at a checkpoint, with its texts; `nil` when none does.
    public func waitingCheckpoint(loop: String) throws(StoreError) -> CandidateRecord? {
        guard let id = try waitingCheckpoints(loop: loop).first?.id else { return nil }
        return try candidate(id: id)
    }

    /// The sources `proposer` already had decided in `loop` (what it must not propose again).
    public func triedSources(loop: String, proposer: String) throws(StoreError) -> Set<String> {
        try read("list tried sources of '\(loop)'") { db in
            Set(
                try String.fetchAll(
                    db,
                    sql: "SELECT DISTINCT source FROM candidate WHERE loop = ? AND proposer = ? AND outcome IS NOT NULL AND outcome != 'interrupted'",
                    arguments: [loop, proposer]))
        }
    }

    /// Whether `proposer` already had `source` decided in `loop` (one index lookup).
    public func wasTried(loop: String, proposer: String, source: String) throws(StoreError) -> Bool {
        try read("look up a tried source of '\(loop)'") { db in
            try Bool.fetchOne(
                db,
                sql: """
                    SELECT EXISTS (SELECT 1 FROM candidate WHERE loop = ? AND proposer = ? AND source = ?
                        AND outcome IS NOT NULL AND outcome != 'interrupted')
                    """, arguments: [loop, proposer, source]) ?? false
        }
    }

    /// The newest candidate of `loop` with the outcome `outcome`.
    public func lastCandidate(loop: String, outcome: Outcome) throws(StoreError) -> CandidateRow? {
        try read("read the last \(outcome.rawValue) candidate of '\(loop)'") { db in
            try CandidateRow.all().of(loop: loop).with(outcome: outcome).order(Column("sequence").desc).fetchOne(db)
        }
    }

    /// The newest candidate of `loop` whose commit is `commit` (the accept that made it).
    public func candidate(loop: String, commit: String) throws(StoreError) -> CandidateRow? {
        try read("find the candidate of commit \(commit)") { db in
            try CandidateRow.fetchOne(
                // Through the commit index: `IS NOT NULL` lets SQLite use that partial index
                // with a bound value, `+loop` keeps it off the (loop, sequence) one.
                db,
                sql:
                    "SELECT \(Self.rowColumns) FROM candidate WHERE \"commit\" = ? AND \"commit\" IS NOT NULL AND +loop = ? ORDER BY sequence DESC LIMIT 1",
                arguments: [commit, loop])
        }
    }

    /// The first candidate of `loop` made against `parentCommit` that was measured (has pairs).
    public func firstMeasured(loop: String, parentCommit: String) throws(StoreError) -> CandidateRow? {
        try read("find the first measured candidate of '\(loop)'") { db in
            try CandidateRow.fetchOne(
                db,
                sql: "SELECT \(Self.rowColumns) FROM candidate WHERE loop = ? AND parentCommit = ? AND pairs IS NOT NULL ORDER BY sequence LIMIT 1",
                arguments: [loop, parentCommit])
        }
    }

    /// Candidates of `loop` without an outcome (left by a crash), with their texts, oldest first.
    public func unfinishedCandidates(loop: String) throws(StoreError) -> [CandidateRecord] {
        try read("list unfinished candidates of '\(loop)'") { db in
            try Self.withTexts(CandidateRecord.unfinished(in: loop), db)
        }
    }
}

extension LoopFigures {
    /// The same figures counted in Swift from every record of a loop (oldest first).
    public static func of(_ candidates: [CandidateRecord]) -> LoopFigures {
        let decided = candidates.filter(\.isDecided)
        return LoopFigures(
            tally: .of(candidates),
            consecutiveFailures: decided.reversed().prefix { $0.rejection.map(RejectionKind.failuresBeforeMeasurement.contains) ?? false }.count,
            sinceImprovement: decided.reversed().prefix { $0.outcome != .accepted }.count,
            improvement: CandidateRecord.cumulativeImprovement(candidates),
            checkpoints: candidates.filter { $0.checkpoint != nil && $0.review == .pending }.map(CandidateRow.init),
            last: candidates.last.map(CandidateRow.init))
    }
}
