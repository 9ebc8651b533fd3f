import Core

/// Why a run of a loop stopped: the status its row records, and why in words.
public enum StopReason: Sendable, Equatable, CustomStringConvertible {
    /// Stopped from outside: a signal, `--max-iterations`, a schedule window's end.
    case stopped(String)
    /// An accepted change holds the loop at a checkpoint until a human reviews it.
    case waiting(String)
    /// A budget tripped.
    case budget(String)
    /// Every proposer had nothing left to propose.
    case exhausted(String)
    /// An error stopped the loop.
    case failed(RunnerError)

    /// The loop status this ending records.
    public var status: LoopStatus {
        switch self {
        case .stopped: .stopped
        case .waiting: .waiting
        case .budget: .budget
        case .exhausted: .exhausted
        case .failed: .failed
        }
    }

    public var message: String {
        switch self {
        case .stopped(let text), .waiting(let text), .budget(let text), .exhausted(let text): text
        case .failed(let error): error.message
        }
    }

    public var description: String { "\(status.rawValue): \(message)" }

    /// Which ending the run reports when lanes end differently: a failure, then a human
    /// checkpoint, a stop, a budget, and last a proposer with nothing left.
    var rank: Int {
        switch self {
        case .failed: 0
        case .waiting: 1
        case .stopped: 2
        case .budget: 3
        case .exhausted: 4
        }
    }

    /// Whether the other lanes must stop now (they are interrupted, and proposed again later).
    var stopsOthers: Bool {
        switch self {
        case .failed, .waiting: true
        case .stopped, .budget, .exhausted: false
        }
    }
}
