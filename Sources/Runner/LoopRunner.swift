import Adapters
import Core
import Execution
import Foundation
import Git
import Store

/// Options for one `ratchet run`.
public struct RunOptions: Sendable {
    /// Stop after this many candidates in this run.
    public var maxIterations: Int?
    /// Use these proposers instead of the config's.
    public var proposers: [ProposerSpec]?
    public var author: Signature
    /// Flipped to stop the loop at the next safe point.
    public var stop: StopSwitch
    /// Candidates in flight at once, instead of `[parallel] candidates`.
    public var candidates: Int?

    public init(
        maxIterations: Int? = nil, proposers: [ProposerSpec]? = nil,
        author: Signature = Signature(name: "Ratchet", email: "ratchet@localhost"), stop: StopSwitch = StopSwitch(), candidates: Int? = nil
    ) {
        self.stop = stop
        self.candidates = candidates
        self.maxIterations = maxIterations
        self.proposers = proposers
        self.author = author
    }
}

/// Thrown inside a candidate when the loop must stop now (signal, wall-clock budget).
struct Interrupted: Error {
    var reason: String
}

/// Runs one loop: propose → apply → gate → build → test → measure → decide, until the
/// proposers run out, a budget trips, a checkpoint needs a human, or it is stopped.
///
/// Every step is recorded in the store and the audit log before the next begins. The loop
/// branch `ratchet/<loop>` is the source of truth for the best commit: after a crash, a
/// candidate whose commit reached the branch is marked accepted; any other unfinished one is
/// marked interrupted (and proposed again), and process groups it left are killed.
public final class LoopRunner {
    let workspace: Workspace
    let options: RunOptions
    let emit: @Sendable (RunEvent) -> Void
    let executor: CommandRunner
    let pause: PauseSwitch
    let pauseRecorder: PauseRecorder
    let audit: AuditLog
    var config: LoopConfig { workspace.config }
    var repository: Repository { workspace.repository }
    var store: Store { workspace.store }

    var loop: LoopRecord
    var bestCommit: ObjectID
    var bestTree: ObjectID
    /// Slot 0 and 1; `baselineIndex` says which one holds the best code.
    var slots: [Slot] = []
    var baselineIndex = 0
    var scratch: Slot?
    var baselineBuiltTree: ObjectID?
    var runRecord: RunRecord?
    /// The relative effect A/A noise can produce on this machine for this benchmark.
    /// The last A/A calibration across the slots, and the best tree it was measured for.
    var calibration: NoiseFloor?
    var noiseCalibratedTree: ObjectID?
    var pastWallSeconds = 0.0
    let started = Date()
    /// One guard per slot in use: each keeps its slot exactly its commit between commands.
    var guards: [SlotGuard] = []
    var warnedAboutWatch = false
    var sealedCache: [ObjectID: [TreeFile]] = [:]
    private var sealGlobsCache: (tree: ObjectID, evaluator: [Glob], writable: [Glob])?
    /// The slot the drift check measures the original base in.
    var referenceSlot: Slot?
    /// The tree built in the reference slot (the base, once per run).
    var referenceBuiltTree: ObjectID?
    /// The decided count of a drift check this lane claimed and measures once the original
    /// base (`coordinator.driftBaseTree`) is built beside its next candidate (`checkDrift`).
    var owedDrift: Int?
    /// The original base failed to build beside a candidate: it is not tried there again.
    var referenceUnbuildable = false
    /// The slot an A/A calibration builds the best in beside the candidate (one mount
    /// point), the tree built there, and whether the best's A/A is to be measured before
    /// the candidate.
    var calibrationSlot: Slot?
    var calibrationBuiltTree: ObjectID?
    var pendingCalibration = false
    /// The step record a command runs under, so a broken seal can close it.
    var currentStep: StepRecord?
    /// This runner's lane (0 unless `[parallel] candidates` > 1), and what the lanes share.
    let lane: Int
    let coordinator: LaneCoordinator
    /// The machine-wide measurement lock, and this lane's hold on it while it measures.
    let machineLock: MachineLock
    var measuring: MachineLock.Hold?
    /// This lane's hold on the build group through a candidate's build, test and validate.
    var building: MachineLock.Hold?
    /// The best a candidate is being built and tested on, with other lanes that may move it.
    var buildingOn: ObjectID?
    /// This lane's slots, scratch, reference and sealed copies live here.
    let slotRoot: String

