import Core
import Foundation
import Store

/// Fills a store with `count` candidates of one loop through the Store API, the writes the
/// Runner makes for each: insert, the proposal (diff, prompt, reply, usage), every step
/// started and finished (a failed step with its output), every sample, the decision, and for
/// accepted changes the human approval. Candidates are laid out as a nightly loop: 300 a
/// night, the newest night within the last day.
struct Generator {
    var store: Store
    var loop: String
    var count: Int
    var parentCommit: String

    /// What happened to candidate `n` (deterministic).
    enum Fate {
        case accepted, notBetter, inconclusive, buildFailed, testFailed, gate, interrupted

        init(_ n: Int) {
            var x = UInt64(n) &* 0x9E37_79B9_7F4A_7C15
            x ^= x >> 31
            switch Int(x % 1000) {
            case 0..<40: self = .accepted
            case 40..<640: self = .notBetter
            case 640..<790: self = .inconclusive
            case 790..<850: self = .buildFailed
            case 850..<950: self = .testFailed
            case 950..<990: self = .gate
            default: self = .interrupted
            }
        }
    }

    static let perNight = 300

    func createdAt(_ n: Int, now: Date) -> Date {
        let fromEnd = count - n
        let night = fromEnd / Self.perNight
        let slot = Self.perNight - 1 - fromEnd % Self.perNight
        return now.addingTimeInterval(-Double(night) * 86_400 - 10 * 3600 + Double(slot) * 60)
    }

    /// Writes everything; `progress` is called every 5 000 candidates.
    func run(progress: (Int) -> Void) throws {
        let now = Date()
        try store.save(
            LoopRecord(
                name: loop, repository: ".", baseRef: "main", baseCommit: parentCommit, bestCommit: parentCommit, configHash: "bench",
                status: .stopped, statusReason: "schedule window ended at 06:00", createdAt: createdAt(1, now: now)))
        var corpus = Corpus()
        let accepts = (1...count).filter { Fate($0) == .accepted }
        let pendingFrom = accepts.suffix(10).first ?? Int.max
        var run: RunRecord?
        for n in 1...count {
            if (count - n + 1) % Self.perNight == 0 || n == 1 {
                if let run { try store.finish(run, reason: "schedule window ended") }
                run = try store.startRun(loop: loop, pid: 4242)
            }
            let fate = Fate(n)
            let created = createdAt(n, now: now)
            var record = CandidateRecord(
                loop: loop, sequence: 0, proposer: "model", source: "model:\(n)", title: corpus.title(n), parentCommit: parentCommit)
            record.createdAt = created
            record = try store.insertCandidate(record)
            let id = record.id ?? 0
            let diff = corpus.diff(n)
            record.diff = diff
            record.prompt = corpus.prompt(n)
            record.response = corpus.response(n, diff: diff)
            record.inputTokens = 5200 + n % 400
            record.outputTokens = 600 + n % 90
            record.cost = 0.0213 + Double(n % 17) / 10_000
            record.linesChanged = 16
            record.paths = "src/f\(n % Corpus.fileCount).c"
            try store.update(record)

            let steps: [(Step, Bool)]
            switch fate {
            case .gate: steps = [(.apply, true), (.gate, false)]
            case .buildFailed: steps = [(.apply, true), (.gate, true), (.build, false)]
            case .testFailed: steps = [(.apply, true), (.gate, true), (.build, true), (.test, false)]
            case .interrupted: steps = [(.apply, true), (.gate, true), (.build, true)]
            default: steps = [(.apply, true), (.gate, true), (.build, true), (.test, true), (.measure, true)]
            }
            for (step, ok) in steps {
                var record = try store.startStep(step, candidate: id)
                record.status = ok ? .ok : .failed
                record.exitStatus = ok ? 0 : 1
                record.wallSeconds = 0.5 + Double(n % 13) / 10
                if !ok {
                    record.detail = "\(step.rawValue) failed (exit 1)"
                    record.output = String(
                        repeating: "src/f\(n % 6).c:\(n % 75): error: use of undeclared identifier 'v\(n % 6)_\(n % 75)'\n", count: 24)
                }
                try store.finish(record)
            }

            let pairs: Int
            switch fate {
            case .accepted: pairs = 6
            case .notBetter: pairs = 3
            case .inconclusive: pairs = 10
            default: pairs = 0
            }
            if pairs > 0 {
                for pair in -1..<pairs {
                    for (position, arm) in (pair % 2 == 0 ? [Arm.baseline, .candidate] : [.candidate, .baseline]).enumerated().map({
                        ($0.offset, $0.element)
                    }) {
                        let value = corpus.best * (arm == .baseline ? 1 : 0.99) * (1 + Double((n + pair * 3 + position) % 11) / 500)
                        try store.add(
                            SampleRecord(
                                candidateId: id, pair: max(pair, 0), arm: arm, position: position, value: value, wallSeconds: value / 1000,
                                warmup: pair < 0))
                    }
                }
            }

            let (outcome, rejection, reason): (Outcome, RejectionKind?, String)
            switch fate {
            case .accepted: (outcome, rejection, reason) = (.accepted, nil, "better: -3.8% [-5.1%, -3.2%] over 6 pairs")
            case .notBetter: (outcome, rejection, reason) = (.rejected, .notBetter, "not better: -0.4% [-1.2%, +0.5%] (needs -3.0%)")
            case .inconclusive: (outcome, rejection, reason) = (.inconclusive, .inconclusive, "inconclusive after 10 pairs: -1.9% [-3.6%, -0.2%]")
            case .buildFailed: (outcome, rejection, reason) = (.rejected, .buildFailed, "build failed (exit 1)")
            case .testFailed: (outcome, rejection, reason) = (.rejected, .testFailed, "tests failed (exit 1)")
            case .gate: (outcome, rejection, reason) = (.rejected, .gate, "gate: the diff touches tests/ (outside the scope)")
            case .interrupted: (outcome, rejection, reason) = (.interrupted, .interrupted, "stopped at step 'build'; it will be proposed again")
            }
            if outcome == .accepted { try record.advance(to: .running(.decide)) }
            try record.advance(to: .finished(outcome))
            record.rejection = rejection
            record.reason = reason
            if pairs > 0 {
                record.pairs = pairs
                record.estimate = fate == .accepted ? 0.038 : fate == .notBetter ? 0.004 : 0.019
                record.lower = (record.estimate ?? 0) - 0.01
                record.upper = (record.estimate ?? 0) + 0.01
                record.threshold = 0.03
            }
            record.finishedAt = created.addingTimeInterval(50)
            if fate == .accepted {
                record.commit = String(format: "%040x", n)
                record.review = n >= pendingFrom ? .pending : .approved
                if n == accepts.last { record.checkpoint = "accepts_since_review: 10 accepted changes wait for review" }
            }
            try store.update(record)
            if fate == .accepted && n < pendingFrom {
                var approval = ApprovalRecord(candidateId: id, loop: loop, decision: .approved, actor: "ada", note: nil)
                approval.createdAt = created.addingTimeInterval(3600)
                _ = try store.add(approval)
            }
            corpus.record(n, outcome: outcome.rawValue, reason: reason, accepted: fate == .accepted)
            if n % 5000 == 0 { progress(n) }
        }
        if let run { try store.finish(run, reason: "schedule window ended") }
    }
}
