/// Where a benchmark's number comes from.
public enum MetricSource: Sendable, Equatable, Codable {
    /// Wall-clock seconds of the `bench` command.
    case wallTime
    /// The first capture group of a regular expression over the command's standard output.
    case regex(pattern: String)
    /// A JSON path (`a.b[0].c`) into standard output, or into `file` (relative to the slot) when set.
    case json(path: String, file: String?)
    /// The mean of the first result in a hyperfine `--export-json` file (relative to the slot).
    case hyperfine(file: String)
    /// Instructions executed, counted by `valgrind --tool=callgrind` (the bench command runs
    /// under it): deterministic, unaffected by other load on the machine.
    case callgrind
    /// Peak resident memory of the bench command, in bytes (rusage).
    case peakMemory

    public var name: String {
        switch self {
        case .wallTime: "wall_time"
        case .regex: "regex"
        case .json: "json"
        case .hyperfine: "hyperfine"
        case .callgrind: "callgrind"
        case .peakMemory: "peak_memory"
        }
    }
}

/// A metric that must not get worse by more than a limit (e.g. optimise time, but reject any
/// candidate that uses more than 5% more memory). Measured on the same runs as the objective.
public struct ConstraintSpec: Sendable, Equatable, Codable {
    public var name: String
    public var source: MetricSource
    public var direction: Direction
    /// Largest relative regression allowed, e.g. 0.05.
    public var maxRegression: Double

    public init(name: String, source: MetricSource, direction: Direction, maxRegression: Double) {
        self.name = name
        self.source = source
        self.direction = direction
        self.maxRegression = maxRegression
    }
}

/// What a confirmation round measures (`[metric] confirm_with`).
public enum ConfirmMetric: String, Sendable, Equatable, Codable, CaseIterable {
    /// The objective again, against the minimum effect.
    case same
    /// The bench command's wall time, run plainly (not under callgrind or GNU time),
    /// against a minimum of 0: the candidate must really be faster.
    case wallTime = "wall_time"
}

/// `[metric]`: what is measured and how a decision is made.
public struct MetricSpec: Sendable, Equatable, Codable {
    public var source: MetricSource
    public var decision: DecisionPolicy
    /// Runs of each side discarded before the first measured pair.
    public var warmup: Int
    /// Pairs of an A/A run (the best built in both slots, measured against itself) once per
    /// best commit; the minimum effect is raised to the slot bias they show (see
    /// `SequentialDecision.noiseFloor`). 0 turns it off.
    public var aaPairs: Int = 10
    /// Before an accept is committed, a fresh round against the best must agree.
    public var confirm: Bool = true
    /// The confirmation round's confidence. The false-accept bound comes from the first
    /// round (`decision.confidence`); the fresh round guards against the winner's curse on
    /// top of it, so it can be looser: the default is the smaller of 0.9 and the decision's.
    public var confirmConfidence: Double?

    /// `confirmConfidence`, or its default.
    public var effectiveConfirmConfidence: Double { confirmConfidence ?? min(0.9, decision.confidence) }
    /// What the confirmation round measures: the objective again (`same`), or the bench
    /// command's plain wall time (`wallTime`), which must then show the candidate faster at
    /// the decision's confidence. The default for an instruction count (`callgrind`) is
    /// wall time: count instructions to decide, time the plain command to confirm.
    public var confirmWith: ConfirmMetric = .same
    /// Every this many candidates, the original base is measured against the best again to
    /// catch drift in the machine or the measurements. 0 turns it off.
    public var driftEvery: Int = 10
    /// Reject a candidate whose bench output differs from the best's (lines matching
    /// `matchIgnore`, and the metric's own pattern, are left out of the comparison).
    public var outputsMustMatch: Bool = false
    public var matchIgnore: String?
    public var constraints: [ConstraintSpec] = []

    public init(source: MetricSource, decision: DecisionPolicy, warmup: Int) {
        self.source = source
        self.decision = decision
        self.warmup = warmup
    }

    /// Whether the bench command must run under callgrind.
    public var needsCallgrind: Bool {
        source == .callgrind || constraints.contains { $0.source == .callgrind }
    }
}
