import Adapters
import Core
import Execution
import Foundation
import Git
import Store
import Synchronization

/// What the lanes of one run share (`[parallel] candidates` > 1; one lane otherwise).
///
/// Each lane is a `LoopRunner` with its own slots, repository handle and store connection,
/// working one candidate at a time; the lanes meet here. The best commit moves only through
/// `accepted`, which a lane calls while it holds the machine's measurement lock, so accepts
/// are committed one after another, each on top of the one before.
actor LaneCoordinator {
    struct Best: Sendable, Equatable {
        var commit: ObjectID
        var tree: ObjectID
        /// The candidate whose accept made this best, in this run.
        var acceptedBy: Int64?
    }

    private(set) var best: Best {
        didSet { current.withLock { $0 = best.commit } }
    }
    private let current: Mutex<ObjectID>
    /// The best commit now, for a running command's control to poll without awaiting.
    nonisolated var bestNow: ObjectID { current.withLock { $0 } }
    private var started = 0
    private var driftChecked: Set<Int> = []
    private let driftBase = Mutex<ObjectID?>(nil)
    /// One lane at a time asks a proposer that picks the next untried source, so two lanes
    /// never pick the same one.
    nonisolated let proposals = AsyncTurn()
    /// One lane at a time checks that the best has not moved and commits its accept (Slurm
    /// lanes; local lanes hold the machine's measurement lock for that).
    nonisolated let accepts = AsyncTurn()
    /// One lane at a time measures the A/A calibration all lanes share (bubblewrap's one
    /// mount point), so a new best is calibrated once.
    nonisolated let calibrations = AsyncTurn()
    /// The machine's measurement lock as this run holds it, lanes measuring in turns under it.
    nonisolated let measurementTurns = MeasurementTurns()
    private var budgetTripAudited = false
    /// Candidates being evaluated now, in every lane, and those of them waiting for the
    /// best to move (their diffs do not apply yet).
    private var evaluating: Set<Int64> = []
    private var waiting: Set<Int64> = []

    init(best: Best) {
        self.best = best
        current = Mutex(best.commit)
    }

    /// A lane's accept: the new best every lane measures against from now on.
    func accepted(commit: ObjectID, tree: ObjectID, by candidate: Int64?) {
        best = Best(commit: commit, tree: tree, acceptedBy: candidate)
    }

    func beginEvaluation(_ candidate: Int64) {
        evaluating.insert(candidate)
    }

    func endEvaluation(_ candidate: Int64) {
        evaluating.remove(candidate)
        waiting.remove(candidate)
    }

    /// Marks `candidate` as waiting for the best to move; returns whether a candidate that
    /// may still move it (being evaluated, not waiting itself) is in flight in another lane.
    func waitForOthers(_ candidate: Int64) -> Bool {
        waiting.insert(candidate)
        return evaluating.contains { $0 != candidate && !waiting.contains($0) }
    }

    func stopWaiting(_ candidate: Int64) {
        waiting.remove(candidate)
    }

    /// Claims one candidate of `--max-iterations`; `false` when they are all taken.
    func claimIteration(cap: Int) -> Bool {
        guard started < cap else { return false }
        started += 1
        return true
    }

    /// Gives back a claim whose proposer had nothing to propose.
    func unclaimIteration() {
        started = max(0, started - 1)
    }

    /// Whether this lane runs the drift check due at `decided` candidates (one lane does).
    /// From the first claim on, every lane builds the original base (`baseTree`) in its
    /// reference slot beside its next candidate, so whichever lane a later check falls to
    /// finds it built.
    func claimDriftCheck(at decided: Int, baseTree: ObjectID) -> Bool {
        driftBase.withLock { $0 = baseTree }
        return driftChecked.insert(decided).inserted
    }

    /// The original base's tree once this run has had a drift check (`claimDriftCheck`).
    nonisolated var driftBaseTree: ObjectID? { driftBase.withLock { $0 } }

    /// Whether this lane is the first to report a budget trip (it is audited once).
    func claimBudgetTrip() -> Bool {
        defer { budgetTripAudited = true }
        return !budgetTripAudited
    }
}

/// One holder at a time, the others served in the order they came. `give()` is
/// synchronous, so a `defer` can hand the turn on.
final class AsyncTurn: Sendable {
    private let state = Mutex<(held: Bool, waiters: [CheckedContinuation<Void, Never>])>((false, []))

