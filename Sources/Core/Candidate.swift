/// The steps of one candidate, in order.
public enum Step: String, Sendable, Codable, CaseIterable, Comparable {
    case propose, apply, gate, build, test
    /// The `validate` command: the candidate's results against the best's. (Stores written
    /// before this step existed recorded it as `test`.)
    case validate
    case measure, decide

    public static func < (a: Step, b: Step) -> Bool {
        (allCases.firstIndex(of: a) ?? 0) < (allCases.firstIndex(of: b) ?? 0)
    }
}

/// How a candidate ended.
public enum Outcome: String, Sendable, Codable, CaseIterable {
    /// Correct and measurably better: committed on the loop branch.
    case accepted
    /// Failed a step or was measurably not better enough.
    case rejected
    /// The measurements could not tell within the run cap.
    case inconclusive
    /// The run stopped (crash, signal) before the candidate was decided.
    case interrupted
}

/// Why a candidate was rejected, for grouping in logs and reports.
public enum RejectionKind: String, Sendable, Codable, CaseIterable {
    case proposerFailed = "proposer_failed"
    case invalidDiff = "invalid_diff"
    case applyFailed = "apply_failed"
    case gate
    case buildFailed = "build_failed"
    case testFailed = "test_failed"
    case benchFailed = "bench_failed"
    case notBetter = "not_better"
    case inconclusive
    case interrupted
    /// The `validate` command failed: the candidate's results differ from the best's.
    case validateFailed = "validate_failed"
    /// The bench output differs from the best's (`outputs_must_match`).
    case outputMismatch = "output_mismatch"
    /// A constraint metric got worse than its limit.
    case constraint
    /// A command the candidate ran wrote where it may not: an evaluator file, a tracked
    /// file, or the other slot (sealed evaluation).
    case runTimeWrite = "run_time_write"
    /// Another candidate in flight was accepted first, and this one's diff no longer
    /// applies on top of it (`[parallel] candidates` > 1).
    case conflict
}

/// A candidate's lifecycle: a step in progress, or finished with an outcome.
///
/// Transitions only go forward, one step at a time (a candidate may skip `build` or `test`
/// when the loop has no such command), and a finished candidate never changes again. One
/// way back: a candidate not yet decided whose best moved (another lane accepted first,
/// before its measurement or, with measurements side by side on their own cores, during it)
/// returns to `apply`, to go onto the new best and be built, tested and measured again.
///
/// Stored, and written in JSON, as its `label`: the step's or the outcome's name.
public enum CandidateState: Sendable, Equatable, Hashable {
    case running(Step)
    case finished(Outcome)

    public struct InvalidTransition: Error, Sendable, Equatable, CustomStringConvertible {
        public var from: CandidateState
        public var to: CandidateState
        public var description: String { "candidate cannot go from \(from.label) to \(to.label)" }
    }

    /// The step's or the outcome's name (`measure`, `accepted`).
    public var label: String {
        switch self {
        case .running(let step): step.rawValue
        case .finished(let outcome): outcome.rawValue
        }
    }

    /// The state named `label`, or `nil` for a name that is neither a step nor an outcome.
    public init?(label: String) {
        if let outcome = Outcome(rawValue: label) {
            self = .finished(outcome)
        } else if let step = Step(rawValue: label) {
            self = .running(step)
        } else {
            return nil
        }
    }

    public var isFinished: Bool {
        if case .finished = self { return true }
        return false
    }

    /// The outcome, once finished.
    public var outcome: Outcome? {
        if case .finished(let outcome) = self { return outcome }
        return nil
    }

    /// The state after moving to `next`, or an error for a transition that is not allowed.
    public func advanced(to next: CandidateState) throws(InvalidTransition) -> CandidateState {
        switch (self, next) {
        case (.running(let current), .running(let step)) where step > current:
            return next
        case (.running(let current), .running(.apply)) where current > .apply && current <= .measure:
            // Rebased: the best moved before the measurement began, or during it.
            return next
        case (.running(.decide), .finished(.accepted)):
            return next
        case (.running, .finished(let outcome)) where outcome != .accepted:
            return next
        default:
            throw InvalidTransition(from: self, to: next)
        }
    }
}

extension CandidateState: Codable {
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let label = try container.decode(String.self)
        guard let state = CandidateState(label: label) else {
            throw DecodingError.dataCorruptedError(
                in: container, debugDescription: "'\(label)' is not a candidate state (a step or an outcome name)")
        }
        self = state
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(label)
    }
}
