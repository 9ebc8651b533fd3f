import Core
import Execution
import Foundation
import Git
import Store

/// The drift check: the original base measured against the best again, every `drift_every`
/// decided candidates.
extension LoopRunner {
    /// Every `drift_every` candidates, measures the original base against the best again
    /// (random order within each pair, after the configured warm-ups) and checks that the
    /// improvement the accepts claimed is still there: a claim outside the measured interval
    /// at the decision's confidence is a drift, logged, audited and shown by `ratchet
    /// status` and the morning report.
    ///
    /// The base is built in each lane's reference slot once per run. Under bubblewrap that
    /// build goes beside the lane's next candidate's build (`buildSideBySide`), in every lane
    /// from the run's first check on, and the check is measured in the lane's next
    /// measurement turn, just before its candidate (`measureOwedDrift`): a check costs its
    /// pairs and nothing else. (A build of its own kept the lane from candidates for a whole
    /// build, test and measurement; measured between two candidates, the lane waited for the
    /// other lane's build and test to end before it could measure.) A lane that ends before
    /// then (no candidate left, a budget, a checkpoint, `--max-iterations`) builds the base
    /// when it must and measures the check as it ends. Without bubblewrap, or on Slurm, the
    /// check is built and measured when it falls due.
    func checkDrift(decided: Int) async throws {
        let every = config.metric.driftEvery
        guard every > 0 else { return }
        var due = owedDrift
        if decided > 0, decided % every == 0, let base = try? ObjectID(hex: loop.baseCommit) {
            _ = await adoptBest()
            if bestCommit.hex != loop.baseCommit, await coordinator.claimDriftCheck(at: decided, baseTree: try repository.tree(ofCommit: base)) {
                due = decided
            }
        }
        guard let due, let baseTree = coordinator.driftBaseTree else { return }
        let built = config.build == nil || referenceBuiltTree == baseTree
        if config.executor.kind != .slurm, built || (!referenceUnbuildable && executor.sandbox.bubblewrap != nil) {
            if owedDrift == nil {
                emit(
                    .note(
                        "drift check due: measured in this lane's next measurement turn" + (built ? "" : ", its base built beside the candidate")
                            + lanePrefix))
            }
            owedDrift = due
            return
        }
        owedDrift = nil
        try await measureDrift(at: due, base: baseTree)
    }

    /// The drift check this lane owes: in its measurement turn for a candidate once the base
    /// is built (beside that candidate, or before), or as the lane ends (`asLaneEnds`),
    /// building the base then when it must.
    func measureOwedDrift(asLaneEnds: Bool = false) async throws {
        guard let due = owedDrift, let baseTree = coordinator.driftBaseTree,
            asLaneEnds || config.build == nil || referenceBuiltTree == baseTree
        else { return }
        owedDrift = nil
        do {
            try await measureDrift(at: due, base: baseTree)
        } catch let broken as SealBroken {
            // The base's or the best's bench wrote where none may: not a candidate's doing.
            throw RunnerError(.baselineFailed, "the drift check of the original base against \(bestCommit.short): \(broken.message)")
        }
    }

    /// The original base did not build beside a candidate: a check this lane owes is skipped
    /// (as when the base's own build fails), and the base is not built beside again.
    func referenceDoesNotBuild(_ build: CommandResult) {
        referenceUnbuildable = true
        guard owedDrift != nil else { return }
        emit(.note("drift check skipped: the original base does not build (\(build.summary))" + lanePrefix))
        owedDrift = nil
    }

    /// Whether the lane's next build also builds the original base in the reference slot:
    /// once the run has had a drift check, until it is built.
    var referenceNeedsBuild: Bool {
        guard !referenceUnbuildable, let tree = coordinator.driftBaseTree else { return false }
        return referenceBuiltTree != tree
    }

    /// The reference slot, holding the original base.
    func madeReferenceSlot(_ baseTree: ObjectID) throws -> Slot {
        let reference = try referenceSlot ?? Slot(repository: repository, root: slotRoot + "/reference")
        referenceSlot = reference
        try sync(reference, to: baseTree)
        return reference
    }

    /// The drift check due at `decided` candidates, with the base built when it is not yet.
    func measureDrift(at decided: Int, base baseTree: ObjectID) async throws {
        _ = await adoptBest()
        guard bestCommit.hex != loop.baseCommit else { return }
        try await prepareBaseline()
        // Built outside the measurement lock, as any build (other lanes build beside it).
        let reference = try madeReferenceSlot(baseTree)
        if let build = config.build, referenceBuiltTree != baseTree {
            let result = try await runCommand(build, in: reference, role: "reference", phase: .build)
            if result.stopped { throw Interrupted(reason: options.stop.reason ?? "stopped") }
            guard result.succeeded else { return }
            referenceBuiltTree = baseTree
        }
        let wasMeasuring = measuring != nil
        try await enterMeasurement()
        defer { if !wasMeasuring { leaveMeasurement() } }
        let measuredPairs = try await interleavedPairs(
            (reference, "reference"), (baselineSlot, "baseline"), count: max(config.metric.decision.minPairs, 6), seed: UInt64(decided) &* 0xD1F7,
            step: nil)
        guard case .pairs(let pairs) = measuredPairs else { return }
        let claimed = try store.cumulativeImprovement(loop: config.name)
        guard
            let drift = DriftMeasurement.assess(
                pairs: pairs, direction: config.metric.decision.direction, confidence: config.metric.decision.confidence, claimed: claimed,
                tolerance: config.metric.decision.minEffect)
        else { return }
        let (measured, lower, upper, drifted) = (drift.measured, drift.lower, drift.upper, drift.drifted)
        try audit.append(
            loop: config.name, kind: "drift_check",
            [
                "measured": String(format: "%.4f", measured), "lower": String(format: "%.4f", lower), "upper": String(format: "%.4f", upper),
                "claimed": String(format: "%.4f", claimed), "pairs": String(pairs.count), "drifted": String(drifted),
            ])
        let level = Int((config.metric.decision.confidence * 100).rounded())
        let numbers =
            "the accepts claimed \(Format.percent(claimed)); the best measures \(Format.percent(measured)) "
            + "[\(Format.percent(lower)), \(Format.percent(upper)), \(level)%] against the original base now (\(pairs.count) pairs)"
        emit(
            .note(
                drifted
                    ? "DRIFT: " + numbers + ": the machine measures less than the accepts claimed, by more than min_effect"
                    : "drift check: " + numbers))
    }
}
