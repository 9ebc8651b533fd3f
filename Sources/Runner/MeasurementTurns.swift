import Core
import Execution
import Foundation
import Synchronization

/// The machine's measurement lock as one run holds it, and the lanes' turns under it.
///
/// Lanes that measure at the same time take turns pair by pair: a lane's turn passes to the
/// lane that asked next, with the machine lock still held, and the lock is released only
/// when no lane waits. Benchmarks still never share the machine (one run at a time, and no
/// build or test unless `overlap_builds`), but each candidate's measurement starts at once
/// instead of after the other lane's decision. So a candidate is decided against the best
/// in force when its measurement starts even when another lane accepts meanwhile, and a
/// candidate rejected against that best needs no rebuild on the new one. Only with
/// measurements on the whole machine: pinned measurements (`cpus_per_measurement`) run side
/// by side on their own cores, each lane with a hold of its own.
final class MeasurementTurns: Sendable {
    private struct State {
        var owner: Int?
        var queue: [Int] = []
        var hold: MachineLock.Hold?
    }

    private let state = Mutex(State())

    /// Waits for `lane`'s turn, lanes served in the order they asked, for as long as
    /// `keepWaiting()` says. Returns whether the turn was taken, and the machine lock that
    /// comes with it (`nil`: the lane takes it, and hands it on with `give`).
    func take(lane: Int, keepWaiting: () -> Bool) async -> (taken: Bool, hold: MachineLock.Hold?) {
        let first = state.withLock { turns -> (taken: Bool, hold: MachineLock.Hold?)? in
            if turns.owner == nil, turns.queue.isEmpty {
                turns.owner = lane
                return (true, turns.hold)
            }
            turns.queue.append(lane)
            return nil
        }
        if let first { return first }
        while true {
            try? await Task.sleep(for: .milliseconds(2))
            let mine = state.withLock { turns -> MachineLock.Hold?? in
                turns.owner == lane ? .some(turns.hold) : nil
            }
            if let hold = mine { return (true, hold) }
            guard keepWaiting() else {
                let handedMeanwhile = state.withLock { turns -> Bool in
                    turns.queue.removeAll { $0 == lane }
                    return turns.owner == lane
                }
                // The turn came just now: handed on, not kept.
                if handedMeanwhile { give(lane: lane, hold: nil) }
                return (false, nil)
            }
        }
    }

    /// Ends `lane`'s turn: the next lane waiting gets it with `hold`, the machine lock kept;
    /// with none waiting, the lock is released.
    func give(lane: Int, hold: MachineLock.Hold?) {
        state.withLock { turns in
            guard turns.owner == lane else { return }
            if turns.queue.isEmpty {
                turns.owner = nil
                (hold ?? turns.hold)?.release()
                turns.hold = nil
            } else {
                turns.owner = turns.queue.removeFirst()
                turns.hold = hold ?? turns.hold
            }
        }
    }

    /// Whether a lane other than the one measuring waits for a turn.
    var othersWaiting: Bool { state.withLock { !$0.queue.isEmpty } }
}

extension LoopRunner {
    /// Measurements pinned to cores of their own run side by side; the others take turns.
    var measuresInTurns: Bool { config.parallel.cpusPerMeasurement == nil }

    /// Enters the measurement group of the machine-wide lock (waiting for other measurements
    /// and, unless `overlap_builds`, for builds and tests); a no-op when already inside.
    /// Another lane of this run measuring now hands its turn on between two of its pairs.
    func enterMeasurement() async throws {
        guard measuring == nil else { return }
        let stop = options.stop
        var passed: MachineLock.Hold?
        if measuresInTurns {
            let turn = await coordinator.measurementTurns.take(lane: lane) { !stop.isSet }
            guard turn.taken else { throw Interrupted(reason: stop.reason ?? "stopped") }
            passed = turn.hold
        }
        if let passed {
            measuring = passed
            return
        }
        var told = false
        let emit = self.emit
        let prefix = lanePrefix
        let hold: MachineLock.Hold?
        do {
            hold = try await machineLock.measurement(cores: config.parallel.cpusPerMeasurement, overlapBuilds: config.parallel.overlapBuilds) {
                if !told {
                    told = true
                    emit(.note("waiting for the machine's measurement lock\(prefix)"))
                }
                return !stop.isSet
            }
        } catch {
            if measuresInTurns { coordinator.measurementTurns.give(lane: lane, hold: nil) }
            throw RunnerError(.io, "\(error.description) (parallel.lock_dir)")
        }
        guard let hold else {
            if measuresInTurns { coordinator.measurementTurns.give(lane: lane, hold: nil) }
            throw Interrupted(reason: stop.reason ?? "stopped")
        }
        measuring = hold
    }

    func leaveMeasurement() {
        guard let hold = measuring else { return }
        measuring = nil
        if measuresInTurns {
            coordinator.measurementTurns.give(lane: lane, hold: hold)
        } else {
            hold.release()
        }
    }

    /// Between two pairs of a candidate's measurement: when another lane of this run waits
    /// to measure, it takes its turn now (its next pair, or its warm-up and first pair) and
    /// this lane's next pair follows.
    func shareMeasurementTurn() async throws {
        guard measuring != nil, measuresInTurns, coordinator.measurementTurns.othersWaiting else { return }
        leaveMeasurement()
        try await enterMeasurement()
    }
}