    func take() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let free = state.withLock { turn -> Bool in
                if !turn.held {
                    turn.held = true
                    return true
                }
                turn.waiters.append(continuation)
                return false
            }
            if free { continuation.resume() }
        }
    }

    /// Takes the turn when it is free; `false`, without waiting, when another holds it.
    func tryTake() -> Bool {
        state.withLock { turn in
            if turn.held { return false }
            turn.held = true
            return true
        }
    }

    func give() {
        let next = state.withLock { turn -> CheckedContinuation<Void, Never>? in
            if turn.waiters.isEmpty {
                turn.held = false
                return nil
            }
            return turn.waiters.removeFirst()
        }
        next?.resume()
    }
}

extension LoopRunner {
    /// `<state>/slots/<loop>` for the first lane, `…/lanes/<k>` for the others.
    static func slotRoot(stateDirectory: String, loop: String, lane: Int) -> String {
        let root = stateDirectory + "/slots/\(loop)"
        return lane == 0 ? root : root + "/lanes/\(lane)"
    }

    /// Runs this runner as lane 0 and, with `[parallel] candidates` = N > 1, N − 1 more lanes,
    /// each opened on its own (repository handle, store connection, slots); returns when all
    /// have ended. A lane ending with a failure or at a checkpoint stops the others.
    func runLanes() async -> StopReason {
        let count = laneCount
        guard count > 1 else { return await laneEnd() }
        let configPath = workspace.configPath
        let configHash = workspace.configHash
        let options = self.options
        let emit = self.emit
        let coordinator = self.coordinator
        let pauseRecorder = self.pauseRecorder
        let best = (bestCommit, bestTree)
        emit(
            .note(
                "\(count) candidates in flight (measurements \(config.parallel.cpusPerMeasurement.map { "pinned to \($0) core(s) each" } ?? "one at a time on the whole machine")\(config.parallel.overlapBuilds ? ", builds may overlap them" : ", no build or test while one measures"))"
            ))
        return await withTaskGroup(of: StopReason.self) { group in
            for lane in 1..<count {
                group.addTask {
                    do throws(RunnerError) {
                        let runner = try LoopRunner(
                            lane: lane, configPath: configPath, configHash: configHash, best: best, coordinator: coordinator,
                            pauseRecorder: pauseRecorder,
                            options: options, emit: emit)
                        let end = await runner.laneEnd()
                        if end.stopsOthers { options.stop.stop(end.message) }
                        return end
                    } catch {
                        options.stop.stop(error.message)
                        return .failed(RunnerError(error.kind, "lane \(lane): \(error.message)"))
                    }
                }
            }
            let mine = await laneEnd()
            if mine.stopsOthers { options.stop.stop(mine.message) }
            var ends = [mine]
            for await end in group { ends.append(end) }
            // The lane that stopped the others tells why; the others were merely interrupted.
            return ends.min { $0.rank < $1.rank } ?? mine
        }
    }