    /// The evaluator's globs for the current best, and `[sandbox] writable`.
    var sealGlobs: (evaluator: [Glob], writable: [Glob]) {
        if let cached = sealGlobsCache, cached.tree == bestTree { return (cached.evaluator, cached.writable) }
        let made = (tree: bestTree, evaluator: evaluatorGlobs, writable: config.sandbox.writable.map(Glob.init))
        sealGlobsCache = made
        return (made.evaluator, made.writable)
    }
    private var lock: LoopLock?

    public init(workspace: Workspace, options: RunOptions = RunOptions(), emit: @escaping @Sendable (RunEvent) -> Void) throws(RunnerError) {
        self.workspace = workspace
        self.options = options
        self.emit = emit
        let config = workspace.config
        pause = PauseSwitch(stateDirectory: workspace.stateDirectory, loop: config.name)
        audit = workspace.audit
        pauseRecorder = PauseRecorder(loop: config.name, store: workspace.store, audit: workspace.audit, pause: pause)
        lock = try LoopLock(path: workspace.stateDirectory + "/\(config.name).lock", loop: config.name)
        executor = try Self.executor(workspace, emit: emit)
        machineLock = try Self.machineLock(config)
        lane = 0
        slotRoot = Self.slotRoot(stateDirectory: workspace.stateDirectory, loop: config.name, lane: 0)
        let repository = workspace.repository
        let baseCommit: ObjectID
        do {
            baseCommit = try repository.resolveCommit(config.base)
        } catch {
            throw RunnerError(.repository, "loop.base: '\(config.base)' does not name a commit in \(config.repository) (\(error.message))")
        }
        do {
            try workspace.audit.reconcile()
            if workspace.clearStaleBranchLock() {
                try workspace.audit.append(loop: config.name, kind: "recovery", ["removed": "stale lock on \(config.branch)"])
            }
            let existing = try workspace.store.loop(named: config.name)
            let tip = try repository.referenceTarget(config.branch)
            var record =
                existing
                ?? LoopRecord(
                    name: config.name, repository: config.repository, baseRef: config.base, baseCommit: baseCommit.hex,
                    bestCommit: (tip ?? baseCommit).hex, configHash: workspace.configHash, status: .running)
            if let tip {
                record.bestCommit = tip.hex
            } else {
                // The branch does not exist (new loop, or deleted by hand): (re)create it at the best known commit.
                let start = (try? ObjectID(hex: record.bestCommit)) ?? baseCommit
                try repository.updateReference(config.branch, to: start, expecting: nil, message: "ratchet: start loop \(config.name)")
                record.bestCommit = start.hex
            }
            if let existing, existing.configHash != workspace.configHash {
                try workspace.audit.append(
                    loop: config.name, kind: "config_change", ["from": existing.configHash, "to": workspace.configHash, "file": workspace.configPath])
            }
            record.status = .running
            record.statusReason = nil
            record.configHash = workspace.configHash
            try workspace.store.save(record)
            loop = record
            bestCommit = try ObjectID(hex: record.bestCommit)
            bestTree = try repository.tree(ofCommit: bestCommit)
        } catch let error as GitError {
            throw RunnerError(.repository, error.description)
        } catch let error as StoreError {
            throw RunnerError(.store, error.description)
        } catch {
            throw RunnerError(.internalError, "\(error)")
        }
        coordinator = LaneCoordinator(best: LaneCoordinator.Best(commit: bestCommit, tree: bestTree))
    }

