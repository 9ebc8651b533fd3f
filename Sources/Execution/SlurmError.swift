/// A Slurm command that could not run or that Slurm refused, with what to do about it.
public struct SlurmError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Code: String, Sendable {
        /// A client command is not installed.
        case notInstalled
        /// slurmctld did not answer (down, wrong host or port, firewall).
        case unreachable
        /// munge could not sign or check the request (munged not running, different keys).
        case authentication
        /// No usable slurm.conf (SLURM_CONF unset or wrong, no DNS SRV record).
        case configuration
        /// Slurm refused the request (bad partition, account, limits).
        case rejected
        /// The controller does not know the job.
        case unknownJob
        /// The job is not in a state that allows the request (suspending a pending job).
        case wrongState
        /// A command, or a wait, ran past its time limit.
        case timedOut
        /// The wait was cancelled; the job itself was left as it is.
        case cancelled
        /// A Slurm command printed something this client cannot read.
        case unexpectedOutput
        /// The request itself is invalid (a job name with spaces), or a local file failed.
        case invalidArgument
    }

    public var code: Code
    /// The command line, when a command ran.
    public var command: String
    public var exitStatus: Int32?
    /// The command's standard error (capped), as Slurm printed it.
    public var standardError: String
    /// What failed and what the user can do.
    public var message: String

    public init(_ code: Code, message: String, command: String = "", exitStatus: Int32? = nil, standardError: String = "") {
        self.code = code
        self.message = message
        self.command = command
        self.exitStatus = exitStatus
        self.standardError = standardError
    }

    public var description: String {
        guard !command.isEmpty else { return message }
        let status = exitStatus.map { "exited \($0)" } ?? "did not finish"
        return "\(message) [`\(command)` \(status)]"
    }
}
