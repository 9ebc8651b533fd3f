import Core
import Execution
import Foundation
import Git
import Store

extension LoopRunner {
    enum Measured {
        case decided(DecisionReport)
        case failed(String)
    }

    enum BenchRun {
        case value(Double, wall: Double)
        /// Paused while running: the sample is not clean and is run again.
        case spoiled(Double, wall: Double)
        case failed(String)
    }

    /// One benchmark run in `slot`, reduced to the metric's value.
    func benchOnce(_ slot: Slot, role: String, step: StepRecord) async throws -> BenchRun {
        var metricFile: String?
        switch config.metric.source {
        case .json(_, let file?): metricFile = file
        case .hyperfine(let file): metricFile = file
        default: break
        }
        if let metricFile { unlink(slot.directory + "/" + metricFile) }
        let result = try await runCommand(config.bench, in: slot, role: role, step: step)
        if result.stopped { throw Interrupted(reason: options.stop.reason ?? "stopped") }
        guard result.succeeded else {
            return .failed("\(role) benchmark failed (\(result.summary)): \(result.tail(lines: 5))")
        }
        let fileText = metricFile.flatMap { FileManager.default.contents(atPath: slot.directory + "/" + $0) }.map { String(decoding: $0, as: UTF8.self) }
        do {
            let value = try MetricExtractor.value(source: config.metric.source, wallSeconds: result.wallSeconds, output: result.output, file: fileText)
            return result.wasPaused ? .spoiled(value, wall: result.wallSeconds) : .value(value, wall: result.wallSeconds)
        } catch {
            return .failed("\(role) benchmark: \(error.message)")
        }
    }

    /// Interleaved baseline/candidate runs, in random order within each pair, until the
    /// decision rule stops. Every run is stored as a sample; a pair with a run that spanned
    /// a pause is stored as discarded and measured again.
    func measure(_ candidate: inout CandidateRecord, step: StepRecord) async throws -> Measured {
        let policy = config.metric.decision
        let decision = SequentialDecision(policy: policy)
        var rng = SplitMix64(seed: config.seed ^ UInt64(bitPattern: candidate.id ?? 0) &* 0x9E37_79B9)
        let id = candidate.id ?? 0
        let arms: [(name: String, slot: Slot)] = [("baseline", baselineSlot), ("candidate", candidateSlot)]

        var warm = 0
        while warm < config.metric.warmup {
            for (position, arm) in arms.enumerated() {
                switch try await benchOnce(arm.slot, role: arm.name, step: step) {
                case .failed(let reason): return .failed(reason)
                case .value(let value, let wall), .spoiled(let value, let wall):
                    try store.add(SampleRecord(candidateId: id, pair: warm, arm: arm.name, position: position, value: value, wallSeconds: wall, warmup: true))
                }
            }
            warm += 1
        }
        var pairs: [SamplePair] = []
        var attempts = 0
        while pairs.count < policy.maxPairs && attempts < policy.maxPairs * 3 {
            attempts += 1
            if let reason = try await safePoint() { throw Interrupted(reason: reason) }
            let order = rng.next() & 1 == 0 ? [0, 1] : [1, 0]
            var values = [0.0, 0.0]
            var runs: [(arm: Int, position: Int, value: Double, wall: Double)] = []
            var spoiled = false
            for (position, armIndex) in order.enumerated() {
                let arm = arms[armIndex]
                switch try await benchOnce(arm.slot, role: arm.name, step: step) {
                case .failed(let reason): return .failed(reason)
                case .value(let value, let wall):
                    values[armIndex] = value
                    runs.append((armIndex, position, value, wall))
                case .spoiled(let value, let wall):
                    spoiled = true
                    runs.append((armIndex, position, value, wall))
                }
            }
            let pairIndex = pairs.count
            for run in runs {
                try store.add(
                    SampleRecord(
                        candidateId: id, pair: pairIndex, arm: arms[run.arm].name, position: run.position, value: run.value, wallSeconds: run.wall,
                        warmup: spoiled))
            }
            if spoiled {
                emit(.note("pair spanned a pause: discarded, measuring again"))
                continue
            }
            pairs.append(SamplePair(baseline: values[0], candidate: values[1]))
            let report: DecisionReport
            do {
                report = try decision.evaluate(pairs)
            } catch {
                return .failed("benchmark values cannot be compared: \(error)")
            }
            emit(.sample(sequence: candidate.sequence, pair: pairs.count, baseline: values[0], candidate: values[1], estimate: pairs.count >= 2 ? report.estimate : nil))
            if report.verdict != .needMore { return .decided(report) }
        }
        do {
            return .decided(try decision.evaluate(pairs))
        } catch {
            return .failed("benchmark values cannot be compared: \(error)")
        }
    }
}
