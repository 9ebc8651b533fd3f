import Core
import GRDB

/// A record read from the `candidate` table: a whole `CandidateRecord`, or a list's
/// `CandidateRow`. The named requests below apply to both.
public protocol CandidateTable: TableRecord {}
extension CandidateRecord: CandidateTable {}
extension CandidateRow: CandidateTable {}

/// The candidate filters the store's readers share, answered in SQL, each by an index of
/// migration `v6-season` (SeasonTests plans them). Chain them on `CandidateRow.all()` or
/// `CandidateRecord.all()`.
///
/// The review filters spell `'pending'` in the SQL: SQLite uses the partial index
/// `candidate_pending` only for a literal, never for a bound value.
extension DerivableRequest where RowDecoder: CandidateTable {
    /// Candidates of `loop`.
    public func of(loop: String) -> Self { filter(Column("loop") == loop) }

    /// Accepted changes waiting for review. `+outcome` keeps SQLite on the (small) review
    /// queue index rather than among every accept.
    public func pendingReview() -> Self {
        filter(sql: "review = '\(ReviewState.pending.rawValue)' AND +outcome = '\(Outcome.accepted.rawValue)'")
    }

    /// Accepted changes holding their loop at a checkpoint until they are reviewed.
    public func waitingAtCheckpoint() -> Self {
        filter(sql: "review = '\(ReviewState.pending.rawValue)' AND checkpoint IS NOT NULL")
    }

    /// Candidates without an outcome yet: in flight, or left by a crash.
    public func unfinished() -> Self { filter(Column("outcome") == nil) }

    /// Candidates that ended with `outcome`.
    public func with(outcome: Outcome) -> Self { filter(Column("outcome") == outcome) }

    /// Oldest first.
    public func inSequence() -> Self { order(Column("sequence")) }
}

/// The named requests whole, for a loop, oldest first: for callers that do not import GRDB
/// (`store.candidates(CandidateRecord.pendingReview(in: loop))`).
extension CandidateTable {
    /// Accepted changes of `loop` waiting for review.
    public static func pendingReview(in loop: String) -> QueryInterfaceRequest<Self> { all().of(loop: loop).pendingReview().inSequence() }

    /// Accepted changes holding `loop` at a checkpoint until they are reviewed.
    public static func waitingAtCheckpoint(in loop: String) -> QueryInterfaceRequest<Self> {
        all().of(loop: loop).waitingAtCheckpoint().inSequence()
    }

    /// Candidates of `loop` without an outcome yet.
    public static func unfinished(in loop: String) -> QueryInterfaceRequest<Self> { all().of(loop: loop).unfinished().inSequence() }
}

/// The human decisions the store's readers filter on.
extension DerivableRequest<ApprovalRecord> {
    /// Decisions on candidate `id`, oldest first.
    public func of(candidate id: Int64) -> Self { filter(Column("candidateId") == id).order(Column("id")) }

    /// Only `decision`s (approvals, or rejections).
    public func with(decision: ApprovalDecision) -> Self { filter(Column("decision") == decision) }
}

extension Store {
    /// The records `request` selects (`CandidateRecord.all().of(loop:)…`), with their texts.
    public func candidates(_ request: QueryInterfaceRequest<CandidateRecord>, doing operation: String = "list candidates")
        throws(StoreError) -> [CandidateRecord]
    {
        try read(operation) { db in try Self.withTexts(request, db) }
    }

    /// The rows `request` selects (`CandidateRow.all().of(loop:)…`), without their texts.
    public func candidateRows(_ request: QueryInterfaceRequest<CandidateRow>, doing operation: String = "list candidates")
        throws(StoreError) -> [CandidateRow]
    {
        try read(operation) { db in try request.fetchAll(db) }
    }
}
