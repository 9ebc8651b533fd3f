import Core
import Foundation
import GRDB
import TestSupport
import Testing

@testable import Store

/// Personal tokens in the store: only hashes are kept, names are unique among live tokens,
/// revocation is immediate, and the shared token of older set-ups is adopted once as `owner`.
@Suite struct AccessTokenStoreTests {
    @Test func onlyTheHashIsStoredAndTheSecretFindsItsToken() throws {
        let folder = try TemporaryFolder("tokens")
        defer { folder.remove() }
        let store = try Store(path: folder.path + "/ratchet.sqlite")
        let issued = try store.addToken(name: "ada", role: .reviewer, createdBy: "root")
        #expect(issued.secret.hasPrefix("rat_") && issued.secret.count == 68)
        #expect(issued.record.hash == AccessTokenRecord.hash(issued.secret) && issued.record.hash != issued.secret)
        #expect(try store.liveToken(secret: issued.secret)?.name == "ada")
        #expect(try store.liveToken(secret: issued.secret + "x") == nil)
        // The secret is nowhere on disk: not in the database, not in its write-ahead log.
        for file in try FileManager.default.contentsOfDirectory(atPath: folder.path) {
            let bytes = try Data(contentsOf: URL(fileURLWithPath: folder.path + "/" + file))
            #expect(bytes.range(of: Data(issued.secret.utf8)) == nil, "\(file) holds the secret")
        }
    }

    @Test func namesAreUniqueAmongLiveTokensAndRevocationIsImmediate() throws {
        let folder = try TemporaryFolder("tokens")
        defer { folder.remove() }
        let store = try Store(path: folder.path + "/ratchet.sqlite")
        let first = try store.addToken(name: "ada", role: .admin, createdBy: "root")
        let taken = try #require(throws: StoreError.self) { try store.addToken(name: "ada", role: .viewer, createdBy: "root") }
        #expect(taken.message.contains("already named 'ada'"))
        #expect(throws: StoreError.self) { try store.addToken(name: "ratchet", role: .viewer, createdBy: "root") }
        #expect(throws: StoreError.self) { try store.addToken(name: "Ada Lovelace", role: .viewer, createdBy: "root") }
        let revoked = try #require(try store.revokeToken(name: "ada", by: "root"))
        #expect(revoked.revokedBy == "root" && !revoked.isLive)
        #expect(try store.liveToken(secret: first.secret) == nil)
        #expect(try store.revokeToken(name: "ada", by: "root") == nil)
        let again = try store.addToken(name: "ada", role: .viewer, createdBy: "root")
        #expect(try store.liveToken(secret: again.secret)?.role == .viewer)
        #expect(try store.tokens().map(\.isLive) == [false, true])
    }

    @Test func theSharedTokenIsAdoptedOnceAsOwner() throws {
        let folder = try TemporaryFolder("tokens")
        defer { folder.remove() }
        let store = try Store(path: folder.path + "/ratchet.sqlite")
        let shared = String(repeating: "0f", count: 32)
        let owner = try #require(try store.adoptLegacyToken(shared))
        #expect(owner.name == "owner" && owner.role == .admin && owner.legacy)
        #expect(try store.adoptLegacyToken(shared) == nil)
        _ = try store.revokeToken(name: "owner", by: "root")
        #expect(try store.adoptLegacyToken(shared) == nil, "a revoked shared token must not come back on the next start")
        #expect(try store.liveToken(secret: shared) == nil)
    }

