import Core
import Execution
import Foundation
import GRDB

#if canImport(Glibc)
    import Glibc
#endif

/// A storage failure, naming the database file and the operation.
public struct StoreError: Error, Sendable, CustomStringConvertible {
    public var path: String
    public var operation: String
    public var message: String
    public var description: String { "store \(path): \(operation): \(message)" }
}

/// Ratchet's SQLite database (WAL mode, one writer): loops, candidates, steps, samples.
///
/// Every write is its own transaction, committed before the loop moves on, so a crash at
/// any instant leaves a consistent record of what happened up to that point.
public final class Store: Sendable {
    public let path: String
    let pool: DatabasePool

    /// Opens (creating and migrating) the database at `path`.
    /// - Throws: `StoreError` when the file cannot be opened or migrated.
    public init(path: String) throws(StoreError) {
        self.path = path
        var configuration = Configuration()
        configuration.busyMode = .timeout(5)
        // Two processes opening a new store at once (`ratchet run` and `ratchet status`, or
        // the daemon) raced: switching the new file to WAL does not wait on SQLite's busy
        // handler ("database is locked"), and two migrators both created the tables ("table
        // loop already exists"). Opening and migrating are serialised by an flock on a file
        // next to the store (skipped where it cannot be created), and a busy open is retried
        // for up to 10 seconds.
        let lock = try? FileLock(path: path + ".open-lock")
        try? lock?.lock(.exclusive)
        defer { lock?.unlock() }
        let deadline = Date().addingTimeInterval(10)
        while true {
            do {
                let pool = try DatabasePool(path: path, configuration: configuration)
                try Self.migrator.migrate(pool)
                self.pool = pool
                return
            } catch let error as DatabaseError where [.SQLITE_BUSY, .SQLITE_LOCKED].contains(error.resultCode) && Date() < deadline {
                usleep(20_000)
            } catch {
                throw StoreError(path: path, operation: "open", message: "\(error)")
            }
        }
    }

    func write<T>(_ operation: String, _ body: (Database) throws -> T) throws(StoreError) -> T {
        do {
            return try pool.write(body)
        } catch {
            throw StoreError(path: path, operation: operation, message: "\(error)")
        }
    }

    func read<T>(_ operation: String, _ body: (Database) throws -> T) throws(StoreError) -> T {
        do {
            return try pool.read(body)
        } catch {
            throw StoreError(path: path, operation: operation, message: "\(error)")
        }
    }

    // MARK: Loops

    public func loop(named name: String) throws(StoreError) -> LoopRecord? {
        try read("read loop '\(name)'") { try LoopRecord.fetchOne($0, key: name) }
    }

    public func loops() throws(StoreError) -> [LoopRecord] {
        try read("list loops") { try LoopRecord.order(Column("name")).fetchAll($0) }
    }

    public func save(_ loop: LoopRecord) throws(StoreError) {
        var copy = loop
        copy.updatedAt = Date()
        try write("save loop '\(loop.name)'") { try copy.save($0) }
    }

    /// Sets a loop's status and reason without touching the rest of its row.
    public func setStatus(loop: String, status: LoopStatus, reason: String?) throws(StoreError) {
        try write("set status of '\(loop)'") { db in
            try db.execute(
                sql: "UPDATE loop SET status = ?, statusReason = ?, updatedAt = ? WHERE name = ?", arguments: [status, reason, Date(), loop])
        }
    }

    // MARK: Candidates

    /// Inserts a new candidate with the loop's next sequence number (its texts too).
    public func insertCandidate(_ candidate: CandidateRecord) throws(StoreError) -> CandidateRecord {
        try write("insert candidate") { db in
            var copy = candidate
            let last = try Int.fetchOne(db, sql: "SELECT MAX(sequence) FROM candidate WHERE loop = ?", arguments: [candidate.loop])
            copy.sequence = (last ?? 0) + 1
            try copy.insert(db)
            try CandidateTexts.save(copy, db)
            return copy
        }
    }

    /// Writes every field of `candidate`, its diff, prompt and reply included.
    public func update(_ candidate: CandidateRecord) throws(StoreError) {
        try write("update candidate \(candidate.id ?? -1)") { db in
            try candidate.update(db)
            try CandidateTexts.save(candidate, db)
        }
    }

