import Foundation

/// Runs Slurm's client commands (`sbatch`, `scontrol`, `scancel`) against one cluster.
///
/// Each call runs the command as a child process, in its own process group and with a time
/// limit (Slurm's commands retry for many seconds when the controller is down). Jobs are
/// submitted as bash scripts and read back with `scontrol show job`, so the client needs only
/// the client commands, a slurm.conf (or `SLURM_CONF`) and munge.
public struct SlurmClient: Sendable {
    /// What every command gets on top of Ratchet's small default environment (`SLURM_CONF`).
    public let environment: [String: String]
    public let sbatch: String
    public let scontrol: String
    public let scancel: String
    /// The longest any one command may take.
    public var commandTimeout: Duration

    /// Finds the client commands on `PATH` (the environment's, else this process's).
    /// - Throws: `SlurmError` `.notInstalled` naming the missing command and its package;
    ///   `.configuration` when `SLURM_CONF` names no file (Slurm would hang looking for the
    ///   cluster in DNS instead).
    public init(environment: [String: String] = [:], commandTimeout: Duration = .seconds(30)) throws(SlurmError) {
        self.environment = environment
        self.commandTimeout = commandTimeout
        if let conf = environment["SLURM_CONF"], !FileManager.default.fileExists(atPath: conf) {
            throw SlurmError(.configuration, message: "SLURM_CONF=\(conf) does not exist: point it at the cluster's slurm.conf")
        }
        let path = environment["PATH"] ?? ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        func find(_ name: String) throws(SlurmError) -> String {
            for folder in path.split(separator: ":") where !folder.isEmpty {
                let candidate = "\(folder)/\(name)"
                if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
            }
            throw SlurmError(.notInstalled, message: "\(name) is not installed (not on PATH \(path)): apt-get install slurm-client")
        }
        sbatch = try find("sbatch")
        scontrol = try find("scontrol")
        scancel = try find("scancel")
    }

    // MARK: Jobs

    /// Submits `script` (bash; `#!/bin/bash` is put first when it has no `#!` line) as a
    /// batch job named `name`, and returns its id at once: the job may still be pending.
    /// - Throws: `SlurmError` — `.rejected` naming the partition, account or constraint Slurm
    ///   refused; `.unreachable`, `.authentication`, `.configuration`; `.invalidArgument` for
    ///   a name with spaces or `=`.
    public func submit(script: String, name: String, options: SlurmOptions = SlurmOptions()) async throws(SlurmError) -> SlurmJobID {
        guard !name.isEmpty, !name.contains(where: { $0.isWhitespace || $0 == "=" }) else {
            throw SlurmError(.invalidArgument, message: "job name '\(name)' must be non-empty, without spaces or '='")
        }
        var arguments = [sbatch, "--parsable", "--job-name=\(name)"]
        if let partition = options.partition { arguments.append("--partition=\(partition)") }
        if let account = options.account { arguments.append("--account=\(account)") }
        if let limit = options.timeLimit { arguments.append("--time=\(Self.minutes(limit))") }
        if let constraint = options.constraint { arguments.append("--constraint=\(constraint)") }
        if options.exclusive { arguments.append("--exclusive") }
        if let output = options.outputPath { arguments.append("--output=\(output)") }
        if let error = options.errorPath { arguments.append("--error=\(error)") }
        let directory = options.workingDirectory ?? FileManager.default.currentDirectoryPath
        arguments.append("--chdir=\(directory)")
        arguments += options.extraArguments

        // The script goes in on standard input, from a private file removed right after.
        let text = script.hasPrefix("#!") ? script : "#!/bin/bash\n" + script
        let scriptPath = FileManager.default.temporaryDirectory.path + "/ratchet-sbatch-\(UUID().uuidString).sh"
        guard FileManager.default.createFile(atPath: scriptPath, contents: Data(text.utf8), attributes: [.posixPermissions: 0o600]) else {
            throw SlurmError(.invalidArgument, message: "cannot write the job script to \(scriptPath)")
        }
        defer { try? FileManager.default.removeItem(atPath: scriptPath) }

        let result = try await run(arguments, in: directory, standardInput: scriptPath)
        guard result.status == 0 else {
            var subject = "job '\(name)'"
            if let partition = options.partition { subject += " (partition '\(partition)')" }
            if let account = options.account { subject += " (account '\(account)')" }
            if let constraint = options.constraint { subject += " (constraint '\(constraint)')" }
            throw failure(result, doing: "sbatch rejected \(subject)")
        }
        // `--parsable` prints `<id>` or `<id>;<cluster>`.
        let line = result.output.split(whereSeparator: \.isNewline).last.map(String.init) ?? ""
        guard let id = line.split(separator: ";").first.flatMap({ UInt64($0.trimmingCharacters(in: .whitespaces)) }) else {
            throw SlurmError(
                .unexpectedOutput, message: "sbatch printed no job id: '\(result.output)'", command: result.command,
                exitStatus: result.status, standardError: result.errorOutput)
        }
        return SlurmJobID(rawValue: id)
    }

