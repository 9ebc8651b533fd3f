import Core
import Execution
import Foundation
import Git
import Store

#if canImport(Glibc)
    import Glibc
#endif

/// `[executor] kind = "slurm"`: each candidate's build, test and measurement run as one Slurm
/// job (`ratchet worker`, see Worker.swift) on a node; the controller proposes, applies and
/// gates, and records what the job sends back.
extension LoopRunner {
    /// How one job ended.
    enum JobEnd {
        case result(WorkerResult, job: SlurmJobID, state: String)
        /// The job ended without a result: cancelled from outside, lost with its node, timed out.
        case lost(job: SlurmJobID, state: String)
    }

    func slurmClient() throws(RunnerError) -> SlurmClient {
        var environment: [String: String] = [:]
        if let conf = config.executor.slurmConf ?? ProcessInfo.processInfo.environment["SLURM_CONF"] { environment["SLURM_CONF"] = conf }
        do {
            return try SlurmClient(environment: environment)
        } catch {
            throw RunnerError(.config, "executor.kind = \"slurm\": \(error.description)")
        }
    }

    /// The `ratchet` a job runs: `[executor] worker`, this executable when it is `ratchet`,
    /// else the `ratchet` beside it (a test bundle in the build folder).
    func workerBinary() throws(RunnerError) -> String {
        if let worker = config.executor.worker { return worker }
        let me = ProcessTable.executable
        if (me as NSString).lastPathComponent == "ratchet" { return me }
        // The build folder holding this executable (a test bundle sits a few folders below it).
        var folder = (me as NSString).deletingLastPathComponent
        for _ in 0..<4 {
            if FileManager.default.isExecutableFile(atPath: folder + "/ratchet") { return folder + "/ratchet" }
            folder = (folder as NSString).deletingLastPathComponent
        }
        throw RunnerError(
            .config, "executor.kind = \"slurm\": no `ratchet` beside \(me) for the jobs to run; set [executor] worker to its path on the nodes")
    }

    /// The candidate evaluated by Slurm jobs, against the best at submission; an accept
    /// whose best moved meanwhile goes onto the new best and runs again.
    func evaluateOnSlurm(_ candidate: inout CandidateRecord, tree: ObjectID, summary: PatchSummary) async throws -> CandidateOutcome {
        var candidateTree = tree
        var attempt = 0
        while true {
            attempt += 1
            let submittedBest = bestCommit
            let end = try await runJob(&candidate, attempt: attempt)
            switch end {
            case .lost(let job, let state):
                try finish(
                    &candidate, .interrupted, .interrupted,
                    "Slurm job \(job) ended \(state) without a result (cancelled from outside, or lost with its node); it will be proposed again")
                return .decided
            case .result(let result, let job, _):
                if let error = result.error {
                    throw RunnerError(.io, "the worker of Slurm job \(job) on \(result.node) could not evaluate: \(error)")
                }
                try ingest(result, into: &candidate, job: job)
                guard let outcome = result.outcome else {
                    throw RunnerError(.io, "Slurm job \(job) on \(result.node) sent back no outcome")
                }
                if outcome == .interrupted {
                    try finish(
                        &candidate, .interrupted, .interrupted,
                        "Slurm job \(job) was stopped on \(result.node) (\(result.reason ?? "")); it will be proposed again")
                    return .decided
                }
                if result.tree != candidateTree.hex, result.tree != nil {
                    throw RunnerError(.internalError, "Slurm job \(job) evaluated tree \(result.tree ?? "") instead of \(candidateTree.hex)")
                }
                guard outcome == .accepted, let report = result.report else {
                    try finish(&candidate, outcome, result.rejection, "on \(result.node): " + (result.reason ?? outcome.rawValue))
                    return .decided
                }
                // Accepts are committed one at a time, each against the best it was measured with.
                await coordinator.accepts.take()
                let current = await coordinator.best
                if current.commit != submittedBest {
                    coordinator.accepts.give()
                    guard let rebased = try await rebase(&candidate, onto: current) else { return .decided }
                    candidateTree = rebased
                    continue
                }
                defer { coordinator.accepts.give() }
                return try await decide(&candidate, report, tree: candidateTree, summary: summary, place: " (measured on \(result.node))")
            }
        }
    }

