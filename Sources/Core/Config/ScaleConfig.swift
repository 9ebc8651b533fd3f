import TOMLKit

/// `[parallel]`: how many candidates are in flight at once, and how their measurements
/// share the machine.
///
/// Builds and tests of candidates in flight run at once. Measurements never share the
/// machine unless the user says they may: by default a machine-wide measurement lock (one
/// lock per core, in `lock_dir`) serialises every measurement of every loop on the machine,
/// and no build or test (of any loop using the same `lock_dir`) runs while one measures.
public struct ParallelSpec: Sendable, Equatable, Codable {
    /// Candidates in flight at once (the lanes).
    public var candidates: Int
    /// Pins each measurement to its own `K` cores; measurements on disjoint cores run at
    /// once. `nil`: a measurement takes the whole machine.
    public var cpusPerMeasurement: Int?
    /// Lets builds and tests run while a measurement does (more throughput, more noise).
    public var overlapBuilds: Bool
    /// Where the machine-wide locks live; every loop that uses the same folder coordinates.
    public var lockDirectory: String

    /// The folder every Ratchet on this machine uses unless told otherwise.
    public static let defaultLockDirectory = "/tmp/ratchet-locks"

    public init(candidates: Int = 1, cpusPerMeasurement: Int? = nil, overlapBuilds: Bool = false, lockDirectory: String = Self.defaultLockDirectory) {
        self.candidates = candidates
        self.cpusPerMeasurement = cpusPerMeasurement
        self.overlapBuilds = overlapBuilds
        self.lockDirectory = lockDirectory
    }
}

/// `[executor]`: where a candidate's build, test and measurement run.
public struct ExecutorSpec: Sendable, Equatable, Codable {
    public enum Kind: String, Sendable, Codable {
        /// Slots on this machine.
        case local
        /// One Slurm job per candidate, running `ratchet worker` on a node.
        case slurm
    }

    public var kind: Kind
    public var partition: String?
    public var account: String?
    /// `sbatch --time`, e.g. `"00:30:00"`.
    public var time: String?
    public var constraint: String?
    /// `sbatch --exclusive`: the node measures nothing else meanwhile.
    public var exclusive: Bool
    /// More `sbatch` arguments, as written.
    public var sbatchArguments: [String]
    /// A folder every node can read and write, for job bundles and results; `nil`: the
    /// state folder (a single machine, or a state folder on a shared file system).
    public var sharedDirectory: String?
    /// The `slurm.conf` the Slurm commands read (`SLURM_CONF`); `nil`: Slurm's default.
    public var slurmConf: String?
    /// The `ratchet` a job runs on its node; `nil`: this one (the same path on every node).
    public var worker: String?

    public init(
        kind: Kind = .local, partition: String? = nil, account: String? = nil, time: String? = nil, constraint: String? = nil,
        exclusive: Bool = true, sbatchArguments: [String] = [], sharedDirectory: String? = nil
    ) {
        self.kind = kind
        self.partition = partition
        self.account = account
        self.time = time
        self.constraint = constraint
        self.exclusive = exclusive
        self.sbatchArguments = sbatchArguments
        self.sharedDirectory = sharedDirectory
    }
}

extension ConfigReader {
    mutating func parallel(_ table: TOMLTable?, directory: String) -> ParallelSpec {
        var spec = ParallelSpec()
        guard let table else { return spec }
        let path = "parallel"
        checkKeys(table, at: path, allowed: ["candidates", "cpus_per_measurement", "overlap_builds", "lock_dir"])
        spec.candidates = integer(table, "candidates", at: path, range: 1...64) ?? 1
        spec.cpusPerMeasurement = integer(table, "cpus_per_measurement", at: path, range: 1...4096)
        spec.overlapBuilds = boolean(table, "overlap_builds", at: path) ?? false
        if let folder = string(table, "lock_dir", at: path, required: false) {
            if folder.isEmpty {
                problem("parallel.lock_dir", "must not be empty")
            } else {
                spec.lockDirectory = Paths.resolve(folder, from: directory)
            }
        }
        return spec
    }

    mutating func executor(_ table: TOMLTable?, directory: String) -> ExecutorSpec {
        var spec = ExecutorSpec()
        guard let table else { return spec }
        let path = "executor"
        checkKeys(
            table, at: path,
            allowed: ["kind", "partition", "account", "time", "constraint", "exclusive", "sbatch_args", "shared_dir", "slurm_conf", "worker"])
        if let kind = string(table, "kind", at: path, required: false) {
            if let parsed = ExecutorSpec.Kind(rawValue: kind) {
                spec.kind = parsed
            } else {
                problem("executor.kind", "'\(kind)' is not allowed; use \"local\" or \"slurm\"")
            }
        }
        spec.partition = string(table, "partition", at: path, required: false)
        spec.account = string(table, "account", at: path, required: false)
        spec.time = string(table, "time", at: path, required: false)
        if let time = spec.time, !Self.isSlurmTime(time) {
            problem("executor.time", "'\(time)' is not a Slurm time limit; write minutes (\"30\"), \"HH:MM:SS\" or \"D-HH:MM:SS\"")
        }
        spec.constraint = string(table, "constraint", at: path, required: false)
        spec.exclusive = boolean(table, "exclusive", at: path) ?? true
        spec.sbatchArguments = strings(table, "sbatch_args", at: path) ?? []
        spec.sharedDirectory = string(table, "shared_dir", at: path, required: false)
        if let shared = spec.sharedDirectory, !shared.hasPrefix("/") {
            problem("executor.shared_dir", "'\(shared)' must be an absolute path every node sees the same way")
        }
        spec.slurmConf = string(table, "slurm_conf", at: path, required: false).map { Paths.resolve($0, from: directory) }
        spec.worker = string(table, "worker", at: path, required: false).map { Paths.resolve($0, from: directory) }
        if spec.kind == .local {
            for key in ["partition", "account", "time", "constraint", "sbatch_args", "shared_dir", "slurm_conf", "worker"] where table[key] != nil {
                problem("executor.\(key)", "applies only to kind = \"slurm\"")
            }
        }
        return spec
    }

    /// Minutes, `MM:SS`, `HH:MM:SS`, `D-HH`, `D-HH:MM` or `D-HH:MM:SS`.
    static func isSlurmTime(_ text: String) -> Bool {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard (1...2).contains(parts.count) else { return false }
        let numbers = { (part: Substring) in
            !part.isEmpty
                && part.split(separator: ":", omittingEmptySubsequences: false).allSatisfy {
                    !$0.isEmpty && $0.allSatisfy(\.isASCII) && Int($0) != nil
                }
        }
        guard parts.allSatisfy(numbers) else { return false }
        let clock = parts[parts.count - 1].split(separator: ":").count
        return parts.count == 1 ? clock <= 3 : clock <= 3 && parts[0].split(separator: ":").count == 1
    }
}
