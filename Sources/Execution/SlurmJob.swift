/// A Slurm job id, as `sbatch` prints it.
public struct SlurmJobID: RawRepresentable, Hashable, Sendable, Codable, CustomStringConvertible {
    public var rawValue: UInt64
    public init(rawValue: UInt64) { self.rawValue = rawValue }
    public var description: String { String(rawValue) }
}

/// How a batch job is submitted: the `sbatch` options Ratchet sets.
public struct SlurmOptions: Sendable, Equatable {
    /// `--partition`; `nil`: the cluster's default partition.
    public var partition: String?
    /// `--account`.
    public var account: String?
    /// `--time`. Slurm counts time limits in whole minutes, so this is rounded up to one.
    public var timeLimit: Duration?
    /// `--constraint`: node features the job needs (`"avx512&fast"`).
    public var constraint: String?
    /// `--exclusive`: no other job shares the nodes, so a measurement is not disturbed.
    public var exclusive: Bool
    /// `--output` and `--error`; `nil`: Slurm's default (`slurm-<id>.out` in the working folder).
    public var outputPath: String?
    public var errorPath: String?
    /// `--chdir`, and where `sbatch` runs; `nil`: this process's current folder.
    public var workingDirectory: String?
    /// More `sbatch` arguments, passed as they are after Ratchet's own (`["--mem=4G"]`).
    public var extraArguments: [String]

    public init(
        partition: String? = nil,
        account: String? = nil,
        timeLimit: Duration? = nil,
        constraint: String? = nil,
        exclusive: Bool = true,
        outputPath: String? = nil,
        errorPath: String? = nil,
        workingDirectory: String? = nil,
        extraArguments: [String] = []
    ) {
        self.partition = partition
        self.account = account
        self.timeLimit = timeLimit
        self.constraint = constraint
        self.exclusive = exclusive
        self.outputPath = outputPath
        self.errorPath = errorPath
        self.workingDirectory = workingDirectory
        self.extraArguments = extraArguments
    }
}

/// How a job ended, from the controller's record.
public struct SlurmJobEnd: Sendable, Equatable {
    /// Slurm's final job states.
    public enum State: String, Sendable, CaseIterable {
        case completed = "COMPLETED"
        case failed = "FAILED"
        case cancelled = "CANCELLED"
        case timeout = "TIMEOUT"
        /// The job's node failed or was lost: the job was interrupted, not judged.
        case nodeFail = "NODE_FAIL"
        case preempted = "PREEMPTED"
        case outOfMemory = "OUT_OF_MEMORY"
        case bootFail = "BOOT_FAIL"
        case deadline = "DEADLINE"
        case revoked = "REVOKED"
    }

    public var state: State
    /// The batch script's exit status (the first half of Slurm's `ExitCode=status:signal`).
    public var exitStatus: Int32
    /// The signal that ended it, or 0.
    public var signal: Int32
    /// The nodes it ran on (Slurm's host list syntax, `node[01-04]`); empty when it never ran.
    public var nodes: String
    /// Slurm's `Reason` (`NonZeroExitCode`, `TimeLimit`), empty for none.
    public var reason: String
}

/// Where a job stands, from `scontrol show job`.
public enum SlurmJobState: Sendable, Equatable {
    /// Waiting for resources or held; `reason` is Slurm's (`Priority`, `Resources`).
    case pending(reason: String)
    /// Running (or finishing: Slurm's COMPLETING, before the final state is known).
    case running(nodes: String)
    /// Stopped by `scontrol suspend` (or SIGSTOP); still holds its nodes.
    case suspended(nodes: String)
    case finished(SlurmJobEnd)
    /// A state this client does not interpret; treated as not finished.
    case other(state: String, reason: String)
    /// The controller has no record of the job: never submitted to this cluster, or purged
    /// `MinJobAge` seconds after it ended.
    case unknown

    public var isFinished: Bool {
        if case .finished = self { return true }
        return false
    }
}

extension SlurmJobState: CustomStringConvertible {
    /// `pending (Priority)`, `running on node01`, `FAILED (exit 3) on node01`.
    public var description: String {
        func on(_ nodes: String) -> String { nodes.isEmpty ? "" : " on \(nodes)" }
        switch self {
        case .pending(let reason): return reason.isEmpty ? "pending" : "pending (\(reason))"
        case .running(let nodes): return "running" + on(nodes)
        case .suspended(let nodes): return "suspended" + on(nodes)
        case .finished(let end):
            let how = end.signal != 0 ? "signal \(end.signal)" : "exit \(end.exitStatus)"
            return "\(end.state.rawValue) (\(how))" + on(end.nodes)
        case .other(let state, let reason): return reason.isEmpty ? state : "\(state) (\(reason))"
        case .unknown: return "unknown to slurmctld"
        }
    }
}