    /// Submits the job for the candidate against this lane's best, and follows it: pause
    /// suspends it, resume resumes it, stop (and the wall-clock budget) cancels it.
    func runJob(_ candidate: inout CandidateRecord, attempt: Int) async throws -> JobEnd {
        let client = try slurmClient()
        let id = candidate.id ?? 0
        let root = (config.executor.sharedDirectory ?? workspace.stateDirectory + "/jobs") + "/\(config.name)/\(id)-\(attempt)"
        try? FileManager.default.removeItem(atPath: root)
        do {
            try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
            try repository.writeBundle(commits: [bestCommit], to: root + "/" + Worker.bundleFolder)
            let job = WorkerJob(
                loop: config.name, configText: workspace.configText, configDirectory: config.configDirectory, bestCommit: bestCommit.hex,
                candidate: id,
                diff: candidate.diff ?? "")
            try JSONEncoder().encode(job).write(to: URL(fileURLWithPath: root + "/" + Worker.jobFile))
        } catch {
            throw RunnerError(.io, "cannot write the job for candidate \(id) in \(root): \(error)")
        }
        let quote = { (text: String) in "'" + text.replacingOccurrences(of: "'", with: "'\\''") + "'" }
        let script = "#!/bin/bash\nexec \(quote(try workerBinary())) worker \(quote(root))\n"
        var sbatch = SlurmOptions()
        sbatch.partition = config.executor.partition
        sbatch.account = config.executor.account
        sbatch.constraint = config.executor.constraint
        sbatch.exclusive = config.executor.exclusive
        sbatch.outputPath = root + "/slurm.out"
        sbatch.workingDirectory = root
        sbatch.extraArguments = (config.executor.time.map { ["--time=\($0)"] } ?? []) + config.executor.sbatchArguments
        var step = try await enter(.build, &candidate)
        let job: SlurmJobID
        do {
            job = try await client.submit(script: script, name: "ratchet-\(config.name)-\(id)", options: sbatch)
        } catch {
            try close(&step, ok: false, detail: "sbatch: \(error.message)")
            throw RunnerError(.config, "executor: \(error.description)")
        }
        try rememberJob(job)
        defer { forgetJob(job) }
        try audit.append(loop: config.name, kind: "slurm_job", ["candidate": String(id), "job": job.description, "folder": root])
        emit(.note("#\(candidate.sequence): Slurm job \(job)" + lanePrefix))
        let submitted = Date()
        var suspended = false
        var state: SlurmJobState = .pending(reason: "")
        while true {
            switch control() {
            case .stop:
                try? await client.cancel(job)
                try close(&step, ok: false, detail: "Slurm job \(job) cancelled: the loop stops")
                throw Interrupted(reason: options.stop.reason ?? "stopped")
            case .pause:
                if !suspended, case .running = state {
                    do {
                        try await client.suspend(job)
                        suspended = true
                    } catch {
                        emit(.note("cannot suspend Slurm job \(job): \(error.message)"))
                    }
                }
            case .run:
                if suspended {
                    try? await client.resume(job)
                    suspended = false
                }
            }
            do {
                state = try await client.state(of: job)
            } catch {
                emit(.note("cannot read the state of Slurm job \(job) (\(error.message)); asking again"))
            }
            if case .finished = state { break }
            if case .unknown = state { break }
            try? await Task.sleep(for: .milliseconds(200))
        }
        let seconds = Date().timeIntervalSince(submitted)
        let ended = "\(state)"
        guard let result = try Worker.readResult(in: root) else {
            try close(&step, ok: false, detail: String(format: "Slurm job \(job) ended \(ended) after %.1f s without a result", seconds))
            return .lost(job: job, state: ended)
        }
        try close(&step, ok: true, detail: String(format: "Slurm job \(job) on \(result.node): \(ended) after %.1f s", seconds))
        try? FileManager.default.removeItem(atPath: root + "/" + Worker.bundleFolder)
        return .result(result, job: job, state: ended)
    }

    /// Records the job's steps (after the controller's own apply and gate) and samples.
    func ingest(_ result: WorkerResult, into candidate: inout CandidateRecord, job: SlurmJobID) throws {
        let id = candidate.id ?? 0
        for step in result.steps where step.step != .apply && step.step != .gate {
            var record = try store.startStep(step.step, candidate: id)
            record.startedAt = step.startedAt
            record.status = step.status
            record.detail = "on \(result.node): " + (step.detail ?? "")
            record.exitStatus = step.exitStatus
            record.wallSeconds = step.wallSeconds
            record.output = step.output
            try store.finish(record)
            if let finished = step.finishedAt {
                record.finishedAt = finished
                try store.update(record)
            }
        }
        for sample in result.samples {
            var copy = SampleRecord(
                candidateId: id, pair: sample.pair, arm: sample.arm, position: sample.position, value: sample.value, wallSeconds: sample.wallSeconds,
                warmup: sample.warmup, benchmark: sample.benchmark)
            copy.createdAt = sample.createdAt
            try store.add(copy)
        }
        if var calibration = result.calibration {
            calibration["node"] = result.node
            calibration["job"] = job.description
            calibration["candidate"] = String(id)
            try audit.append(loop: config.name, kind: "node_calibration", calibration)
        }
    }

    // MARK: Jobs left by a crash

    var jobListPath: String { workspace.stateDirectory + "/\(config.name).slurm-jobs" }

    /// Notes a submitted job, so a Ratchet killed while it runs cancels it on restart.
    func rememberJob(_ job: SlurmJobID) throws {
        let handle = open(jobListPath, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
        guard handle >= 0 else { throw RunnerError(.io, "cannot write \(jobListPath): \(String(cString: strerror(errno)))") }
        defer { Glibc.close(handle) }
        let line = "\(job)\n"
        _ = line.withCString { write(handle, $0, strlen($0)) }
    }

    func forgetJob(_ job: SlurmJobID) {
        guard let text = try? String(contentsOfFile: jobListPath, encoding: .utf8) else { return }
        let kept = text.split(separator: "\n").filter { $0 != Substring(job.description) }
        try? (kept.map { $0 + "\n" }.joined()).write(toFile: jobListPath, atomically: true, encoding: .utf8)
    }

    /// Cancels the jobs a Ratchet that died had submitted (their candidates are interrupted).
    func cancelLeftoverJobs() async {
        guard let text = try? String(contentsOfFile: jobListPath, encoding: .utf8), !text.isEmpty, let client = try? slurmClient() else { return }
        for line in text.split(separator: "\n") {
            guard let number = UInt64(line) else { continue }
            try? await client.cancel(SlurmJobID(rawValue: number))
            _ = try? audit.append(loop: config.name, kind: "recovery", ["cancelled": "Slurm job \(number)"])
        }
        unlink(jobListPath)
    }
}