    /// The job's state, from `scontrol show job -o`.
    /// - Throws: `SlurmError` when the controller cannot be asked; an unknown job is not an
    ///   error but `.unknown`.
    public func state(of job: SlurmJobID) async throws(SlurmError) -> SlurmJobState {
        let result = try await run([scontrol, "show", "job", "-o", String(job.rawValue)])
        if result.status != 0 {
            if result.errorOutput.localizedCaseInsensitiveContains("invalid job id") { return .unknown }
            throw failure(result, doing: "cannot read the state of job \(job)")
        }
        guard let state = Self.parseJob(result.output) else {
            throw SlurmError(
                .unexpectedOutput, message: "scontrol printed no JobState for job \(job): '\(result.output.prefix(500))'",
                command: result.command, exitStatus: result.status, standardError: result.errorOutput)
        }
        return state
    }

    /// Stops a running job's processes (SIGSTOP); it keeps its nodes.
    /// - Throws: `SlurmError` `.wrongState` when the job is not running, `.unknownJob`.
    public func suspend(_ job: SlurmJobID) async throws(SlurmError) {
        try await control([scontrol, "suspend", String(job.rawValue)], job: job, doing: "suspend")
    }

    /// Continues a suspended job.
    /// - Throws: `SlurmError` `.wrongState` when the job is not suspended, `.unknownJob`.
    public func resume(_ job: SlurmJobID) async throws(SlurmError) {
        try await control([scontrol, "resume", String(job.rawValue)], job: job, doing: "resume")
    }

    /// Cancels a job, pending, running or suspended (SIGTERM, then SIGKILL after the cluster's
    /// `KillWait`). Slurm does not complain about a job that already ended or that it does not
    /// know, so neither does this.
    /// - Throws: `SlurmError` when the controller cannot be asked.
    public func cancel(_ job: SlurmJobID) async throws(SlurmError) {
        let result = try await run([scancel, String(job.rawValue)])
        guard result.status == 0 else { throw failure(result, doing: "cannot cancel job \(job)") }
    }

    /// Polls the job's state every `poll` until it has finished, and returns how it ended.
    /// - Throws: `SlurmError` `.timedOut` after `timeout` (the job is left running: cancel it
    ///   if it should not), `.unknownJob` when the controller forgets the job, `.cancelled`
    ///   when the calling task is cancelled.
    public func waitUntilFinished(
        _ job: SlurmJobID,
        poll: Duration = .milliseconds(200),
        timeout: Duration
    ) async throws(SlurmError) -> SlurmJobEnd {
        let deadline = ContinuousClock.now + timeout
        while true {
            let state = try await state(of: job)
            switch state {
            case .finished(let end):
                return end
            case .unknown:
                throw SlurmError(
                    .unknownJob,
                    message: "job \(job) is not known to slurmctld: it was purged (MinJobAge) or the controller lost its state")
            default:
                break
            }
            guard ContinuousClock.now < deadline else {
                throw SlurmError(.timedOut, message: "job \(job) has not finished after \(timeout) (still \(state)); it was left as it is")
            }
            do {
                try await Task.sleep(for: poll)
            } catch {
                throw SlurmError(.cancelled, message: "stopped waiting for job \(job) (task cancelled); the job was left as it is")
            }
        }
    }

