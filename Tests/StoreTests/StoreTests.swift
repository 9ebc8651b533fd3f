import Core
import Foundation
import Store
import Synchronization
import TestSupport
import Testing

@Suite struct StoreTests {
    func freshStore() throws -> (Store, TemporaryFolder) {
        let folder = try TemporaryFolder("store")
        return (try Store(path: folder.path + "/ratchet.sqlite"), folder)
    }

    /// `ratchet run` and `ratchet status` (or the daemon) opening a store that does not
    /// exist yet at the same instant: every open succeeds (switching a new file to WAL used
    /// to fail with "database is locked" instead of waiting).
    @Test func concurrentFirstOpensOfANewStoreAllSucceed() throws {
        let folder = try TemporaryFolder("store-race")
        defer { folder.remove() }
        let failures = Mutex<[String]>([])
        for round in 0..<15 {
            let path = folder.path + "/race-\(round).sqlite"
            let group = DispatchGroup()
            for _ in 0..<6 {
                group.enter()
                Thread {
                    defer { group.leave() }
                    do { _ = try Store(path: path) } catch { failures.withLock { $0.append("\(error)") } }
                }.start()
            }
            group.wait()
        }
        #expect(failures.withLock { $0 }.isEmpty, "\(failures.withLock { $0 }.prefix(3))")
    }

    @Test func candidatesGetPerLoopSequenceNumbersAndRoundTrip() throws {
        let (store, folder) = try freshStore()
        defer { folder.remove() }
        for name in ["a", "b"] {
            try store.save(
                LoopRecord(name: name, repository: "/r", baseRef: "main", baseCommit: "c0", bestCommit: "c0", configHash: "h", status: .running))
        }
        let first = try store.insertCandidate(
            CandidateRecord(loop: "a", sequence: 0, proposer: "tuner", source: "k=1", title: "t", parentCommit: "c0"))
        let second = try store.insertCandidate(
            CandidateRecord(loop: "a", sequence: 0, proposer: "tuner", source: "k=2", title: "t", parentCommit: "c0"))
        let other = try store.insertCandidate(
            CandidateRecord(loop: "b", sequence: 0, proposer: "tuner", source: "k=1", title: "t", parentCommit: "c0"))
        let sequences: [Int] = [first.sequence, second.sequence, other.sequence]
        #expect(sequences == [1, 2, 1])
        var updated = second
        try updated.advance(to: .finished(.rejected))
        updated.reason = "slower"
        updated.estimate = -0.1
        try store.update(updated)
        let secondID = try #require(second.id)
        let read = try #require(try store.candidate(id: secondID))
        #expect(read.outcome == .rejected && read.reason == "slower" && read.estimate == -0.1 && read.source == "k=2")
        // Dates are stored to the millisecond.
        #expect(abs(read.createdAt.timeIntervalSince(updated.createdAt)) < 0.001)
        let sources: [String] = try store.candidates(loop: "a").map(\.source)
        #expect(sources == ["k=1", "k=2"])
        #expect(updated.state == .finished(.rejected) && updated.outcome == .rejected)
        #expect(read.state == .finished(.rejected))
        #expect(first.state == .running(.propose))
    }

    @Test func stepsAndSamplesAreKeptInOrder() throws {
        let (store, folder) = try freshStore()
        defer { folder.remove() }
        try store.save(
            LoopRecord(name: "a", repository: "/r", baseRef: "main", baseCommit: "c0", bestCommit: "c0", configHash: "h", status: .running))
        let candidate = try store.insertCandidate(CandidateRecord(loop: "a", sequence: 0, proposer: "p", source: "s", title: "t", parentCommit: "c0"))
        let id = try #require(candidate.id)
        var step = try store.startStep(.build, candidate: id)
        step.status = .ok
        try store.finish(step)
        for pair in 0..<3 {
            try store.add(
                SampleRecord(candidateId: id, pair: pair, arm: .baseline, position: 0, value: Double(pair), wallSeconds: 0.1, warmup: false))
            try store.add(
                SampleRecord(candidateId: id, pair: pair, arm: .candidate, position: 1, value: Double(pair) / 2, wallSeconds: 0.1, warmup: false))
        }
        let steps = try store.steps(candidate: id)
        #expect(steps.count == 1)
        #expect(steps.first?.finishedAt != nil)
        let values: [Double] = try store.samples(candidate: id).map(\.value)
        #expect(values == [0, 0, 1, 0.5, 2, 1])
    }

    @Test func reopeningKeepsDataAndMigrationsAreIdempotent() throws {
        let folder = try TemporaryFolder("store")
        defer { folder.remove() }
        do {
            let store = try Store(path: folder.path + "/db.sqlite")
            try store.save(
                LoopRecord(name: "a", repository: "/r", baseRef: "main", baseCommit: "c0", bestCommit: "c1", configHash: "h", status: .stopped))
        }
        let reopened = try Store(path: folder.path + "/db.sqlite")
        #expect(try reopened.loop(named: "a")?.bestCommit == "c1")
    }

    @Test func unopenableDatabaseIsATypedError() throws {
        let error = try #require(throws: StoreError.self) { try Store(path: "/proc/no/such/dir/db.sqlite") }
        #expect(error.description.contains("/proc/no/such/dir/db.sqlite"))
    }
}
