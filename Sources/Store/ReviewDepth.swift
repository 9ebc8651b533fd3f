import Core
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

/// One human decision, as review depth counts it.
public struct ReviewDecision: Sendable, Equatable {
    public var reviewer: String
    /// Seconds from opening the change's page to the decision (UI decisions only).
    public var seconds: Double?
    /// The change's added plus deleted lines.
    public var lines: Int?
    public var burst: Bool

    public init(reviewer: String, seconds: Double?, lines: Int?, burst: Bool) {
        self.reviewer = reviewer
        self.seconds = seconds
        self.lines = lines
        self.burst = burst
    }
}

extension ReviewerDepth {
    /// Per reviewer, busiest first: decisions, the median seconds per changed line over the
    /// timed ones (a change of 0 lines counts as 1), and bursts.
    public static func summarize(_ decisions: [ReviewDecision]) -> [ReviewerDepth] {
        var result: [ReviewerDepth] = []
        for (reviewer, mine) in Dictionary(grouping: decisions, by: \.reviewer) {
            let perLine = mine.compactMap { row in row.seconds.map { $0 / Double(max(1, row.lines ?? 1)) } }.sorted()
            let middle = perLine.count / 2
            let median: Double? = perLine.isEmpty ? nil : perLine.count % 2 == 1 ? perLine[middle] : (perLine[middle - 1] + perLine[middle]) / 2
            result.append(
                ReviewerDepth(
                    reviewer: reviewer, reviewed: mine.count, timed: perLine.count, medianSecondsPerLine: median, burst: mine.filter(\.burst).count))
        }
        return result.sorted { ($0.reviewed, $1.reviewer) > ($1.reviewed, $0.reviewer) }
    }
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
            try ApprovalRecord.filter(Column("actor") == actor && Column("decision") == ApprovalDecision.approved && Column("createdAt") >= since)
                .fetchCount(db)
        }
    }

    /// Human decisions made in `since..<until` (of `loop`, when given), for review depth.
    public func reviewDecisions(since: Date, until: Date = .distantFuture, loop: String? = nil) throws(StoreError) -> [ReviewDecision] {
        try read("read review decisions") { db in
            var sql = """
                SELECT approval.actor AS actor, approval.reviewSeconds AS seconds, candidate.linesChanged AS lines, approval.burst AS burst
                FROM approval JOIN candidate ON candidate.id = approval.candidateId
                WHERE approval.createdAt >= ? AND approval.createdAt < ?
                """
            var arguments: StatementArguments = [since, until]
            if let loop {
                sql += " AND approval.loop = ?"
                arguments += [loop]
            }
            return try Row.fetchAll(db, sql: sql, arguments: arguments).map { row in
                ReviewDecision(reviewer: row["actor"], seconds: row["seconds"], lines: row["lines"], burst: (row["burst"] as Bool?) ?? false)
            }
        }
    }

    /// Review depth per reviewer over the decisions made at or after `since` (of `loop`, when
    /// given), busiest reviewer first.
    public func reviewDepth(since: Date, loop: String? = nil) throws(StoreError) -> [ReviewerDepth] {
        ReviewerDepth.summarize(try reviewDecisions(since: since, loop: loop))
    }
}
