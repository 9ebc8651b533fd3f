import Core
import Foundation
#if canImport(Glibc)
    import Glibc
#endif
import GRDB

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
        let lock = open(path + ".open-lock", O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        if lock >= 0 { flock(lock, LOCK_EX) }
        defer {
            if lock >= 0 {
                flock(lock, LOCK_UN)
                close(lock)
            }
        }
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

    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.create(table: "loop") { t in
                t.primaryKey("name", .text)
                t.column("repository", .text).notNull()
                t.column("baseRef", .text).notNull()
                t.column("baseCommit", .text).notNull()
                t.column("bestCommit", .text).notNull()
                t.column("configHash", .text).notNull()
                t.column("status", .text).notNull()
                t.column("statusReason", .text)
                t.column("createdAt", .datetime).notNull()
                t.column("updatedAt", .datetime).notNull()
            }
            try db.create(table: "candidate") { t in
                t.autoIncrementedPrimaryKey("id")
                t.column("loop", .text).notNull().references("loop", onDelete: .cascade)
                t.column("sequence", .integer).notNull()
                t.column("proposer", .text).notNull()
                t.column("source", .text).notNull()
                t.column("title", .text).notNull()
                t.column("diff", .text)
                t.column("parentCommit", .text).notNull()
                t.column("tree", .text)
                t.column("state", .text).notNull()
                t.column("outcome", .text)
                t.column("rejection", .text)
                t.column("reason", .text)
                t.column("estimate", .double)
                t.column("lower", .double)
                t.column("upper", .double)
                t.column("threshold", .double)
                t.column("pairs", .integer)
                t.column("commit", .text)
                t.column("createdAt", .datetime).notNull()
                t.column("finishedAt", .datetime)
                t.uniqueKey(["loop", "sequence"])
            }
            try db.create(table: "step") { t in
                t.autoIncrementedPrimaryKey("id")
                t.column("candidateId", .integer).notNull().references("candidate", onDelete: .cascade)
                t.column("step", .text).notNull()
                t.column("status", .text).notNull()
                t.column("detail", .text)
                t.column("exitStatus", .integer)
                t.column("wallSeconds", .double)
                t.column("output", .text)
                t.column("startedAt", .datetime).notNull()
                t.column("finishedAt", .datetime)
            }
            try db.create(table: "sample") { t in
                t.autoIncrementedPrimaryKey("id")
                t.column("candidateId", .integer).notNull().references("candidate", onDelete: .cascade)
                t.column("pair", .integer).notNull()
                t.column("arm", .text).notNull()
                t.column("position", .integer).notNull()
                t.column("value", .double).notNull()
                t.column("wallSeconds", .double).notNull()
                t.column("warmup", .boolean).notNull()
                t.column("createdAt", .datetime).notNull()
            }
            try db.create(index: "candidate_loop", on: "candidate", columns: ["loop", "state"])
            try db.create(index: "step_candidate", on: "step", columns: ["candidateId"])
            try db.create(index: "sample_candidate", on: "sample", columns: ["candidateId"])
        }
        migrator.registerMigration("v2-control") { db in
            try db.alter(table: "candidate") { t in
                t.add(column: "linesChanged", .integer)
                t.add(column: "paths", .text)
                t.add(column: "inputTokens", .integer)
                t.add(column: "outputTokens", .integer)
                t.add(column: "cost", .double)
                t.add(column: "prompt", .text)
                t.add(column: "response", .text)
                t.add(column: "review", .text)
                t.add(column: "checkpoint", .text)
            }
            try db.alter(table: "step") { t in t.add(column: "processGroup", .integer) }
            try db.create(table: "run") { t in
                t.autoIncrementedPrimaryKey("id")
                t.column("loop", .text).notNull()
                t.column("pid", .integer).notNull()
                t.column("startedAt", .datetime).notNull()
                t.column("endedAt", .datetime)
                t.column("stopReason", .text)
            }
            try db.create(table: "approval") { t in
                t.autoIncrementedPrimaryKey("id")
                t.column("candidateId", .integer).notNull().references("candidate", onDelete: .cascade)
                t.column("loop", .text).notNull()
                t.column("decision", .text).notNull()
                t.column("actor", .text).notNull()
                t.column("note", .text)
                t.column("createdAt", .datetime).notNull()
            }
            try db.create(table: "audit") { t in
                t.primaryKey("seq", .integer)
                t.column("time", .text).notNull()
                t.column("loop", .text).notNull()
                t.column("kind", .text).notNull()
                t.column("actor", .text).notNull()
                t.column("payload", .text).notNull()
                t.column("prevHash", .text).notNull()
                t.column("hash", .text).notNull()
            }
        }
        migrator.registerMigration("v3-benchmarks") { db in
            try db.alter(table: "sample") { t in t.add(column: "benchmark", .text) }
        }
        migrator.registerMigration("v4-access") { db in
            // Personal tokens (only a SHA-256 of each is kept), how each approval's author was
            // established, and who started each run (for forbid_self_approval).
            try db.create(table: "access_token") { t in
                t.autoIncrementedPrimaryKey("id")
                t.column("name", .text).notNull()
                t.column("role", .text).notNull()
                t.column("hash", .text).notNull().unique()
                t.column("legacy", .boolean).notNull().defaults(to: false)
                t.column("createdAt", .datetime).notNull()
                t.column("createdBy", .text).notNull()
                t.column("revokedAt", .datetime)
                t.column("revokedBy", .text)
                t.column("lastUsedAt", .datetime)
            }
            try db.execute(sql: "CREATE UNIQUE INDEX access_token_live_name ON access_token(name) WHERE revokedAt IS NULL")
            try db.alter(table: "approval") { t in
                t.add(column: "auth", .text)
                t.add(column: "actorId", .text)
                t.add(column: "reviewed", .boolean)
            }
            try db.alter(table: "run") { t in t.add(column: "startedBy", .text) }
        }
        migrator.registerMigration("v5-review-depth") { db in
            // Who opened which change's page (with its diff), and how long each decision took.
            try db.create(table: "review_view") { t in
                t.autoIncrementedPrimaryKey("id")
                t.column("candidateId", .integer).notNull().references("candidate", onDelete: .cascade)
                t.column("loop", .text).notNull()
                t.column("actor", .text).notNull()
                t.column("actorId", .text)
                t.column("openedAt", .datetime).notNull()
            }
            try db.create(index: "review_view_candidate", on: "review_view", columns: ["candidateId", "actor"])
            try db.alter(table: "approval") { t in
                t.add(column: "reviewSeconds", .double)
                t.add(column: "burst", .boolean)
            }
        }
        return migrator
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
    public func setStatus(loop: String, status: String, reason: String?) throws(StoreError) {
        try write("set status of '\(loop)'") { db in
            try db.execute(
                sql: "UPDATE loop SET status = ?, statusReason = ?, updatedAt = ? WHERE name = ?", arguments: [status, reason, Date(), loop])
        }
    }

    // MARK: Candidates

    /// Inserts a new candidate with the loop's next sequence number.
    public func insertCandidate(_ candidate: CandidateRecord) throws(StoreError) -> CandidateRecord {
        try write("insert candidate") { db in
            var copy = candidate
            let last = try Int.fetchOne(db, sql: "SELECT MAX(sequence) FROM candidate WHERE loop = ?", arguments: [candidate.loop])
            copy.sequence = (last ?? 0) + 1
            try copy.insert(db)
            return copy
        }
    }

    public func update(_ candidate: CandidateRecord) throws(StoreError) {
        try write("update candidate \(candidate.id ?? -1)") { try candidate.update($0) }
    }

    public func candidate(id: Int64) throws(StoreError) -> CandidateRecord? {
        try read("read candidate \(id)") { try CandidateRecord.fetchOne($0, key: id) }
    }

    public func candidates(loop: String) throws(StoreError) -> [CandidateRecord] {
        try read("list candidates of '\(loop)'") {
            try CandidateRecord.filter(Column("loop") == loop).order(Column("sequence")).fetchAll($0)
        }
    }

    public func allCandidates() throws(StoreError) -> [CandidateRecord] {
        try read("list candidates") { try CandidateRecord.order(Column("id")).fetchAll($0) }
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
        try write("finish step \(step.step)") { try copy.update($0) }
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