    /// This lane's candidates until it stops, and why.
    func laneEnd() async -> StopReason {
        do {
            if lane > 0 { try openSlots() }
            return try await laneLoop()
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

    /// Candidates one after another in this lane, until it must stop.
    func laneLoop() async throws -> StopReason {
        let proposers = try (options.proposers ?? config.proposers).map(containedProposer)
        var proposerIndex = 0
        while true {
            if let reason = try await safePoint() { return .stopped(reason) }
            if let cap = options.maxIterations, !(await coordinator.claimIteration(cap: cap)) {
                return try await ending(.stopped("reached --max-iterations \(cap)"))
            }
            let claimed = options.maxIterations != nil
            // Candidates in flight in other lanes count as started work.
            if let trip = config.budget.tripped(by: try budgetUse()) {
                if claimed { await coordinator.unclaimIteration() }
                if await coordinator.claimBudgetTrip() {
                    try audit.append(
                        loop: config.name, kind: "budget_trip", ["budget": trip.budget, "limit": "\(trip.limit)", "used": "\(trip.used)"])
                }
                return try await ending(.budget(trip.description))
            }
            guard proposerIndex < proposers.count else {
                if claimed { await coordinator.unclaimIteration() }
                return try await ending(.exhausted("every proposer has nothing left to propose"))
            }
            let proposer = proposers[proposerIndex]
            switch try await runCandidate(proposer) {
            case .exhausted:
                if claimed { await coordinator.unclaimIteration() }
                emit(.note("proposer \(proposer.kind) has nothing left" + lanePrefix))
                proposerIndex += 1
            case .interrupted(let reason):
                return .stopped(reason)
            case .decided:
                try await checkDrift(decided: try budgetUse(countingInFlight: false).iterations)
            case .checkpoint(let reason):
                return try await ending(.waiting(reason))
            }
        }
    }

    /// A lane's end other than a stop: a drift check it owes is measured first.
    func ending(_ end: StopReason) async throws -> StopReason {
        try await measureOwedDrift(asLaneEnds: true)
        return end
    }

    /// ` (lane k)` when several lanes run, for notes.
    var lanePrefix: String { laneCount > 1 ? " (lane \(lane))" : "" }

    /// Candidates in flight at once: `--candidates`, or `[parallel] candidates`.
    var laneCount: Int { options.candidates ?? config.parallel.candidates }

    /// Takes this lane's best from the coordinator (another lane may have accepted).
    func adoptBest() async -> LaneCoordinator.Best {
        let current = await coordinator.best
        if current.commit != bestCommit {
            bestCommit = current.commit
            bestTree = current.tree
        }
        return current
    }

    /// Waits, for a candidate whose diff does not apply to the best, until the best moves
    /// (another lane accepted: then this lane takes it and returns `true`) or no other
    /// candidate is in flight (`false`: it will never apply). A stacked series of patches,
    /// each written on top of the one before, thus goes through two lanes as it would
    /// through one.
    func waitForTheBestToMove(_ candidate: CandidateRecord) async throws -> Bool {
        guard laneCount > 1, let id = candidate.id else { return false }
        let start = bestCommit
        var told = false
        while true {
            _ = await adoptBest()
            if bestCommit != start { break }
            guard await coordinator.waitForOthers(id) else {
                // One last look: the last one in flight may have been accepted just now.
                _ = await adoptBest()
                break
            }
            if !told {
                told = true
                emit(.note("#\(candidate.sequence) does not apply to the best code \(bestCommit.short) yet: waiting for the candidates in flight"))
            }
            if let reason = options.stop.reason {
                await coordinator.stopWaiting(id)
                throw Interrupted(reason: reason)
            }
            try? await Task.sleep(for: .milliseconds(50))
        }
        await coordinator.stopWaiting(id)
        return bestCommit != start
    }

    // MARK: Control and the machine's locks

    /// The control every running command polls (a candidate's build and test also stop when
    /// another lane moves the best away from `buildingOn`).
    var control: @Sendable () -> CommandControl {
        let stop = options.stop
        let pause = self.pauseRecorder
        let deadline = config.budget.wallSeconds.map { started.addingTimeInterval($0 - pastWallSeconds) }
        let (coordinator, on) = (self.coordinator, buildingOn)
        return {
            if stop.isSet { return .stop }
            if let on, coordinator.bestNow != on { return .stop }
            if let deadline, Date() >= deadline {
                stop.stop("budget budget.wall_clock tripped")
                return .stop
            }
            return pause.check() ? .pause : .run
        }
    }

    /// Enters the build group for a candidate's build, test and validate together: a lane
    /// waiting to measure cannot slip in between them, so lanes build at the same time and
    /// then measure one after another, instead of each measurement waiting for the other
    /// lane's next build (lanes falling out of step that way nearly halved the throughput
    /// at N = 2). Left at the end, and while paused (entered again at the next step).
    func enterBuildGroup() async throws {
        if building == nil { building = try await buildHold(role: "candidate") }
    }

    func leaveBuildGroup() {
        building?.release()
        building = nil
    }

    /// Holds the build group for a build or test (unless this lane measures now, holds the
    /// build group already, or `overlap_builds` lets builds run beside measurements).
    func buildHold(role: String) async throws -> MachineLock.Hold? {
        guard measuring == nil, building == nil, role != Self.benchRole, !config.parallel.overlapBuilds else { return nil }
        let stop = options.stop
        do {
            guard let hold = try await machineLock.build(keepWaiting: { !stop.isSet }) else { throw Interrupted(reason: stop.reason ?? "stopped") }
            return hold
        } catch let error as LockError {
            throw RunnerError(.io, "\(error.description) (parallel.lock_dir)")
        }
    }
}
