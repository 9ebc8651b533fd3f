import Core
import Foundation
import GRDB

/// A candidate as lists show it: every column of its row, without the large texts (diff,
/// prompt, response), which are read only when one candidate is shown
/// (`Store.candidate(id:)`). Fields mean what they mean in `CandidateRecord`.
public struct CandidateRow: Codable, Sendable, Equatable, FetchableRecord, TableRecord {
    public static let databaseTableName = "candidate"
    public static var databaseSelection: [any SQLSelectable] { CandidateRecord.CodingKeys.allCases.map { Column($0.rawValue) } }

    public var id: Int64?
    public var loop: String
    public var sequence: Int
    public var proposer: String
    public var source: String
    public var title: String
    public var parentCommit: String
    public var tree: String?
    public var state: CandidateState
    public var outcome: Outcome?
    public var rejection: RejectionKind?
    public var reason: String?
    public var estimate: Double?
    public var lower: Double?
    public var upper: Double?
    public var threshold: Double?
    public var pairs: Int?
    public var commit: String?
    public var createdAt: Date
    public var finishedAt: Date?
    public var linesChanged: Int?
    public var paths: String?
    public var inputTokens: Int?
    public var outputTokens: Int?
    public var cost: Double?
    public var review: ReviewState?
    public var checkpoint: String?

    /// The row of `record` (its texts left out).
    public init(_ record: CandidateRecord) {
        id = record.id
        loop = record.loop
        sequence = record.sequence
        proposer = record.proposer
        source = record.source
        title = record.title
        parentCommit = record.parentCommit
        tree = record.tree
        state = record.state
        outcome = record.outcome
        rejection = record.rejection
        reason = record.reason
        estimate = record.estimate
        lower = record.lower
        upper = record.upper
        threshold = record.threshold
        pairs = record.pairs
        commit = record.commit
        createdAt = record.createdAt
        finishedAt = record.finishedAt
        linesChanged = record.linesChanged
        paths = record.paths
        inputTokens = record.inputTokens
        outputTokens = record.outputTokens
        cost = record.cost
        review = record.review
        checkpoint = record.checkpoint
    }
}

/// Which candidates of a loop a list shows. Every filter is answered by an index.
public struct CandidateQuery: Sendable, Equatable {
    /// Only this outcome.
    public var outcome: Outcome?
    /// Only candidates without an outcome yet (in flight, or left by a crash).
    public var unfinished = false
    /// Only candidates created at or after this time.
    public var since: Date?
    /// Only the newest this many (still listed oldest first).
    public var newest: Int?

    public init(outcome: Outcome? = nil, unfinished: Bool = false, since: Date? = nil, newest: Int? = nil) {
        self.outcome = outcome
        self.unfinished = unfinished
        self.since = since
        self.newest = newest
    }

    /// Every candidate, oldest first.
    public static let all = CandidateQuery()

    /// The `WHERE` clause and its arguments, for the loop `loop`.
    func filter(loop: String) -> (sql: String, arguments: StatementArguments) {
        var sql = "loop = ?"
        var arguments: StatementArguments = [loop]
        if let outcome {
            sql += " AND outcome = ?"
            arguments += [outcome]
        }
        if unfinished { sql += " AND outcome IS NULL" }
        if let since {
            sql += " AND createdAt >= ?"
            arguments += [since]
        }
        return (sql, arguments)
    }
}

extension Store {
    /// Candidates of `loop` matching `query`, oldest first, without their large texts.
    public func candidateRows(loop: String, _ query: CandidateQuery = .all) throws(StoreError) -> [CandidateRow] {
        try read("list candidates of '\(loop)'") { db in
            let (filter, arguments) = query.filter(loop: loop)
            let columns = Self.rowColumns
            guard let newest = query.newest else {
                return try CandidateRow.fetchAll(db, sql: "SELECT \(columns) FROM candidate WHERE \(filter) ORDER BY sequence", arguments: arguments)
            }
            return try CandidateRow.fetchAll(
                db, sql: "SELECT \(columns) FROM candidate WHERE \(filter) ORDER BY sequence DESC LIMIT ?", arguments: arguments + [max(0, newest)]
            ).reversed()
        }
    }

    /// Calls `body` with each candidate of `loop` matching `query`, oldest first, as it is
    /// read: memory stays bounded however many there are (`ratchet log --json`).
    /// - Throws: `StoreError`, or what `body` throws (wrapped in a `StoreError`).
    public func forEachCandidateRow(loop: String, _ query: CandidateQuery = .all, _ body: (CandidateRow) throws -> Void) throws(StoreError) {
        if let newest = query.newest {
            for row in try candidateRows(
                loop: loop, CandidateQuery(outcome: query.outcome, unfinished: query.unfinished, since: query.since, newest: newest))
            {
                do { try body(row) } catch { throw StoreError(path: path, operation: "list candidates of '\(loop)'", message: "\(error)") }
            }
            return
        }
        try read("list candidates of '\(loop)'") { db in
            let (filter, arguments) = query.filter(loop: loop)
            let columns = Self.rowColumns
            let rows = try CandidateRow.fetchCursor(
                db, sql: "SELECT \(columns) FROM candidate WHERE \(filter) ORDER BY sequence", arguments: arguments)
            while let row = try rows.next() { try body(row) }
        }
    }

    /// How many candidates of `loop` match `query` (ignoring `newest`).
    public func candidateCount(loop: String, _ query: CandidateQuery = .all) throws(StoreError) -> Int {
        if query.since == nil && !query.unfinished {
            let tally = try tally(loop: loop)
            return query.outcome.map { tally.count(outcome: $0) } ?? tally.total
        }
        return try read("count candidates of '\(loop)'") { db in
            let (filter, arguments) = query.filter(loop: loop)
            return try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM candidate WHERE \(filter)", arguments: arguments) ?? 0
        }
    }
}