    // MARK: Parsing

    /// The state in `scontrol show job -o` output (its first line: one job).
    static func parseJob(_ output: String) -> SlurmJobState? {
        guard let line = output.split(whereSeparator: \.isNewline).first else { return nil }
        // `Key=value` fields separated by spaces. A free-text value (a path, a comment) can hold
        // spaces or `=`, but those come after the fields read here, and the one free-text field
        // before them, JobName, is checked at submission: the first occurrence is Slurm's.
        var fields: [Substring: Substring] = [:]
        for token in line.split(separator: " ") {
            guard let equals = token.firstIndex(of: "=") else { continue }
            let key = token[..<equals]
            if fields[key] == nil { fields[key] = token[token.index(after: equals)...] }
        }
        guard let rawState = fields["JobState"] else { return nil }
        let stateName = String(rawState.prefix(while: { $0.isUppercase || $0 == "_" }))
        let reason = fields["Reason"].map { $0 == "None" ? "" : String($0) } ?? ""
        let nodeField = fields["NodeList"].map(String.init) ?? ""
        let nodes = nodeField == "(null)" ? "" : nodeField
        switch stateName {
        case "PENDING", "CONFIGURING", "REQUEUED", "REQUEUE_HOLD", "REQUEUE_FED", "RESV_DEL_HOLD", "SPECIAL_EXIT":
            return .pending(reason: reason.isEmpty && stateName != "PENDING" ? stateName : reason)
        case "RUNNING", "COMPLETING", "SIGNALING", "STAGE_OUT", "RESIZING":
            return .running(nodes: nodes)
        case "SUSPENDED", "STOPPED":
            return .suspended(nodes: nodes)
        default:
            guard let final = SlurmJobEnd.State(rawValue: stateName) else { return .other(state: stateName, reason: reason) }
            // `ExitCode=<status>:<signal>`.
            let exit = (fields["ExitCode"] ?? "0:0").split(separator: ":").map { Int32($0) ?? 0 }
            return .finished(
                SlurmJobEnd(state: final, exitStatus: exit.first ?? 0, signal: exit.count > 1 ? exit[1] : 0, nodes: nodes, reason: reason))
        }
    }

    /// `--time` in whole minutes, at least one.
    static func minutes(_ duration: Duration) -> Int {
        let seconds = duration.components.seconds + (duration.components.attoseconds > 0 ? 1 : 0)
        return max(1, Int((seconds + 59) / 60))
    }

    // MARK: Running commands

    struct Output {
        var command: String
        var status: Int32?
        var output: String
        var errorOutput: String
    }

    /// `scontrol suspend|resume`: on failure, the job's state says why (scontrol's own message
    /// for an unknown job is "Unexpected message received").
    private func control(_ arguments: [String], job: SlurmJobID, doing verb: String) async throws(SlurmError) {
        let result = try await run(arguments)
        guard result.status != 0 else { return }
        let code = Self.classify(result.errorOutput)
        guard code == .rejected else { throw failure(result, doing: "cannot \(verb) job \(job)") }
        let state = try await state(of: job)
        if state == .unknown {
            throw SlurmError(
                .unknownJob, message: "cannot \(verb) job \(job): slurmctld does not know it", command: result.command,
                exitStatus: result.status, standardError: result.errorOutput)
        }
        throw SlurmError(
            .wrongState, message: "cannot \(verb) job \(job): it is \(state) (\(Self.lastLines(result.errorOutput)))",
            command: result.command, exitStatus: result.status, standardError: result.errorOutput)
    }

