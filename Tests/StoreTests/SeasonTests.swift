import Core
import Foundation
import GRDB
import TestSupport
import Testing

@testable import Store

/// A store that lasts a season: lists without the large texts, prompts stored once per
/// distinct piece, tallies kept by triggers, and every per-candidate read answered by an
/// index — with the same answers as counting every record.
@Suite struct SeasonTests {
    func freshStore(_ loops: [String] = ["a"]) throws -> (Store, TemporaryFolder) {
        let folder = try TemporaryFolder("season")
        let store = try Store(path: folder.path + "/ratchet.sqlite")
        for name in loops {
            try store.save(
                LoopRecord(name: name, repository: "/r", baseRef: "main", baseCommit: "c0", bestCommit: "c0", configHash: "h", status: .stopped))
        }
        return (store, folder)
    }

    /// A model's prompt: 18 KB of files in scope that change only now and then, and a part
    /// that changes with every candidate.
    static func prompt(_ n: Int, fileVersion: Int) -> String {
        let files = (0..<6).map { file in
            "### src/f\(file).c\n```\n"
                + (0..<90).map { line in "    v\(file)_\(line) = mix(v\(file)_\(line), \(line * 31 + file), \(file == 0 ? fileVersion : 0));" }
                .joined(separator: "\n")
                + "\n```"
        }
        let recent = (0..<10).map { "\($0 + 1). \"attempt \(n - 10 + $0)\": rejected — not better: -0.\($0)%" }.joined(separator: "\n")
        return "You are an expert.\n\n## Objective\nbest \(1000 - fileVersion)\n\n## Recent attempts\n\(recent)\n\n## Files you may change\n"
            + files.joined(separator: "\n\n") + "\n\n## How to reply\nA diff.\n"
    }

    func storedPieceBytes(_ folder: TemporaryFolder) throws -> Int {
        let queue = try DatabaseQueue(path: folder.path + "/ratchet.sqlite")
        return try queue.read { db in try Int.fetchOne(db, sql: "SELECT TOTAL(LENGTH(CAST(body AS BLOB))) FROM text_chunk") ?? 0 }
    }

    @Test func textsRoundTripWithTheRecordAndListsLeaveThemOut() throws {
        let (store, folder) = try freshStore()
        defer { folder.remove() }
        let inserted = try store.insertCandidate(
            CandidateRecord(loop: "a", sequence: 0, proposer: "model", source: "s", title: "t", parentCommit: "c0"))
        // As stored (dates to the millisecond).
        let insertedID = try #require(inserted.id)
        var record = try #require(try store.candidate(id: insertedID))
        let prompt = Self.prompt(1, fileVersion: 0) + "é ü 日本 🚀\n" + String(repeating: "ß", count: 20_000)
        record.diff = "diff --git a/x b/x\n"
        record.prompt = prompt
        record.response = "Title: t\n"
        try store.update(record)
        let id = try #require(record.id)
        let read = try #require(try store.candidate(id: id))
        #expect(read == record)
        #expect(try store.candidates(loop: "a") == [record])
        #expect(try store.candidateRows(loop: "a") == [CandidateRow(record)])
        // Cleared texts stay cleared.
        record.prompt = nil
        record.response = ""
        try store.update(record)
        #expect(try store.candidate(id: id) == record)
        record.diff = nil
        record.response = nil
        try store.update(record)
        #expect(try store.candidate(id: id) == record)
    }

    @Test func piecesCoverTheTextAndResynchroniseAfterAnEdit() throws {
        let text = Self.prompt(40, fileVersion: 3)
        let bytes = Array(text.utf8)
        let cuts = TextChunks.cuts(bytes)
        #expect(cuts.first?.lowerBound == 0 && cuts.last?.upperBound == bytes.count)
        #expect(zip(cuts, cuts.dropFirst()).allSatisfy { $0.upperBound == $1.lowerBound })
        #expect(cuts.count > 8, "a 20 KB prompt is cut into pieces of about 1 KB")
        #expect(cuts.allSatisfy { $0.count <= TextChunks.maximum })
        // A line inserted near the start changes the pieces around it only.
        let edited = Array(text.replacingOccurrences(of: "## Objective\n", with: "## Objective\nsomething new\n").utf8)
        let before = Set(cuts.map { Array(bytes[$0]) })
        let after = TextChunks.cuts(edited).map { Array(edited[$0]) }
        #expect(after.filter { !before.contains($0) }.count <= 2)
        // A line longer than a piece is cut between characters.
        let long = Array(String(repeating: "日本", count: 10_000).utf8)
        let pieces = TextChunks.cuts(long)
        #expect(pieces.count > 1)
        #expect(pieces.allSatisfy { String(bytes: long[$0], encoding: .utf8) != nil })
    }