    /// Another lane of a run whose first lane holds the loop's lock: the config opened
    /// anew (it must not have changed), with its own repository handle and store connection.
    init(
        lane: Int, configPath: String, configHash: String, best: (ObjectID, ObjectID), coordinator: LaneCoordinator, pauseRecorder: PauseRecorder,
        options: RunOptions, emit: @escaping @Sendable (RunEvent) -> Void
    ) throws(RunnerError) {
        let workspace = try Workspace(configPath: configPath)
        guard workspace.configHash == configHash else {
            throw RunnerError(.config, "\(configPath) changed while the run started its lanes; run again")
        }
        self.workspace = workspace
        self.options = options
        self.emit = emit
        self.lane = lane
        self.coordinator = coordinator
        let config = workspace.config
        pause = PauseSwitch(stateDirectory: workspace.stateDirectory, loop: config.name)
        audit = workspace.audit
        // One recorder for the run: a pause is seen, audited and acted on once, for every lane.
        self.pauseRecorder = pauseRecorder
        lock = nil
        executor = try Self.executor(workspace, emit: { _ in })
        machineLock = try Self.machineLock(config)
        slotRoot = Self.slotRoot(stateDirectory: workspace.stateDirectory, loop: config.name, lane: lane)
        (bestCommit, bestTree) = best
        let record: LoopRecord?
        do {
            record = try workspace.store.loop(named: config.name)
        } catch {
            throw RunnerError(.store, error.description)
        }
        guard let record else { throw RunnerError(.store, "loop '\(config.name)' is not in the store") }
        loop = record
    }

    /// The command runner for `workspace`'s commands: sandboxed, with the state folder and
    /// the repository read-only.
    static func executor(_ workspace: Workspace, emit: @Sendable (RunEvent) -> Void) throws(RunnerError) -> CommandRunner {
        var sandbox = try Self.sandbox(workspace.config.sandbox, emit: emit)
        sandbox.readOnly = [workspace.stateDirectory, workspace.config.repository]
        return CommandRunner(sandbox: sandbox)
    }

    static func machineLock(_ config: LoopConfig) throws(RunnerError) -> MachineLock {
        do {
            return try MachineLock(directory: config.parallel.lockDirectory)
        } catch {
            throw RunnerError(
                .io, "parallel.lock_dir: cannot use \(config.parallel.lockDirectory) for the machine-wide measurement lock: \(error.message)")
        }
    }

    /// The sandbox for `spec`: bubblewrap when available (required if the config says so).
    static func sandbox(_ spec: SandboxSpec, emit: @Sendable (RunEvent) -> Void) throws(RunnerError) -> Sandbox {
        var sandbox = Sandbox(cpuSeconds: spec.cpuSeconds, memoryBytes: spec.memoryBytes, processes: spec.processes, fileBytes: spec.fileBytes)
        // Both slots at one path inside the sandbox, and the command timed from inside it.
        sandbox.mountPoint = Sandbox.slotMountPoint
        sandbox.timer = Sandbox.findTimer()
        if sandbox.timer == nil {
            emit(
                .note("ratchet-timer was not found beside ratchet: wall times include the sandbox's start-up (install ratchet-timer next to ratchet)")
            )
        }
        switch spec.mode {
        case .off:
            break
        case .auto, .required:
            sandbox.bubblewrap = Sandbox.findBubblewrap()
            if sandbox.bubblewrap == nil {
                if spec.mode == .required {
                    throw RunnerError(
                        .config,
                        "sandbox.mode = \"required\" but bubblewrap (bwrap) is not installed or cannot create namespaces here; install it (apt-get install bubblewrap)"
                    )
                }
                emit(
                    .note(
                        "WARNING: bubblewrap (bwrap) is not available: commands run WITHOUT the network and file-system sandbox; only resource limits and process-group kill apply. Install bubblewrap, or set [sandbox] mode = \"required\" to refuse to run like this."
                    ))
            }
        }
        return sandbox
    }

