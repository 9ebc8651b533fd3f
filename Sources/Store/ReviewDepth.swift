import Foundation
import GRDB

/// How closely one reviewer reviewed over a period: the morning report's and the queue's
/// "review depth", so a team sees its review thinning before it matters.
public struct ReviewerDepth: Sendable, Equatable, Codable {
    public var reviewer: String
    /// Decisions (approvals and rejections) in the period.
    public var reviewed: Int
    /// Decisions whose time on the page is known (made in the UI after opening the change).
    public var timed: Int
    /// The median of seconds on the page per changed line, over the timed decisions.
    public var medianSecondsPerLine: Double?
    /// Approvals made in a burst (more than 5 in a minute, confirmed).
    public var burst: Int
}

extension Store {
    /// Records that `actor` opened candidate `candidate`'s page, diff included.
    public func recordView(candidate: Int64, loop: String, actor: Actor) throws(StoreError) -> ReviewViewRecord {
        try write("record a review view") { db in
            var record = ReviewViewRecord(candidateId: candidate, loop: loop, actor: actor.name, actorId: actor.id)
            try record.insert(db)
            return record
        }
    }

    /// A view by id, if it was `actor`'s view of `candidate`.
    public func view(id: Int64, candidate: Int64, actor: String) throws(StoreError) -> ReviewViewRecord? {
        try read("read review view \(id)") { db in
            try ReviewViewRecord.filter(Column("id") == id && Column("candidateId") == candidate && Column("actor") == actor).fetchOne(db)
        }
    }

    /// `actor`'s most recent view of `candidate`.
    public func latestView(candidate: Int64, actor: String) throws(StoreError) -> ReviewViewRecord? {
        try read("read review views of candidate \(candidate)") { db in
            try ReviewViewRecord.filter(Column("candidateId") == candidate && Column("actor") == actor).order(Column("id").desc).fetchOne(db)
        }
    }

    /// Approvals `actor` made at or after `since` (in every loop of this store).
    public func approvalCount(actor: String, since: Date) throws(StoreError) -> Int {
        try read("count recent approvals") { db in
            try ApprovalRecord.filter(Column("actor") == actor && Column("decision") == "approved" && Column("createdAt") >= since).fetchCount(db)
        }
    }

    /// Review depth per reviewer over the decisions made at or after `since` (of `loop`, when
    /// given), busiest reviewer first.
    public func reviewDepth(since: Date, loop: String? = nil) throws(StoreError) -> [ReviewerDepth] {
        let rows: [(actor: String, seconds: Double?, lines: Int?, burst: Bool)] = try read("compute review depth") { db in
            var sql = """
                SELECT approval.actor AS actor, approval.reviewSeconds AS seconds, candidate.linesChanged AS lines, approval.burst AS burst
                FROM approval JOIN candidate ON candidate.id = approval.candidateId
                WHERE approval.createdAt >= ?
                """
            var arguments: StatementArguments = [since]
            if let loop {
                sql += " AND approval.loop = ?"
                arguments += [loop]
            }
            return try Row.fetchAll(db, sql: sql, arguments: arguments).map { row in
                (row["actor"], row["seconds"], row["lines"], (row["burst"] as Bool?) ?? false)
            }
        }
        var result: [ReviewerDepth] = []
        for (reviewer, decisions) in Dictionary(grouping: rows, by: \.actor) {
            let perLine = decisions.compactMap { row in row.seconds.map { $0 / Double(max(1, row.lines ?? 1)) } }.sorted()
            let median: Double? =
                perLine.isEmpty
                ? nil : perLine.count % 2 == 1 ? perLine[perLine.count / 2] : (perLine[perLine.count / 2 - 1] + perLine[perLine.count / 2]) / 2
            result.append(
                ReviewerDepth(
                    reviewer: reviewer, reviewed: decisions.count, timed: perLine.count, medianSecondsPerLine: median,
                    burst: decisions.filter(\.burst).count))
        }
        return result.sorted { ($0.reviewed, $1.reviewer) > ($1.reviewed, $0.reviewer) }
    }
}
