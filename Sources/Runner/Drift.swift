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
    func checkDrift(decided: Int) async throws {
        let every = config.metric.driftEvery
        guard every > 0, decided > 0, decided % every == 0, let base = try? ObjectID(hex: loop.baseCommit) else { return }
        _ = await adoptBest()
        guard bestCommit.hex != loop.baseCommit, await coordinator.claimDriftCheck(at: decided) else { return }
        try await prepareBaseline()
        // The base is built outside the measurement lock, as any build (other lanes build
        // beside it), and once per run: a later check finds it built.
        let reference = try referenceSlot ?? Slot(repository: repository, root: slotRoot + "/reference")
        referenceSlot = reference
        let baseTree = try repository.tree(ofCommit: base)
        try sync(reference, to: baseTree)
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
                pairs: pairs, direction: config.metric.decision.direction, confidence: config.metric.decision.confidence, claimed: claimed)
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
        emit(.note(drifted ? "DRIFT: " + numbers + ": the claimed improvement is not what the machine measures now" : "drift check: " + numbers))
    }
}
