import Core
import Foundation
import Git
import Store

/// What a controller hands a worker node: one candidate to evaluate against one best
/// commit, with the loop's config. Written as `job.json` in the job's folder, next to
/// `bundle/` (a bare repository holding the best commit, `Repository.writeBundle`).
public struct WorkerJob: Codable, Sendable {
    public var loop: String
    /// The loop's `ratchet.toml`, as the controller read it, and the folder it was in.
    public var configText: String
    public var configDirectory: String
    public var bestCommit: String
    public var candidate: Int64
    public var diff: String

    public init(loop: String, configText: String, configDirectory: String, bestCommit: String, candidate: Int64, diff: String) {
        self.loop = loop
        self.configText = configText
        self.configDirectory = configDirectory
        self.bestCommit = bestCommit
        self.candidate = candidate
        self.diff = diff
    }
}

/// What a worker sends back (`result.json`): the candidate's outcome, every step and
/// sample as recorded on the node, and its A/A calibration. The controller, the store's
/// only writer, records them.
public struct WorkerResult: Codable, Sendable {
    public var node: String
    /// How the candidate ended; `nil` when the worker failed.
    public var outcome: Outcome?
    public var rejection: RejectionKind?
    public var reason: String?
    /// The decision as the Core pipeline reported it, when the candidate was measured.
    public var report: DecisionReport?
    /// The candidate's tree, as the worker built it.
    public var tree: String?
    public var steps: [StepRecord]
    public var samples: [SampleRecord]
    public var calibration: [String: String]?
    /// Why the worker could not evaluate at all (set-up, not the candidate).
    public var error: String?
}

/// `ratchet worker <job folder>`: evaluates one candidate on this machine exactly as a
/// local loop would, in a private, throw-away workspace. The bundle is copied into a
/// node-local folder, the candidate's diff is replayed by a `patches` proposer through a
/// one-iteration `LoopRunner` (apply, gate, build, test, validate, A/A calibration on this
/// node, measurement, decision, all sealed and sandboxed as usual), and what its private
/// store recorded is written to `result.json`. Nothing is written to the controller's store.
public enum Worker {
    public static let jobFile = "job.json"
    public static let resultFile = "result.json"
    public static let bundleFolder = "bundle"