    /// 60 candidates of a model-driven loop: their prompts (~20 KB each, 18 KB of them files
    /// in scope, rewritten by an accept every 20 candidates) take about what changed.
    @Test func repeatedPromptPartsAreStoredOnce() throws {
        let (store, folder) = try freshStore()
        defer { folder.remove() }
        var written = 0
        for n in 1...60 {
            var record = try store.insertCandidate(
                CandidateRecord(loop: "a", sequence: 0, proposer: "model", source: "s\(n)", title: "t", parentCommit: "c0"))
            record.prompt = Self.prompt(n, fileVersion: n / 20)
            written += record.prompt?.utf8.count ?? 0
            try store.update(record)
        }
        let stored = try storedPieceBytes(folder)
        let first = Self.prompt(1, fileVersion: 0).utf8.count
        #expect(first > 18_000)
        // The first prompt whole, then per candidate the changed part (~1 KB) and its neighbours.
        #expect(stored < first * 3 + 60 * 2_500, "stored \(stored) bytes for \(written) bytes of prompts")
        #expect(
            try store.candidates(loop: "a").enumerated().allSatisfy {
                $0.element.prompt == Self.prompt($0.offset + 1, fileVersion: ($0.offset + 1) / 20)
            })
    }

    /// A store written before migration `v6-season` (texts in the candidate row) opens with
    /// its texts moved, identical prompts stored once, and its tally counted.
    @Test func aStoreFromBeforeTheSeasonMigrates() throws {
        let folder = try TemporaryFolder("season")
        defer { folder.remove() }
        let path = folder.path + "/ratchet.sqlite"
        let outcomes: [(String?, String?, String?)] = [
            ("accepted", nil, "approved"), ("rejected", "not_better", nil), ("accepted", nil, "pending"), ("rejected", "build_failed", nil),
            (nil, nil, nil),
        ]
        do {
            let queue = try DatabaseQueue(path: path)
            try Store.migrator.migrate(queue, upTo: "v5-review-depth")
            try queue.write { db in
                try db.execute(
                    sql: "INSERT INTO loop VALUES ('a', '/r', 'main', 'c0', 'c0', 'h', 'stopped', NULL, ?, ?)", arguments: [Date(), Date()])
                for (index, (outcome, rejection, review)) in outcomes.enumerated() {
                    try db.execute(
                        sql: """
                            INSERT INTO candidate (loop, sequence, proposer, source, title, parentCommit, state, outcome, rejection, review,
                                createdAt, diff, prompt, response, inputTokens, outputTokens, cost, linesChanged, estimate)
                            VALUES ('a', ?, 'model', ?, 't', 'c0', ?, ?, ?, ?, ?, ?, ?, ?, 100, 20, 0.25, 4, 0.05)
                            """,
                        arguments: [
                            index + 1, "s\(index)", outcome ?? "build", outcome, rejection, review, Date(), "diff \(index)\n",
                            Self.prompt(index, fileVersion: 0), index == 4 ? nil : "reply \(index)",
                        ])
                }
            }
        }
        let store = try Store(path: path)
        let records = try store.candidates(loop: "a")
        #expect(records.map(\.prompt) == outcomes.indices.map { Self.prompt($0, fileVersion: 0) })
        #expect(records.map(\.diff) == outcomes.indices.map { "diff \($0)\n" })
        #expect(records.map(\.response) == ["reply 0", "reply 1", "reply 2", "reply 3", nil])
        let queue = try DatabaseQueue(path: path)
        let inline = try queue.read { db in
            try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM candidate WHERE diff IS NOT NULL OR prompt IS NOT NULL OR response IS NOT NULL")
        }
        #expect(inline == 0)
        #expect(try storedPieceBytes(folder) < Self.prompt(0, fileVersion: 0).utf8.count + 5 * 2_500)
        let figures = try store.loopFigures(loop: "a")
        #expect(figures.tally == LoopFigures.of(records).tally)
        #expect(figures.tally.byOutcome == [.accepted: 2, .rejected: 2, nil: 1])
        #expect(figures.tally.decidedTokens == 4 * 120 && figures.tally.pendingReview == 1)
        #expect(try store.budgetUse(loop: "a") == BudgetUse.of(candidates: records, runs: []))
    }

    /// Random histories of two loops (outcomes, reviews that change, usage): every figure the
    /// store reads from its tally and indexes equals the one counted from every record.
    @Test func figuresFromTheStoreEqualCountingEveryRecord() throws {
        let (store, folder) = try freshStore(["a", "b"])
        defer { folder.remove() }
        var seed: UInt64 = 42
        func random(_ bound: Int) -> Int {
            seed = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int((seed >> 33) % UInt64(bound))
        }
        let fates: [(Outcome, RejectionKind?)] = [
            (.accepted, nil), (.rejected, .notBetter), (.rejected, .buildFailed), (.rejected, .gate), (.inconclusive, .inconclusive),
            (.interrupted, .interrupted), (.rejected, .testFailed),
        ]
        var accepted: [CandidateRecord] = []
        for step in 0..<400 {
            let loop = random(3) == 0 ? "b" : "a"
            var record = try store.insertCandidate(
                CandidateRecord(
                    loop: loop, sequence: 0, proposer: random(2) == 0 ? "model" : "tuner", source: "s\(random(50))", title: "t\(step)",
                    parentCommit: "c0"))
            if random(2) == 0 {
                record.inputTokens = random(1000)
                record.outputTokens = random(100)
                record.cost = Double(random(1000)) / 997
            }
            record.linesChanged = random(40)
            try store.update(record)
            if random(10) == 0 { continue }  // left in flight
            let (outcome, rejection) = fates[random(fates.count)]
            if outcome == .accepted { try record.advance(to: .running(.decide)) }
            try record.advance(to: .finished(outcome))
            record.rejection = rejection
            record.estimate = Double(random(100)) / 1000
            if outcome == .accepted {
                record.review = .pending
                record.commit = "commit\(step)"
                if random(4) == 0 { record.checkpoint = "needs a look" }
            }
            try store.update(record)
            if outcome == .accepted { accepted.append(record) }
            // Reviews happen later, in any order.
            if random(3) == 0, !accepted.isEmpty {
                var reviewed = accepted.remove(at: random(accepted.count))
                reviewed.review = [ReviewState.approved, .rejected, .rolledBack, .reset][random(4)]
                try store.update(reviewed)
            }
        }
        for loop in ["a", "b"] {
            let records = try store.candidates(loop: loop)
            let expected = LoopFigures.of(records)
            let figures = try store.loopFigures(loop: loop)
            #expect(figures.tally.groups.map(\.count) == expected.tally.groups.map(\.count))
            #expect(figures.tally.groups.map(\.tokens) == expected.tally.groups.map(\.tokens))
            #expect(zip(figures.tally.groups, expected.tally.groups).allSatisfy { abs($0.cost - $1.cost) < 1e-9 && $0.lines == $1.lines })
            #expect(figures.consecutiveFailures == expected.consecutiveFailures)
            #expect(figures.sinceImprovement == expected.sinceImprovement)
            #expect(figures.improvement == expected.improvement)
            #expect(figures.checkpoints == expected.checkpoints)
            #expect(figures.last == expected.last)
            var use = try store.budgetUse(loop: loop)
            let counted = BudgetUse.of(candidates: records, runs: [])
            #expect(abs(use.cost - counted.cost) < 1e-9)
            use.cost = counted.cost
            #expect(use == counted)
            #expect(
                try store.pendingReview(loop: loop) == records.filter { $0.outcome == .accepted && $0.review == .pending }.map(CandidateRow.init))
            #expect(try store.waitingCheckpoint(loop: loop) == records.first { $0.checkpoint != nil && $0.review == .pending })
            for proposer in ["model", "tuner"] {
                let tried = Set(records.filter { $0.proposer == proposer && $0.isDecided }.map(\.source))
                #expect(try store.triedSources(loop: loop, proposer: proposer) == tried)
                #expect(try (0..<50).allSatisfy { try store.wasTried(loop: loop, proposer: proposer, source: "s\($0)") == tried.contains("s\($0)") })
            }
            #expect(try store.candidateRows(loop: loop, CandidateQuery(newest: 100)) == records.suffix(100).map(CandidateRow.init))
            #expect(
                try store.candidateRows(loop: loop, CandidateQuery(outcome: .accepted))
                    == records.filter { $0.outcome == .accepted }.map(CandidateRow.init))
            #expect(try store.unfinishedCandidates(loop: loop) == records.filter { !$0.state.isFinished })
            #expect(try store.candidateCount(loop: loop, CandidateQuery(outcome: .rejected)) == records.filter { $0.outcome == .rejected }.count)
            #expect(try store.candidateCount(loop: loop, CandidateQuery(unfinished: true)) == records.filter { $0.outcome == nil }.count)
            let best = try #require(records.last { $0.commit != nil })
            #expect(try store.candidate(loop: loop, commit: best.commit ?? "") == CandidateRow(best))
            #expect(try store.lastCandidate(loop: loop, outcome: .accepted) == records.last { $0.outcome == .accepted }.map(CandidateRow.init))
            var streamed: [CandidateRow] = []
            try store.forEachCandidateRow(loop: loop) { streamed.append($0) }
            #expect(streamed == records.map(CandidateRow.init))
        }
    }

    @Test func listsSinceATimeAndTheFirstMeasuredCandidate() throws {
        let (store, folder) = try freshStore()
        defer { folder.remove() }
        let start = Date(timeIntervalSince1970: 1_800_000_000)
        for n in 0..<10 {
            var record = CandidateRecord(loop: "a", sequence: 0, proposer: "p", source: "s\(n)", title: "t", parentCommit: n < 5 ? "c0" : "c1")
            record.createdAt = start.addingTimeInterval(Double(n) * 3600)
            record = try store.insertCandidate(record)
            if n == 2 || n == 7 {
                record.pairs = 4
                try store.update(record)
            }
        }
        let since = try store.candidateRows(loop: "a", CandidateQuery(since: start.addingTimeInterval(6 * 3600)))
        #expect(since.map(\.source) == ["s6", "s7", "s8", "s9"])
        #expect(
            try store.candidateRows(loop: "a", CandidateQuery(since: start.addingTimeInterval(6 * 3600), newest: 2)).map(\.source) == ["s8", "s9"])
        #expect(try store.candidateCount(loop: "a", CandidateQuery(since: start.addingTimeInterval(6 * 3600))) == 4)
        #expect(try store.firstMeasured(loop: "a", parentCommit: "c0")?.source == "s2")
        #expect(try store.firstMeasured(loop: "a", parentCommit: "c1")?.source == "s7")
    }

    /// The reads a loop makes for every candidate, and the overview's, search an index (or
    /// the tally) instead of scanning the loop's candidates. Planned with bound values, as the
    /// Store runs them (a literal can let SQLite pick an index a bound value does not).
    @Test func perCandidateReadsUseIndexes() throws {
        let (_, folder) = try freshStore()
        defer { folder.remove() }
        let queue = try DatabaseQueue(path: folder.path + "/ratchet.sqlite")
        let columns = Store.rowColumns
        func plan(_ sql: String) throws -> String {
            let arguments = StatementArguments(Array(repeating: "a", count: sql.filter { $0 == "?" }.count))
            return try queue.read { db in
                try Row.fetchAll(db, sql: "EXPLAIN QUERY PLAN " + sql, arguments: arguments).map { $0["detail"] as String }.joined(separator: "; ")
            }
        }
        let queries = [
            "SELECT outcome, rejection, review, count, tokens, cost, lines FROM candidate_tally WHERE loop = ?",
            "SELECT \(columns) FROM candidate WHERE loop = ? ORDER BY sequence DESC LIMIT 100",
            "SELECT \(columns) FROM candidate WHERE loop = ? AND review = 'pending' AND +outcome = 'accepted' ORDER BY sequence",
            "SELECT \(columns) FROM candidate WHERE loop = ? AND review = 'pending' AND checkpoint IS NOT NULL ORDER BY sequence",
            "SELECT DISTINCT source FROM candidate WHERE loop = ? AND proposer = ? AND outcome IS NOT NULL AND outcome != 'interrupted'",
            "SELECT EXISTS (SELECT 1 FROM candidate WHERE loop = ? AND proposer = ? AND source = ? AND outcome IS NOT NULL AND outcome != 'interrupted')",
            "SELECT estimate, review FROM candidate WHERE loop = ? AND outcome = 'accepted' ORDER BY sequence",
            "SELECT MAX(sequence) FROM candidate WHERE loop = ? AND outcome = 'accepted'",
            "SELECT sequence FROM candidate WHERE loop = ? AND \(Store.decided) AND rejection IS NULL ORDER BY sequence DESC LIMIT 1",
            "SELECT COUNT(*) FROM candidate WHERE loop = ? AND \(Store.decided) AND sequence > 5",
            "SELECT \(columns) FROM candidate WHERE loop = ? AND outcome IS NULL ORDER BY sequence",
        ]
        for sql in queries {
            let found = try plan(sql).replacingOccurrences(of: "SCAN CONSTANT ROW", with: "")
            #expect(!found.contains("SCAN") && !found.contains("TEMP B-TREE"), "\(sql.suffix(90)): \(found)")
            // The review queue through its own index, the kept accepts from the index alone.
            if sql.contains("review = 'pending' AND +outcome") { #expect(found.contains("candidate_pending"), "\(found)") }
            if sql.hasPrefix("SELECT estimate") { #expect(found.contains("COVERING INDEX candidate_outcome"), "\(found)") }
        }
        // Only the rows found are sorted: a commit's candidates, a window in time.
        let commit = try plan(
            "SELECT \(columns) FROM candidate WHERE \"commit\" = ? AND \"commit\" IS NOT NULL AND +loop = ? ORDER BY sequence DESC LIMIT 1")
        #expect(commit.contains("USING INDEX candidate_commit") && !commit.contains("SCAN"), "\(commit)")
        let window = try plan("SELECT \(columns) FROM candidate WHERE loop = ? AND createdAt >= ? ORDER BY sequence")
        #expect(window.contains("USING INDEX candidate_created") && !window.contains("SCAN"), "\(window)")
    }
}