    /// One candidate with its texts (diff, prompt, reply).
    public func candidate(id: Int64) throws(StoreError) -> CandidateRecord? {
        try read("read candidate \(id)") { db in try Self.withTexts(CandidateRecord.filter(key: id), db).first }
    }

    /// Every candidate of `loop` with its texts, oldest first. A list should read
    /// `candidateRows(loop:_:)` instead: this reads every diff and prompt.
    public func candidates(loop: String) throws(StoreError) -> [CandidateRecord] {
        try read("list candidates of '\(loop)'") { db in
            try Self.withTexts(CandidateRecord.filter(Column("loop") == loop).order(Column("sequence")), db)
        }
    }

    /// Every candidate of every loop with its texts, by id.
    public func allCandidates() throws(StoreError) -> [CandidateRecord] {
        try read("list candidates") { db in try Self.withTexts(CandidateRecord.order(Column("id")), db) }
    }

    /// The records `request` selects, their texts filled in.
    static func withTexts(_ request: QueryInterfaceRequest<CandidateRecord>, _ db: Database) throws -> [CandidateRecord] {
        var records = try request.fetchAll(db)
        try CandidateTexts.load(into: &records, db)
        return records
    }

    // MARK: Steps

    /// Records that a step started (committed before the step runs).
    public func startStep(_ step: Step, candidate: Int64) throws(StoreError) -> StepRecord {
        try write("start step \(step.rawValue)") { db in
            var record = StepRecord(candidateId: candidate, step: step)
            try record.insert(db)
            return record
        }
    }

    public func finish(_ step: StepRecord) throws(StoreError) {
        var copy = step
        copy.finishedAt = Date()
        try write("finish step \(step.step.rawValue)") { try copy.update($0) }
    }

    public func steps(candidate: Int64) throws(StoreError) -> [StepRecord] {
        try read("list steps") { try StepRecord.filter(Column("candidateId") == candidate).order(Column("id")).fetchAll($0) }
    }

    // MARK: Runs

    /// Records the start of a `ratchet run` (for wall-clock budgets).
    public func startRun(loop: String, pid: Int32) throws(StoreError) -> RunRecord {
        try write("start run") { db in
            var record = RunRecord(loop: loop, pid: Int(pid), startedAt: Date())
            record.startedBy = LocalUser.name
            try record.insert(db)
            return record
        }
    }

    public func finish(_ run: RunRecord, reason: String) throws(StoreError) {
        var copy = run
        copy.endedAt = Date()
        copy.stopReason = reason
        try write("finish run") { try copy.update($0) }
    }

    public func runs(loop: String) throws(StoreError) -> [RunRecord] {
        try read("list runs") { try RunRecord.filter(Column("loop") == loop).order(Column("id")).fetchAll($0) }
    }

    /// Steps left `started` with a recorded process group (by a Ratchet that died).
    public func openStepsWithProcessGroups(loop: String) throws(StoreError) -> [StepRecord] {
        try read("list open steps") { db in
            try StepRecord.fetchAll(
                db,
                sql: """
                    SELECT step.* FROM step JOIN candidate ON candidate.id = step.candidateId
                    WHERE candidate.loop = ? AND step.status = 'started' AND step.processGroup IS NOT NULL
                    """, arguments: [loop])
        }
    }

    public func update(_ step: StepRecord) throws(StoreError) {
        try write("update step") { try step.update($0) }
    }

    // MARK: Approvals

    public func add(_ approval: ApprovalRecord) throws(StoreError) -> ApprovalRecord {
        try write("record approval") { db in
            var copy = approval
            try copy.insert(db)
            return copy
        }
    }

    public func approvals(loop: String) throws(StoreError) -> [ApprovalRecord] {
        try read("list approvals") { try ApprovalRecord.filter(Column("loop") == loop).order(Column("id")).fetchAll($0) }
    }

    // MARK: Samples

    public func add(_ sample: SampleRecord) throws(StoreError) {
        try write("add sample") { db in
            var copy = sample
            try copy.insert(db)
        }
    }

    public func samples(candidate: Int64) throws(StoreError) -> [SampleRecord] {
        try read("list samples") { try SampleRecord.filter(Column("candidateId") == candidate).order(Column("id")).fetchAll($0) }
    }
}
