import Foundation
import GRDB

// The store's schema, one migration per change. A migration is never edited once shipped.
extension Store {
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
        migrator.registerMigration("v6-season") { db in
            // A store that lasts a season (100 000 candidates and more): see `seasonSchema`.
            try seasonSchema(db)
        }
        return migrator
    }

    /// Migration `v6-season`. Every read a loop or a command makes per candidate or per
    /// screen is answered without reading every candidate:
    /// - the large texts leave the candidate row (`candidate_text`), prompts as pieces kept
    ///   once by SHA-256 (`text_chunk`, see `TextChunks`); existing rows are moved;
    /// - `candidate_tally` keeps, per loop, outcome, rejection and review, the count and the
    ///   sums of tokens, cost and changed lines, maintained by triggers on `candidate`;
    /// - indexes for lists by outcome, by creation time, the review queue, tried sources and
    ///   the candidate of a commit; the outcome index also holds each accept's review and
    ///   estimate, so the improvement of the kept accepts is read from the index alone.
    static func seasonSchema(_ db: Database) throws {
        try db.execute(
            sql: """
                CREATE TABLE text_chunk (id INTEGER PRIMARY KEY, sha256 BLOB NOT NULL UNIQUE, body TEXT NOT NULL);
                CREATE TABLE candidate_text (
                    candidateId INTEGER PRIMARY KEY REFERENCES candidate(id) ON DELETE CASCADE,
                    diff TEXT, response TEXT, prompt TEXT);
                """)
        try CandidateTexts.moveInline(db)
        // NULL keys are stored as '' so that a group is one row (NULLs never conflict).
        let key = { (row: String) in
            "IFNULL(\(row).outcome, ''), IFNULL(\(row).rejection, ''), IFNULL(\(row).review, '')"
        }
        let sums = { (row: String) in
            "IFNULL(\(row).inputTokens, 0) + IFNULL(\(row).outputTokens, 0), IFNULL(\(row).cost, 0), IFNULL(\(row).linesChanged, 0)"
        }
        let add = """
            INSERT INTO candidate_tally (loop, outcome, rejection, review, count, tokens, cost, lines)
            VALUES (NEW.loop, \(key("NEW")), 1, \(sums("NEW")))
            ON CONFLICT (loop, outcome, rejection, review) DO UPDATE SET
                count = count + 1, tokens = tokens + excluded.tokens, cost = cost + excluded.cost, lines = lines + excluded.lines;
            """
        let matchOld =
            "loop = OLD.loop AND outcome = IFNULL(OLD.outcome, '') AND rejection = IFNULL(OLD.rejection, '') AND review = IFNULL(OLD.review, '')"
        // An emptied group is removed, so that no rounding residue of its cost stays behind.
        let remove = """
            UPDATE candidate_tally SET count = count - 1,
                tokens = tokens - (IFNULL(OLD.inputTokens, 0) + IFNULL(OLD.outputTokens, 0)),
                cost = cost - IFNULL(OLD.cost, 0), lines = lines - IFNULL(OLD.linesChanged, 0)
            WHERE \(matchOld);
            DELETE FROM candidate_tally WHERE \(matchOld) AND count <= 0;
            """
        let tallied = ["loop", "outcome", "rejection", "review", "inputTokens", "outputTokens", "cost", "linesChanged"]
        try db.execute(
            sql: """
                CREATE TABLE candidate_tally (
                    loop TEXT NOT NULL, outcome TEXT NOT NULL, rejection TEXT NOT NULL, review TEXT NOT NULL,
                    count INTEGER NOT NULL, tokens INTEGER NOT NULL, cost REAL NOT NULL, lines INTEGER NOT NULL,
                    PRIMARY KEY (loop, outcome, rejection, review)) WITHOUT ROWID;
                INSERT INTO candidate_tally (loop, outcome, rejection, review, count, tokens, cost, lines)
                    SELECT loop, \(key("candidate")), COUNT(*), SUM(IFNULL(inputTokens, 0) + IFNULL(outputTokens, 0)), TOTAL(cost),
                        SUM(IFNULL(linesChanged, 0))
                    FROM candidate GROUP BY 1, 2, 3, 4;
                CREATE TRIGGER candidate_tally_insert AFTER INSERT ON candidate BEGIN \(add) END;
                CREATE TRIGGER candidate_tally_delete AFTER DELETE ON candidate BEGIN \(remove) END;
                CREATE TRIGGER candidate_tally_update AFTER UPDATE OF \(tallied.joined(separator: ", ")) ON candidate
                WHEN \(tallied.map { "OLD.\($0) IS NOT NEW.\($0)" }.joined(separator: " OR "))
                BEGIN \(remove) \(add) END;
                DROP INDEX candidate_loop;
                CREATE INDEX candidate_outcome ON candidate (loop, outcome, sequence, review, estimate);
                CREATE INDEX candidate_created ON candidate (loop, createdAt);
                CREATE INDEX candidate_source ON candidate (loop, proposer, source, outcome);
                CREATE INDEX candidate_pending ON candidate (loop, sequence) WHERE review = 'pending';
                CREATE INDEX candidate_commit ON candidate ("commit") WHERE "commit" IS NOT NULL;
                """)
    }
}