    // MARK: Run

    /// Runs the loop until it stops; returns what happened.
    /// - Throws: `RunnerError` when the loop stopped on an error (recorded as `failed`).
    public func run() async throws(RunnerError) -> RunSummary {
        let stop = await runLoop()
        bestCommit = await coordinator.best.commit
        if let fresh = try? store.loop(named: config.name) { loop = fresh }
        loop.bestCommit = bestCommit.hex
        loop.status = stop.status
        loop.statusReason = stop.message
        try wrap { () throws(StoreError) in
            try store.save(loop)
            if let runRecord { try store.finish(runRecord, reason: stop.message) }
            try audit.append(loop: config.name, kind: "loop_stop", ["reason": stop.message, "status": stop.status.rawValue, "best": bestCommit.hex])
        }
        // The loop is free again now, not whenever this runner is deallocated.
        lock = nil
        emit(.stopped(reason: stop.message))
        if case .failed(let error) = stop { throw error }
        return try summary(stop)
    }

    /// The loop proper; returns why it stopped.
    func runLoop() async -> StopReason {
        do {
            let resumed = try recoverInterrupted()
            if config.executor.kind == .slurm { await cancelLeftoverJobs() }
            runRecord = try store.startRun(loop: config.name, pid: getpid())
            // Earlier runs only: the control's wall-clock deadline adds this run itself.
            pastWallSeconds = BudgetUse.of(candidates: [], runs: try store.runs(loop: config.name).filter { $0.id != runRecord?.id }).wallSeconds
            try openSlots()
            try audit.append(
                loop: config.name, kind: "loop_start",
                [
                    "pid": String(getpid()), "best": bestCommit.hex, "config_hash": workspace.configHash,
                    "sandbox": executor.sandbox.bubblewrap == nil ? "none" : "bubblewrap",
                ])
            emit(.started(loop: config.name, best: bestCommit.short, resumed: resumed))
            if let waiting = try waitingCheckpoint() {
                return .waiting("waiting for review: candidate \(waiting.id ?? 0) (\(waiting.checkpoint ?? "checkpoint")); see `ratchet review`")
            }
            return await runLanes()
        } catch let error as RunnerError {
            return .failed(error)
        } catch let error as StoreError {
            return .failed(RunnerError(.store, error.description))
        } catch let error as GitError {
            return .failed(RunnerError(.repository, error.description))
        } catch {
            return .failed(RunnerError(.internalError, "\(error)"))
        }
    }

    enum CandidateOutcome {
        case exhausted, decided
        case interrupted(String)
        case checkpoint(String)
    }

    func summary(_ stop: StopReason) throws(RunnerError) -> RunSummary {
        let tally = try wrap { () throws(StoreError) in try store.tally(loop: config.name) }
        return RunSummary(
            loop: config.name,
            candidates: tally.decided,
            accepted: tally.count(outcome: .accepted),
            rejected: tally.count(outcome: .rejected),
            inconclusive: tally.count(outcome: .inconclusive),
            baseCommit: loop.baseCommit,
            bestCommit: bestCommit.hex,
            stop: stop
        )
    }

    func wrap<T>(_ body: () throws(StoreError) -> T) throws(RunnerError) -> T {
        do { return try body() } catch { throw RunnerError(.store, error.description) }
    }

    // MARK: Safe points: stop and pause

    /// Waits while paused; returns a stop reason when the loop must stop.
    func safePoint() async throws -> String? {
        if let reason = options.stop.reason { return reason }
        if pauseRecorder.check() {
            // A paused lane holds no build group: other loops on the machine measure meanwhile.
            leaveBuildGroup()
            emit(.note((pause.reason ?? "paused") + " — waiting for `ratchet resume`"))
            while pauseRecorder.check() && !options.stop.isSet {
                try? await Task.sleep(for: .milliseconds(100))
            }
            if let reason = options.stop.reason { return reason }
            loop.status = .running
            loop.statusReason = nil
            emit(.note("resumed"))
        }
        return nil
    }