    private func run(_ arguments: [String], in directory: String = "/", standardInput: String? = nil) async throws(SlurmError) -> Output {
        var environment = CommandRunner.defaultEnvironment()
        for (key, value) in self.environment { environment[key] = value }
        let runner = CommandRunner(outputCap: 64 * 1024, environment: environment, sandbox: .none)
        let command = arguments.map(Self.quote).joined(separator: " ")
        let seconds = Double(commandTimeout.components.seconds) + Double(commandTimeout.components.attoseconds) / 1e18
        let result: CommandResult
        do {
            result = try await runner.run(command, in: directory, timeout: seconds, standardInput: standardInput)
        } catch {
            throw SlurmError(.invalidArgument, message: error.description, command: command)
        }
        // Errors name the command as a user would type it.
        let program = arguments.first.map { ($0 as NSString).lastPathComponent } ?? "slurm"
        let shown = ([program] + arguments.dropFirst()).joined(separator: " ")
        if result.timedOut {
            throw SlurmError(
                .timedOut,
                message: "\(program) did not answer within \(commandTimeout): slurmctld may be down, unreachable or overloaded",
                command: shown, exitStatus: nil, standardError: result.errorOutput)
        }
        return Output(command: shown, status: result.exitStatus, output: result.output, errorOutput: result.errorOutput)
    }

    /// An error for a command that exited non-zero, classified by what Slurm printed.
    private func failure(_ result: Output, doing what: String) -> SlurmError {
        let code = Self.classify(result.errorOutput)
        let conf = environment["SLURM_CONF"].map { "SLURM_CONF=\($0)" } ?? "the default slurm.conf"
        let detail = Self.lastLines(result.errorOutput)
        let message: String
        switch code {
        case .unreachable:
            message =
                "\(what): slurmctld not reachable (\(conf)): \(detail). Check that slurmctld runs and that SlurmctldHost and SlurmctldPort are reachable from here"
        case .authentication:
            message =
                "\(what): munge authentication failed: \(detail). munged must run on this machine with the cluster's key (the same munge.key on every node)"
        case .configuration:
            message = "\(what): no usable Slurm configuration (\(conf)): \(detail). Set SLURM_CONF to the cluster's slurm.conf"
        default:
            message = "\(what): \(detail)"
        }
        return SlurmError(code, message: message, command: result.command, exitStatus: result.status, standardError: result.errorOutput)
    }

    static func classify(_ errorOutput: String) -> SlurmError.Code {
        let text = errorOutput.lowercased()
        if text.contains("invalid job id") { return .unknownJob }
        if text.contains("munge") || text.contains("authentication") { return .authentication }
        if text.contains("unable to contact slurm controller") || text.contains("connect failure") || text.contains("connection refused")
            || text.contains("socket timed out") || text.contains("zero bytes were transmitted")
        {
            return .unreachable
        }
        if text.contains("configuration source") || text.contains("unable to process configuration") || text.contains("slurm.conf") {
            return .configuration
        }
        return .rejected
    }

    /// The last few lines of Slurm's messages on one line, without the `sbatch: error:` prefixes.
    static func lastLines(_ text: String, count: Int = 3) -> String {
        let lines = text.split(whereSeparator: \.isNewline).map { line -> String in
            var line = Substring(line)
            for prefix in ["sbatch: error: ", "scontrol: error: ", "scancel: error: ", "error: "] where line.hasPrefix(prefix) {
                line = line.dropFirst(prefix.count)
            }
            return String(line)
        }
        let kept = lines.suffix(count).joined(separator: "; ")
        return kept.isEmpty ? "no message" : kept
    }

    static func quote(_ argument: String) -> String {
        "'" + argument.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }
}
