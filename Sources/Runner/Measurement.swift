import Core
import Execution
import Foundation
import Git
import Store

extension LoopRunner {
    enum Measured {
        case decided(DecisionReport)
        case failed(String)
        case interrupted
    }

    /// One benchmark run in `slot`, reduced to the metric's value.
    func benchOnce(_ slot: Slot, role: String) async throws -> Result<(value: Double, wall: Double), MetricError> {
        var metricFile: String?
        switch config.metric.source {
        case .json(_, let file?): metricFile = file
        case .hyperfine(let file): metricFile = file
        default: break
        }
        if let metricFile { unlink(slot.directory + "/" + metricFile) }
        let result = try await runCommand(config.bench, in: slot, role: role)
        guard result.succeeded else {
            return .failure(MetricError("\(role) benchmark failed (\(result.summary)): \(result.tail(lines: 5))"))
        }
        let fileText = metricFile.flatMap { FileManager.default.contents(atPath: slot.directory + "/" + $0) }.map { String(decoding: $0, as: UTF8.self) }
        do {
            let value = try MetricExtractor.value(source: config.metric.source, wallSeconds: result.wallSeconds, output: result.output, file: fileText)
            return .success((value, result.wallSeconds))
        } catch {
            return .failure(MetricError("\(role) benchmark: \(error.message)"))
        }
    }

    /// Interleaved baseline/candidate runs, in random order within each pair, until the
    /// decision rule stops. Every run is stored as a sample.
    func measure(_ candidate: inout CandidateRecord) async throws -> Measured {
        let policy = config.metric.decision
        let decision = SequentialDecision(policy: policy)
        var rng = SplitMix64(seed: config.seed ^ UInt64(bitPattern: candidate.id ?? 0) &* 0x9E37_79B9)
        let id = candidate.id ?? 0
        let arms: [(name: String, slot: Slot)] = [("baseline", baselineSlot), ("candidate", candidateSlot)]

        for warm in 0..<config.metric.warmup {
            for (position, arm) in arms.enumerated() {
                if options.stop.isSet { return .interrupted }
                switch try await benchOnce(arm.slot, role: arm.name) {
                case .failure(let error): return .failed(error.message)
                case .success(let run):
                    try store.add(SampleRecord(candidateId: id, pair: warm, arm: arm.name, position: position, value: run.value, wallSeconds: run.wall, warmup: true))
                }
            }
        }
        var pairs: [SamplePair] = []
        for pairIndex in 0..<policy.maxPairs {
            let order = rng.next() & 1 == 0 ? [0, 1] : [1, 0]
            var values = [0.0, 0.0]
            for (position, armIndex) in order.enumerated() {
                if options.stop.isSet { return .interrupted }
                let arm = arms[armIndex]
                switch try await benchOnce(arm.slot, role: arm.name) {
                case .failure(let error): return .failed(error.message)
                case .success(let run):
                    values[armIndex] = run.value
                    try store.add(SampleRecord(candidateId: id, pair: pairIndex, arm: arm.name, position: position, value: run.value, wallSeconds: run.wall, warmup: false))
                }
            }
            pairs.append(SamplePair(baseline: values[0], candidate: values[1]))
            let report: DecisionReport
            do {
                report = try decision.evaluate(pairs)
            } catch {
                return .failed("benchmark values cannot be compared: \(error)")
            }
            emit(.sample(sequence: candidate.sequence, pair: pairIndex + 1, baseline: values[0], candidate: values[1], estimate: pairs.count >= 2 ? report.estimate : nil))
            if report.verdict != .needMore { return .decided(report) }
        }
        // Unreachable with a valid policy (the rule decides at maxPairs), but stay safe.
        let final = try decision.evaluate(pairs)
        return .decided(final)
    }
}
