import Execution
import Foundation
import TestSupport
import Testing

/// The machine-wide measurement lock on real lock files, within this process and against
/// another process (util-linux `flock`).
@Suite struct MachineLockTests {
    /// Waits at most `seconds` for the lock (`keepWaiting` gives up after that).
    static func deadline(_ seconds: Double) -> () -> Bool {
        let end = Date().addingTimeInterval(seconds)
        return { Date() < end }
    }

    @Test func measurementsExcludeEachOtherAndBuilds() async throws {
        let folder = try TemporaryFolder("locks")
        defer { folder.remove() }
        let lock = try MachineLock(directory: folder.path + "/locks")
        let first = try #require(try await lock.measurement(cores: nil, overlapBuilds: false, keepWaiting: Self.deadline(1)))
        #expect(try await lock.measurement(cores: nil, overlapBuilds: false, keepWaiting: Self.deadline(0.2)) == nil, "two measurements at once")
        #expect(try await lock.build(keepWaiting: Self.deadline(0.2)) == nil, "a build during a measurement")
        first.release()
        // Builds share the machine with each other, not with a measurement.
        let build1 = try #require(try await lock.build(keepWaiting: Self.deadline(1)))
        let build2 = try #require(try await lock.build(keepWaiting: Self.deadline(1)))
        #expect(try await lock.measurement(cores: nil, overlapBuilds: false, keepWaiting: Self.deadline(0.2)) == nil, "a measurement during builds")
        build1.release()
        build2.release()
        #expect(try await lock.measurement(cores: nil, overlapBuilds: false, keepWaiting: Self.deadline(1)) != nil)
    }

    /// A waiting measurement holds the turnstile: builds that come after it wait behind it
    /// instead of starving it.
    @Test func aWaitingMeasurementIsNotStarvedByNewBuilds() async throws {
        let folder = try TemporaryFolder("locks")
        defer { folder.remove() }
        let lock = try MachineLock(directory: folder.path)
        let build = try #require(try await lock.build(keepWaiting: Self.deadline(1)))
        let measuring = Task { try await lock.measurement(cores: nil, overlapBuilds: false, keepWaiting: Self.deadline(5)) != nil }
        try await Task.sleep(for: .milliseconds(200))
        #expect(try await lock.build(keepWaiting: Self.deadline(0.3)) == nil, "a new build overtook the waiting measurement")
        build.release()
        #expect(try await measuring.value)
    }

    /// With `cpus_per_measurement = 1`, two measurements run at once on different cores.
    @Test func pinnedMeasurementsGetDisjointCores() async throws {
        let folder = try TemporaryFolder("locks")
        defer { folder.remove() }
        let lock = try MachineLock(directory: folder.path)
        try #require(lock.cores.count >= 2, "this test needs two cores")
        let a = try #require(try await lock.measurement(cores: 1, overlapBuilds: false, keepWaiting: Self.deadline(1)))
        let b = try #require(try await lock.measurement(cores: 1, overlapBuilds: false, keepWaiting: Self.deadline(1)))
        #expect(Set(a.cores ?? []).isDisjoint(with: b.cores ?? []))
        #expect(a.cores?.count == 1 && b.cores?.count == 1)
        if lock.cores.count == 2 {
            #expect(try await lock.measurement(cores: 1, overlapBuilds: false, keepWaiting: Self.deadline(0.2)) == nil)
        }
        // Asking for more cores than the process may use is an error that says so.
        await #expect(throws: LockError.self) {
            try await lock.measurement(cores: lock.cores.count + 1, overlapBuilds: false, keepWaiting: { false })
        }
    }

    /// Another process holding a core's lock keeps a whole-machine measurement waiting until it exits.
    @Test func anotherProcessHoldingACoreIsWaitedFor() async throws {
        let folder = try TemporaryFolder("locks")
        defer { folder.remove() }
        let lock = try MachineLock(directory: folder.path)
        let core = try #require(lock.cores.first)
        // The other process holds the core's lock until the marker file goes away.
        let marker = folder.path + "/hold"
        #expect(FileManager.default.createFile(atPath: marker, contents: nil))
        let holder = Process()
        holder.executableURL = URL(fileURLWithPath: "/usr/bin/flock")
        holder.arguments = ["--exclusive", folder.path + "/cpu-\(core)", "sh", "-c", "while [ -e '\(marker)' ]; do sleep 0.02; done"]
        try holder.run()
        var held = false
        for _ in 0..<1000 {
            guard let early = try await lock.measurement(cores: nil, overlapBuilds: true, keepWaiting: { false }) else {
                held = true
                break
            }
            early.release()
            try await Task.sleep(for: .milliseconds(10))
        }
        try #require(held, "flock never took the lock")
        let release = Task {
            try? await Task.sleep(for: .milliseconds(400))
            try? FileManager.default.removeItem(atPath: marker)
        }
        let started = Date()
        let hold = try await lock.measurement(cores: nil, overlapBuilds: true, keepWaiting: Self.deadline(20))
        #expect(hold != nil)
        #expect(Date().timeIntervalSince(started) > 0.3, "did not wait for the other process")
        await release.value
        holder.waitUntilExit()
    }
}
