import Crypto
import Foundation
import GRDB
import Store
import TestSupport
import Testing

@Suite struct AuditTests {
    /// A store with a 6-entry audit log.
    func makeLog() throws -> (Store, AuditLog, TemporaryFolder) {
        let folder = try TemporaryFolder("audit")
        let store = try Store(path: folder.path + "/ratchet.sqlite")
        let log = AuditLog(store: store, headPath: folder.path + "/audit.head")
        for i in 1...6 { try log.append(loop: "l", kind: "step", ["i": String(i)]) }
        return (store, log, folder)
    }

    /// Raw SQL on the file, as an attacker with write access would.
    func tamper(_ folder: TemporaryFolder, _ sql: String) throws {
        let queue = try DatabaseQueue(path: folder.path + "/ratchet.sqlite")
        try queue.write { try $0.execute(sql: sql) }
    }

    @Test func intactLogVerifies() throws {
        let (_, log, folder) = try makeLog()
        defer { folder.remove() }
        let result = try log.verify()
        #expect(result.ok)
        #expect(result.entries == 6)
        #expect(try log.entries().map(\.seq) == [1, 2, 3, 4, 5, 6])
        #expect(log.head()?.seq == 6)
    }

    @Test func editedEntryIsNamed() throws {
        let (_, log, folder) = try makeLog()
        defer { folder.remove() }
        try tamper(folder, #"UPDATE audit SET payload = '{"i":"999"}' WHERE seq = 3"#)
        let result = try log.verify()
        #expect(!result.ok)
        #expect(result.firstBad == 3)
        #expect(result.problem?.contains("edited") == true)
    }

    @Test func editedAndRehashedEntryBreaksTheChainAfterIt() throws {
        let (_, log, folder) = try makeLog()
        defer { folder.remove() }
        // An attacker who recomputes the edited entry's own hash still breaks entry 4's link.
        let entry = try #require(try log.entries().first { $0.seq == 3 })
        let forged = "3\n\(entry.time)\n\(entry.loop)\n\(entry.kind)\n\(entry.actor)\n{\"i\":\"999\"}\n\(entry.prevHash)"
        let hash = forgedHash(forged)
        try tamper(folder, "UPDATE audit SET payload = '{\"i\":\"999\"}', hash = '\(hash)' WHERE seq = 3")
        let result = try log.verify()
        #expect(!result.ok)
        #expect(result.firstBad == 4)
    }

    @Test func deletedEntryIsNamed() throws {
        let (_, log, folder) = try makeLog()
        defer { folder.remove() }
        try tamper(folder, "DELETE FROM audit WHERE seq = 2")
        let result = try log.verify()
        #expect(!result.ok)
        #expect(result.firstBad == 2)
        #expect(result.problem?.contains("missing") == true)
    }

    @Test func reorderedEntriesAreDetected() throws {
        let (_, log, folder) = try makeLog()
        defer { folder.remove() }
        try tamper(folder, "UPDATE audit SET seq = -1 WHERE seq = 4; UPDATE audit SET seq = 4 WHERE seq = 5; UPDATE audit SET seq = 5 WHERE seq = -1")
        let result = try log.verify()
        #expect(!result.ok)
        #expect(result.firstBad == 4)
    }

    @Test func truncatedTailIsDetectedByTheHeadFile() throws {
        let (_, log, folder) = try makeLog()
        defer { folder.remove() }
        try tamper(folder, "DELETE FROM audit WHERE seq >= 5")
        let result = try log.verify()
        #expect(!result.ok)
        #expect(result.problem?.contains("truncated") == true)
    }

    @Test func truncationIsDetectedByCommitAnchorsEvenWithTheHeadFileRewritten() throws {
        let (_, log, folder) = try makeLog()
        defer { folder.remove() }
        let anchor = try #require(try log.anchor())
        try tamper(folder, "DELETE FROM audit WHERE seq >= 5")
        try "4 \(try log.entries()[3].hash)\n".write(toFile: folder.path + "/audit.head", atomically: true, encoding: .utf8)
        let result = try log.verify(commitAnchors: [anchor])
        #expect(!result.ok)
        #expect(result.problem?.contains("commit") == true)
    }

    @Test func appendedOutOfBandIsDetected() throws {
        let (store, log, folder) = try makeLog()
        defer { folder.remove() }
        // A correctly chained entry written without going through the log (no head update).
        let last = try #require(try log.entries().last)
        let canonical = "7\n\(last.time)\nl\nstep\nintruder\n{}\n\(last.hash)"
        try tamper(
            folder,
            "INSERT INTO audit (seq, time, loop, kind, actor, payload, prevHash, hash) VALUES (7, '\(last.time)', 'l', 'step', 'intruder', '{}', '\(last.hash)', '\(forgedHash(canonical))')"
        )
        let result = try log.verify()
        #expect(!result.ok)
        #expect(result.firstBad == 7)
        #expect(result.problem?.contains("out of band") == true)
        _ = store
    }

    @Test func missingHeadFileIsDetected() throws {
        let (_, log, folder) = try makeLog()
        defer { folder.remove() }
        try FileManager.default.removeItem(atPath: folder.path + "/audit.head")
        #expect(try log.verify().ok == false)
    }

    /// A crash between the store's commit and the head rewrite leaves the head one entry
    /// behind; reconcile adopts exactly that entry.
    @Test func reconcileAdoptsOneEntryAfterACrash() throws {
        let (_, log, folder) = try makeLog()
        defer { folder.remove() }
        let entries = try log.entries()
        try "5 \(entries[4].hash)\n".write(toFile: folder.path + "/audit.head", atomically: true, encoding: .utf8)
        #expect(try log.verify().ok == false)
        try log.reconcile()
        #expect(try log.verify().ok)
    }
}

func forgedHash(_ text: String) -> String {
    SHA256.hash(data: Data(text.utf8)).map { String(format: "%02x", $0) }.joined()
}