    /// Runs the job in `folder`; returns the result it also wrote to `folder/result.json`.
    public static func run(jobFolder folder: String, stop: StopSwitch = StopSwitch(), emit: @escaping @Sendable (RunEvent) -> Void = { _ in }) async
        -> WorkerResult
    {
        let node = ProcessInfo.processInfo.hostName
        var result = WorkerResult(node: node, steps: [], samples: [])
        let scratch = (ProcessInfo.processInfo.environment["TMPDIR"] ?? "/tmp") + "/ratchet-worker-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        do {
            let job = try read(folder)
            result = try await evaluate(job, folder: folder, scratch: scratch, stop: stop, emit: emit)
            result.node = node
        } catch {
            result.error = "\(error)"
        }
        write(result, to: folder)
        return result
    }

    static func read(_ folder: String) throws(RunnerError) -> WorkerJob {
        let path = folder + "/" + jobFile
        guard let data = FileManager.default.contents(atPath: path) else { throw RunnerError(.io, "cannot read the job \(path)") }
        do {
            return try JSONDecoder().decode(WorkerJob.self, from: data)
        } catch {
            throw RunnerError(.invalidRequest, "\(path) is not a Ratchet job: \(error)")
        }
    }

    static func evaluate(_ job: WorkerJob, folder: String, scratch: String, stop: StopSwitch, emit: @escaping @Sendable (RunEvent) -> Void)
        async throws -> WorkerResult
    {
        let fm = FileManager.default
        try fm.createDirectory(atPath: scratch + "/patches", withIntermediateDirectories: true)
        // The bundle stays as the controller wrote it: the loop branch is made in a copy.
        try fm.copyItem(atPath: folder + "/" + bundleFolder, toPath: scratch + "/repository.git")
        try Data(job.diff.utf8).write(to: URL(fileURLWithPath: scratch + "/patches/candidate-\(job.candidate).diff"))
        var config: LoopConfig
        do {
            config = try LoopConfig.parse(job.configText, file: folder + "/ratchet.toml", directory: job.configDirectory)
        } catch {
            throw RunnerError(.config, error.description)
        }
        config.repository = scratch + "/repository.git"
        config.stateDirectory = scratch + "/state"
        config.base = job.bestCommit
        config.proposers = [.patches(directory: scratch + "/patches")]
        config.budget = BudgetSpec()
        config.checkpoint = CheckpointSpec()
        config.metric.driftEvery = 0
        config.parallel.candidates = 1
        config.executor = ExecutorSpec()
        let workspace = try Workspace(config: config, text: job.configText, path: folder + "/ratchet.toml")
        // The node's A/A calibration for this best commit, from an earlier job on this node.
        let cache = calibrationCache(loop: config.name, best: job.bestCommit)
        if let data = FileManager.default.contents(atPath: cache), let fields = try? JSONDecoder().decode([String: String].self, from: data) {
            _ = try? workspace.audit.append(loop: config.name, kind: "calibration", fields)
        }
        let runner = try LoopRunner(workspace: workspace, options: RunOptions(maxIterations: 1, stop: stop), emit: emit)
        _ = try? await runner.run()
        let store = workspace.store
        // Stopped (scancel): interrupted, whatever the candidate's steps made of it. The
        // signal reaches the job's commands too, and a build killed by it before the worker
        // saw the stop read as a failed build (the candidate was rejected, not proposed again).
        if let reason = stop.reason {
            var stopped = WorkerResult(node: "", steps: [], samples: [])
            stopped.outcome = .interrupted
            stopped.reason = reason
            return stopped
        }
        guard let candidate = try store.candidates(loop: config.name).first, let id = candidate.id else {
            throw RunnerError(.internalError, "the worker's loop recorded no candidate")
        }
        var result = WorkerResult(node: "", steps: try store.steps(candidate: id), samples: try store.samples(candidate: id))
        result.outcome = candidate.outcome
        result.rejection = candidate.rejection
        result.reason = candidate.reason
        result.tree = candidate.tree
        if let estimate = candidate.estimate, let lower = candidate.lower, let threshold = candidate.threshold, let pairs = candidate.pairs {
            let verdict: Verdict =
                switch candidate.outcome {
                case .accepted: .accept
                case .inconclusive: .inconclusive
                case .rejected, .interrupted, nil: .reject
                }
            result.report = DecisionReport(
                verdict: verdict, pairs: pairs, estimate: estimate, lower: lower, upper: candidate.upper ?? .infinity, threshold: threshold,
                reason: candidate.reason ?? "")
        }
        result.calibration = try workspace.audit.entries(loop: config.name).last { $0.kind == "calibration" }?.fields
        if let calibration = result.calibration, calibration["best"] == job.bestCommit, let data = try? JSONEncoder().encode(calibration) {
            try? fm.createDirectory(atPath: (cache as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try? data.write(to: URL(fileURLWithPath: cache), options: .atomic)
        }
        return result
    }

    /// Where this node keeps its A/A calibration of a loop's best commit, so the next job
    /// for the same best on the same node does not measure it again.
    static func calibrationCache(loop: String, best: String) -> String {
        (ProcessInfo.processInfo.environment["TMPDIR"] ?? "/tmp") + "/ratchet-node-\(getuid())/\(loop)/calibration-\(best).json"
    }

    /// Writes `result.json` whole (a temporary file renamed over it), so a reader never sees half of it.
    static func write(_ result: WorkerResult, to folder: String) {
        let encoder = JSONEncoder()
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        encoder.outputFormatting = [.sortedKeys]
        guard let data = try? encoder.encode(result) else { return }
        let temporary = folder + "/.\(resultFile).\(getpid())"
        guard (try? data.write(to: URL(fileURLWithPath: temporary))) != nil else { return }
        rename(temporary, folder + "/" + resultFile)
    }

    /// Reads a worker's `result.json`; `nil` when there is none (yet).
    public static func readResult(in folder: String) throws(RunnerError) -> WorkerResult? {
        guard let data = FileManager.default.contents(atPath: folder + "/" + resultFile) else { return nil }
        let decoder = JSONDecoder()
        decoder.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        do {
            return try decoder.decode(WorkerResult.self, from: data)
        } catch {
            throw RunnerError(.io, "\(folder)/\(resultFile) is not a worker result: \(error)")
        }
    }
}
