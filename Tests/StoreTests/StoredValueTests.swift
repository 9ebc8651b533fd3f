import Core
import Foundation
import GRDB
import TestSupport
import Testing

@testable import Store

/// The typed statuses are stored as the words the store always held, so stores written
/// before them read unchanged, and a word no case names fails the read with a clear error.
@Suite struct StoredValueTests {
    func freshStore() throws -> (Store, TemporaryFolder) {
        let folder = try TemporaryFolder("stored-values")
        let store = try Store(path: folder.path + "/ratchet.sqlite")
        try store.save(
            LoopRecord(name: "a", repository: "/r", baseRef: "main", baseCommit: "c0", bestCommit: "c0", configHash: "h", status: .waiting))
        return (store, folder)
    }

    func column(_ sql: String, _ folder: TemporaryFolder) throws -> [String?] {
        let queue = try DatabaseQueue(path: folder.path + "/ratchet.sqlite")
        return try queue.read { db in try String?.fetchAll(db, sql: sql) }
    }

    @Test func everyEnumIsStoredAsItsRawWord() throws {
        let (store, folder) = try freshStore()
        defer { folder.remove() }
        var candidate = try store.insertCandidate(CandidateRecord(loop: "a", sequence: 0, proposer: "p", source: "s", title: "t", parentCommit: "c0"))
        let id = try #require(candidate.id)
        try candidate.advance(to: .running(.decide))
        try candidate.advance(to: .finished(.accepted))
        candidate.review = .rolledBack
        try store.update(candidate)
        var rejected = try store.insertCandidate(CandidateRecord(loop: "a", sequence: 0, proposer: "p", source: "s2", title: "t", parentCommit: "c0"))
        try rejected.advance(to: .running(.validate))
        try rejected.advance(to: .finished(.rejected))
        rejected.rejection = .runTimeWrite
        try store.update(rejected)
        var step = try store.startStep(.validate, candidate: id)
        step.status = .failed
        try store.finish(step)
        try store.add(SampleRecord(candidateId: id, pair: 0, arm: .baseline, position: 0, value: 1, wallSeconds: 1, warmup: false))
        _ = try store.add(ApprovalRecord(candidateId: id, loop: "a", decision: .rejected, actor: "ada", note: nil))

        #expect(
            try column(
                "SELECT state || '/' || outcome || '/' || IFNULL(rejection, '-') || '/' || IFNULL(review, '-') FROM candidate ORDER BY id", folder)
                == ["accepted/accepted/-/rolled_back", "rejected/rejected/run_time_write/-"])
        #expect(try column("SELECT step || '/' || status FROM step", folder) == ["validate/failed"])
        #expect(try column("SELECT arm FROM sample", folder) == ["baseline"])
        #expect(try column("SELECT decision FROM approval", folder) == ["rejected"])
        #expect(try column("SELECT status FROM loop", folder) == ["waiting"])
        #expect(try store.candidate(id: id)?.state == .finished(.accepted))
        #expect(try store.tally(loop: "a").rejections == [.runTimeWrite: 1])
    }

    /// Words written by hand (or by an older Ratchet) read as the cases they name.
    @Test func wordsWrittenInSQLReadAsTheirCases() throws {
        let (store, folder) = try freshStore()
        defer { folder.remove() }
        let queue = try DatabaseQueue(path: folder.path + "/ratchet.sqlite")
        try queue.write { db in
            try db.execute(
                sql: """
                    INSERT INTO candidate (loop, sequence, proposer, source, title, parentCommit, state, createdAt) VALUES ('a', 1, 'p', 's', 't', 'c0', 'measure', ?);
                    INSERT INTO step (candidateId, step, status, startedAt) VALUES (last_insert_rowid(), 'test', 'started', ?)
                    """, arguments: [Date(), Date()])
        }
        let candidate = try #require(try store.unfinishedCandidates(loop: "a").first)
        #expect(candidate.state == .running(.measure) && candidate.outcome == nil)
        #expect(try store.steps(candidate: try #require(candidate.id)).map(\.step) == [.test])
    }

    @Test func anUnknownWordFailsTheReadWithAStoreErrorNamingIt() throws {
        let (store, folder) = try freshStore()
        defer { folder.remove() }
        let candidate = try store.insertCandidate(CandidateRecord(loop: "a", sequence: 0, proposer: "p", source: "s", title: "t", parentCommit: "c0"))
        let id = try #require(candidate.id)
        let queue = try DatabaseQueue(path: folder.path + "/ratchet.sqlite")
        try queue.write { db in try db.execute(sql: "UPDATE candidate SET outcome = 'vanished', state = 'vanished' WHERE id = ?", arguments: [id]) }
        let error = try #require(throws: StoreError.self) { try store.candidate(id: id) }
        #expect(error.description.contains("vanished"), "\(error)")
        let tally = try #require(throws: StoreError.self) { try store.tally(loop: "a") }
        #expect(tally.description.contains("'vanished'") && tally.description.contains("outcome"), "\(tally)")
        try queue.write { db in try db.execute(sql: "UPDATE loop SET status = 'asleep'") }
        #expect(throws: StoreError.self) { try store.loop(named: "a") }
    }

    /// The named requests stay on the indexes the season migration made for them.
    @Test func namedRequestsUseTheirIndexes() throws {
        let (_, folder) = try freshStore()
        defer { folder.remove() }
        let queue = try DatabaseQueue(path: folder.path + "/ratchet.sqlite")
        func plan(_ request: QueryInterfaceRequest<CandidateRow>) throws -> String {
            try queue.read { db in
                let statement = try request.makePreparedRequest(db, forSingleResult: false).statement
                return try Row.fetchAll(db, sql: "EXPLAIN QUERY PLAN " + statement.sql, arguments: statement.arguments)
                    .map { $0["detail"] as String }.joined(separator: "; ")
            }
        }
        let pending = try plan(CandidateRow.pendingReview(in: "a"))
        #expect(pending.contains("candidate_pending") && !pending.contains("SCAN") && !pending.contains("TEMP B-TREE"), "\(pending)")
        let checkpoints = try plan(CandidateRow.waitingAtCheckpoint(in: "a"))
        #expect(checkpoints.contains("candidate_pending") && !checkpoints.contains("TEMP B-TREE"), "\(checkpoints)")
        let unfinished = try plan(CandidateRow.unfinished(in: "a"))
        #expect(!unfinished.contains("SCAN") && !unfinished.contains("TEMP B-TREE"), "\(unfinished)")
    }
}
