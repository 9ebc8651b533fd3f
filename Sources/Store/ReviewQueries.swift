import Core
import Foundation
import GRDB

/// How long one kind of step took over a loop's life, for `/metrics`.
public struct StepTotal: Sendable, Equatable, Codable {
    public var step: Step
    /// Finished steps of this kind, and how many of them failed.
    public var count: Int
    public var failed: Int
    /// Summed wall time of the finished steps (`finishedAt - startedAt`), seconds.
    public var seconds: Double
}

// Read-only queries for the review server, the morning report and `/metrics`.
extension Store {
    /// Per-step counts and summed durations of a loop's finished steps.
    public func stepTotals(loop: String) throws(StoreError) -> [StepTotal] {
        try read("sum step durations of '\(loop)'") { db in
            let rows = try Row.fetchAll(
                db,
                sql: """
                    SELECT step.step AS step, COUNT(*) AS count,
                           SUM(CASE WHEN step.status = 'failed' THEN 1 ELSE 0 END) AS failed,
                           SUM((julianday(step.finishedAt) - julianday(step.startedAt)) * 86400.0) AS seconds
                    FROM step JOIN candidate ON candidate.id = step.candidateId
                    WHERE candidate.loop = ? AND step.finishedAt IS NOT NULL
                    GROUP BY step.step ORDER BY step.step
                    """, arguments: [loop])
            return try rows.map { row in
                StepTotal(
                    step: try row.decode(forColumn: "step"), count: row["count"], failed: row["failed"] ?? 0, seconds: max(0, row["seconds"] ?? 0))
            }
        }
    }

    /// Candidates of a loop created at or after `since`, oldest first, with their texts.
    public func candidates(loop: String, since: Date) throws(StoreError) -> [CandidateRecord] {
        try read("list candidates of '\(loop)' since \(since)") { db in
            try Self.withTexts(CandidateRecord.filter(Column("loop") == loop && Column("createdAt") >= since).order(Column("sequence")), db)
        }
    }

    /// Human decisions on one candidate (only `decision`s, when given), oldest first.
    public func approvals(candidate: Int64, decision: ApprovalDecision? = nil) throws(StoreError) -> [ApprovalRecord] {
        try read("list approvals of candidate \(candidate)") { db in
            let request = ApprovalRecord.all().of(candidate: candidate)
            return try (decision.map { request.with(decision: $0) } ?? request).fetchAll(db)
        }
    }
}

extension AuditLog {
    /// The newest `limit` entries (of one loop, when given; of the given kinds, when given),
    /// oldest first.
    public func recent(limit: Int, loop: String? = nil, kinds: [String]? = nil) throws(StoreError) -> [AuditEntry] {
        try store.read("read recent audit entries") { db in
            var request = AuditEntry.order(Column("seq").desc)
            if let loop { request = request.filter(Column("loop") == loop) }
            if let kinds { request = request.filter(kinds.contains(Column("kind"))) }
            return try request.limit(max(0, limit)).fetchAll(db).reversed()
        }
    }
}
