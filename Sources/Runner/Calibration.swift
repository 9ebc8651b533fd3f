import Core
import Execution
import Foundation
import Git
import Store

/// The A/A calibration a new best needs, and the side-by-side build that makes the slots it
/// measures.
extension LoopRunner {
    /// The A/A calibration a new best needs, before the candidate is built.
    ///
    /// - Under bubblewrap with one mount point (no slot's identity reaches the program) the
    ///   best is built in a calibration slot beside the candidate's build, and the A/A runs
    ///   between the baseline and calibration slots before the candidate is measured
    ///   (`measurePendingCalibration`): a new best costs no build of its own. Every lane that
    ///   finds no calibration for the best builds its calibration slot (so none waits for
    ///   another's build, however long); the first to measure measures the A/A, and the
    ///   others take its result.
    /// - Otherwise the best goes into both of the lane's slots, is built (side by side under
    ///   bubblewrap) and is measured against itself now. When the best does not build,
    ///   nothing is measured here: the candidate's own steps report it.
    func calibrateBeforeBuilding() async throws {
        guard config.metric.aaPairs > 0, !adoptStoredCalibration() else { return }
        if slotsShareOneMount {
            pendingCalibration = true
            return
        }
        try sync(candidateSlot, to: bestTree)
        if let build = config.build, baselineBuiltTree != bestTree, executor.sandbox.bubblewrap != nil {
            let result = try await buildSideBySide(build, step: nil)
            if result.stopped { throw Interrupted(reason: options.stop.reason ?? "stopped") }
            guard result.succeeded, baselineBuiltTree == bestTree else { return }
        } else {
            if let baseline = try await buildBaselineSlot(), !baseline.succeeded { return }
            if let build = config.build {
                let result = try await runCommand(build, in: candidateSlot, role: "candidate", step: nil, phase: .build)
                if result.stopped { throw Interrupted(reason: options.stop.reason ?? "stopped") }
                guard result.succeeded else { return }
            }
        }
        try await enterMeasurement()
        defer { leaveMeasurement() }
        try await measureCalibration(step: nil)
    }

    /// Whether a pending A/A still needs the best built in the calibration slot.
    var calibrationNeedsBuild: Bool { pendingCalibration && calibrationBuiltTree != bestTree }

    /// The A/A set up by `calibrateBeforeBuilding`, after the candidate's build and test: the
    /// best in the baseline slot against the best in the calibration slot (each built when it
    /// is not yet), inside the measurement lock, unless the best moved meanwhile, a
    /// calibration for it was found, or the best does not build.
    func measurePendingCalibration() async throws {
        guard pendingCalibration else { return }
        pendingCalibration = false
        guard await coordinator.best.commit == bestCommit, !adoptStoredCalibration() else { return }
        // A best that does not build is reported by the candidate's steps or `prepareBaseline`.
        if let baseline = try await buildBaselineSlot(), !baseline.succeeded { return }
        // Built beside the candidate, the slot holds the best already.
        let built = calibrationSlot.flatMap { calibrationBuiltTree == bestTree ? $0 : nil }
        let slot = try built ?? madeCalibrationSlot()
        if let build = config.build, built == nil {
            let result = try await runCommand(build, in: slot, role: "candidate", phase: .build)
            if result.stopped { throw Interrupted(reason: options.stop.reason ?? "stopped") }
            guard result.succeeded else { throw slotsDisagree(result, in: slot) }
            calibrationBuiltTree = bestTree
        }
        // One lane measures it; another that got here first has, then.
        await coordinator.calibrations.take()
        defer { coordinator.calibrations.give() }
        guard !adoptStoredCalibration() else { return }
        try await enterMeasurement()
        defer { leaveMeasurement() }
        try await measureCalibration(step: nil, against: slot)
    }

    /// The calibration slot, holding the best.
    func madeCalibrationSlot() throws -> Slot {
        let slot = try calibrationSlot ?? Slot(repository: repository, root: slotRoot + "/calibration")
        calibrationSlot = slot
        try sync(slot, to: bestTree)
        return slot
    }

    /// Builds the candidate and, at once, the best in the baseline slot when it is not built
    /// there yet (a new best, a new lane, a worker node) and in the calibration slot when an
    /// A/A is pending; returns the candidate's build. Only under bubblewrap, where each build
    /// sees its own slot alone (the others are read-only); the slots are settled and sealed
    /// before and after as for any command.
    func buildSideBySide(_ build: CommandSpec, step: StepRecord?) async throws -> CommandResult {
        var beside: [(slot: Slot, role: String)] = []
        if baselineBuiltTree != bestTree {
            try sync(baselineSlot, to: bestTree)
            beside.append((baselineSlot, "baseline"))
        }
        if calibrationNeedsBuild {
            beside.append((try madeCalibrationSlot(), "candidate"))
        }
        let referenceTree = referenceNeedsBuild ? coordinator.driftBaseTree : nil
        if let referenceTree {
            beside.append((try madeReferenceSlot(referenceTree), "reference"))
        }
        var runners: [(folder: String, runner: CommandRunner, environment: [String: String])] = []
        for (slot, role) in beside + [(candidateSlot, "candidate")] {
            _ = try slotGuard(slot)
            var runner = executor
            runner.sandbox.sealed = try sealedBinds(for: slot)
            runners.append((slot.directory, runner, ["RATCHET_LOOP": config.name, "RATCHET_ROLE": role, "RATCHET_SLOT": slot.directory]))
        }
        try settleSlots(after: .run, in: nil, step: "before build")
        let held = try await buildHold(role: "candidate")
        defer { held?.release() }
        let (control, store, mine) = (self.control, self.store, runners.count - 1)
        var results = [CommandResult?](repeating: nil, count: runners.count)
        do {
            try await withThrowingTaskGroup(of: (Int, CommandResult).self) { group in
                for (index, job) in runners.enumerated() {
                    group.addTask {
                        let result = try await job.runner.run(
                            build.run, in: job.folder, timeout: build.timeout, environment: job.environment, control: control,
                            started: { processGroup in
                                guard index == mine, var record = step else { return }
                                record.processGroup = Int(processGroup)
                                try? store.update(record)
                            })
                        return (index, result)
                    }
                }
                for try await (index, result) in group { results[index] = result }
            }
        } catch {
            throw RunnerError(.io, "\(error)")
        }
        let finished = results.compactMap { $0 }
        guard finished.count == runners.count, let candidate = finished.last else {
            throw RunnerError(.internalError, "a side-by-side build returned \(finished.count) result(s) of \(runners.count)")
        }
        let stopped = finished.contains { $0.stopped }
        do {
            try settleSlots(after: .build, inEach: beside.map(\.slot) + [candidateSlot], step: "build")
        } catch let broken as SealBroken where stopped {
            emit(.note("while stopping: \(broken.message)"))
        }
        if stopped { throw Interrupted(reason: options.stop.reason ?? "stopped") }
        // A best that does not build is reported by `prepareBaseline` when a candidate gets
        // that far (a broken build command fails the candidate first, as it always did).
        for (index, side) in beside.enumerated() {
            let built = finished[index].succeeded
            if side.slot === baselineSlot {
                if built { baselineBuiltTree = bestTree }
            } else if side.slot === referenceSlot {
                if built { referenceBuiltTree = referenceTree } else { referenceDoesNotBuild(finished[index]) }
            } else if built {
                calibrationBuiltTree = bestTree
            }
        }
        return candidate
    }
}