    // MARK: Budgets and checkpoints

    /// What the loop has used, from the store (this run counted up to now); candidates in
    /// flight in any lane count as iterations already, so lanes never overrun the budget.
    func budgetUse(countingInFlight: Bool = true) throws -> BudgetUse {
        var use = try store.budgetUse(loop: config.name, running: true)
        if countingInFlight { use.iterations += try store.candidateCount(loop: config.name, CandidateQuery(unfinished: true)) }
        return use
    }

    /// An accepted candidate holding the loop at a checkpoint, if any.
    func waitingCheckpoint() throws -> CandidateRecord? {
        try store.waitingCheckpoint(loop: config.name)
    }

    // MARK: Recovery

    /// Settles candidates left unfinished by a crash (and kills what they left running);
    /// returns how many there were.
    func recoverInterrupted() throws -> Int {
        for var step in try store.openStepsWithProcessGroups(loop: config.name) {
            if let group = step.processGroup { ProcessTable.killGroup(Int32(group), workingUnder: workspace.stateDirectory) }
            step.status = .failed
            step.detail = "abandoned: Ratchet stopped while this step ran; its process group was killed"
            try store.finish(step)
        }
        let open = try store.unfinishedCandidates(loop: config.name)
        guard !open.isEmpty else { return 0 }
        let trailers = (try? repository.trailers(ofCommit: bestCommit)) ?? [:]
        for var candidate in open {
            if let id = candidate.id, trailers["Ratchet-Candidate"] == String(id) {
                // The commit reached the branch before the crash (in the decide step): the accept stands.
                try advance(&candidate, to: .finished(.accepted))
                candidate.commit = bestCommit.hex
                candidate.review = candidate.review ?? .pending
                candidate.reason = (candidate.reason ?? Outcome.accepted.rawValue) + " (accept completed after restart)"
            } else {
                candidate.reason = "Ratchet stopped while this candidate was at step '\(candidate.state.label)'; it will be proposed again"
                try advance(&candidate, to: .finished(.interrupted))
                candidate.rejection = .interrupted
            }
            candidate.finishedAt = Date()
            try store.update(candidate)
            try audit.append(
                loop: config.name, kind: "recovery",
                ["candidate": String(candidate.id ?? 0), "outcome": candidate.outcome?.rawValue ?? "", "reason": candidate.reason ?? ""])
        }
        return open.count
    }

    // MARK: Slots

    func openSlots() throws {
        let root = slotRoot
        do {
            slots = [try Slot(repository: repository, root: root + "/0"), try Slot(repository: repository, root: root + "/1")]
        } catch {
            throw RunnerError(.io, "cannot open worktree slots in \(root): \(error.description)")
        }
        for slot in slots { _ = try slotGuard(slot) }
        baselineIndex = (slots[1].tree == bestTree && slots[0].tree != bestTree) ? 1 : 0
    }

    /// A third slot, holding the best code, for proposers that edit files; restored after each use.
    func scratchSlot() throws -> Slot {
        let slot: Slot
        if let existing = scratch {
            slot = existing
        } else {
            slot = try Slot(repository: repository, root: slotRoot + "/scratch")
            scratch = slot
        }
        if let held = slot.tree, try !slot.diff(against: held).isEmpty {
            try slot.restore(to: held)
        }
        try slot.sync(to: bestTree)
        return slot
    }

    var baselineSlot: Slot { slots[baselineIndex] }
    var candidateSlot: Slot { slots[1 - baselineIndex] }
}

@available(*, unavailable)
extension LoopRunner: Sendable {}