    /// A store made before personal tokens (migrations up to v3) opens, migrates, and keeps
    /// its approvals, which read as typed names.
    @Test func aStoreFromBeforeTokensMigrates() throws {
        let folder = try TemporaryFolder("tokens")
        defer { folder.remove() }
        let path = folder.path + "/ratchet.sqlite"
        do {
            let queue = try DatabaseQueue(path: path)
            try Store.migrator.migrate(queue, upTo: "v3-benchmarks")
            try queue.write { db in
                try db.execute(
                    sql: "INSERT INTO loop VALUES ('tiny', '/r', 'main', 'c0', 'c0', 'h', 'stopped', NULL, ?, ?)", arguments: [Date(), Date()])
                try db.execute(
                    sql:
                        "INSERT INTO candidate (loop, sequence, proposer, source, title, parentCommit, state, createdAt) VALUES ('tiny', 1, 'p', 's', 't', 'c0', 'accepted', ?)",
                    arguments: [Date()])
                try db.execute(
                    sql: "INSERT INTO approval (candidateId, loop, decision, actor, note, createdAt) VALUES (1, 'tiny', 'approved', 'Ada', NULL, ?)",
                    arguments: [Date()])
            }
        }
        let store = try Store(path: path)
        let approval = try #require(try store.approvals(candidate: 1).first)
        #expect(approval.actor == "Ada" && approval.auth == nil)
        #expect(Actor.established(actor: approval.actor, fields: [:]) == "typed, unchecked")
        #expect(try store.tokens().isEmpty)
    }

    @Test func runsRecordWhoStartedThem() throws {
        let folder = try TemporaryFolder("tokens")
        defer { folder.remove() }
        let store = try Store(path: folder.path + "/ratchet.sqlite")
        try store.save(
            LoopRecord(name: "tiny", repository: "/r", baseRef: "main", baseCommit: "c0", bestCommit: "c0", configHash: "h", status: .running))
        _ = try store.startRun(loop: "tiny", pid: getpid())
        let candidate = try store.insertCandidate(
            CandidateRecord(loop: "tiny", sequence: 0, proposer: "p", source: "s", title: "t", parentCommit: "c0"))
        #expect(try store.starter(ofCandidate: candidate) == LocalUser.name)
        #expect(Actor.local(gitIdentity: "Ada <ada@example.com>").auditFields["git_user"] == "Ada <ada@example.com>")
    }

    /// Review depth: decisions per reviewer, the median seconds per changed line over the
    /// timed ones, and bursts.
    @Test func reviewDepthPerReviewer() throws {
        let folder = try TemporaryFolder("tokens")
        defer { folder.remove() }
        let store = try Store(path: folder.path + "/ratchet.sqlite")
        try store.save(
            LoopRecord(name: "tiny", repository: "/r", baseRef: "main", baseCommit: "c0", bestCommit: "c0", configHash: "h", status: .running))
        var ids: [Int64] = []
        for lines in [10, 20, 40] {
            var candidate = try store.insertCandidate(
                CandidateRecord(loop: "tiny", sequence: 0, proposer: "p", source: "s", title: "t", parentCommit: "c0"))
            candidate.linesChanged = lines
            try store.update(candidate)
            ids.append(try #require(candidate.id))
        }
        for (index, seconds) in [100.0, 100.0, 100.0].enumerated() {
            var approval = ApprovalRecord(
                candidateId: ids[index], loop: "tiny", decision: .approved, by: Actor(name: "ada", auth: .session), note: nil)
            approval.reviewSeconds = seconds
            approval.burst = index == 2 ? true : nil
            _ = try store.add(approval)
        }
        _ = try store.add(ApprovalRecord(candidateId: ids[0], loop: "tiny", decision: .approved, by: Actor(name: "bob", auth: .token), note: nil))
        let depth = try store.reviewDepth(since: Date().addingTimeInterval(-60))
        #expect(depth.map(\.reviewer) == ["ada", "bob"])
        #expect(depth.first == ReviewerDepth(reviewer: "ada", reviewed: 3, timed: 3, medianSecondsPerLine: 5, burst: 1))
        #expect(depth.last == ReviewerDepth(reviewer: "bob", reviewed: 1, timed: 0, medianSecondsPerLine: nil, burst: 0))
        #expect(try store.approvalCount(actor: "ada", since: Date().addingTimeInterval(-60)) == 3)
        #expect(try store.reviewDepth(since: Date().addingTimeInterval(60)).isEmpty)
    }
}
