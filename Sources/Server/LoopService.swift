import Core
import Foundation
import Logging
import Report
import Runner
import ServiceLifecycle
import Store
import Synchronization

/// Runs one loop inside its schedule, as a `Service`: starts a `LoopRunner` when a window
/// opens, stops it (stop switch, next safe point) when the window ends, and writes the
/// morning report into `<state>/reports/`. Between windows it sleeps until the next edge.
///
/// A loop that stops at a checkpoint is not started again until the change is reviewed; one
/// stopped by a budget until the budget no longer trips (after a review, or a config change);
/// one whose proposers are exhausted until the next window or a config change; one that
/// failed after a growing delay. The runner itself honours the pause flags.
public final class LoopService: Service, Sendable, CustomStringConvertible {
    public let name: String
    let state: DaemonState
    let logger: Logger
    /// How often a held loop re-reads the store for a review made by another process.
    let pollInterval: TimeInterval

    public init(name: String, state: DaemonState, logger: Logger, pollInterval: TimeInterval = 5) {
        self.name = name
        self.state = state
        var logger = logger
        logger[metadataKey: "loop"] = "\(name)"
        self.logger = logger
        self.pollInterval = max(1, pollInterval)
    }

    public var description: String { "LoopService(\(name))" }

    var control: LoopControl { state.control(name) }

    public func run() async throws {
        let control = self.control
        await withTaskCancellationOrGracefulShutdownHandler {
            await self.main()
        } onCancelOrGracefulShutdown: {
            control.beginShutdown("daemon shutting down")
        }
    }

    /// A window the loop was inside, remembered to report on it when it ends.
    struct Window: Equatable {
        var since: Date
        var until: Date
    }

    func main() async {
        let control = self.control
        var window: Window?
        var exhaustedIn: (window: Date?, hash: String)?
        // The runner stopped on a budget: held until the config changes or someone reviews.
        var budgetStop: (hash: String, reviews: Int, reason: String)?
        var failures = 0
        var retryAt: Date?
        var lastHash: String?
        while control.shutdownReason == nil {
            guard let entry = state.entry(named: name) else {
                if state.retire(name) {
                    control.set(LoopPhase(phase: "removed", detail: "no longer in the configuration"))
                    logger.info("loop removed from the configuration; its service ends")
                    return
                }
                continue
            }
            if lastHash != entry.configHash {
                if lastHash != nil { logger.info("configuration changed; schedule \(entry.config.schedule.summary)") }
                lastHash = entry.configHash
                failures = 0
                retryAt = nil
            }
            let now = Date()
            let schedule = entry.config.schedule.state(at: now)
            // The window we were in has ended: report on it.
            if let current = window, now >= current.until {
                writeReport(entry, current)
                window = nil
            }
            switch schedule {
            case .closed(let next):
                control.set(
                    LoopPhase(phase: "sleeping", detail: next.map { "next window opens \(Self.clock($0))" } ?? "no window ahead", until: next))
                // Wake at the edge, or hourly to follow clock changes, or when signalled.
                await control.wakeup.wait(until: min(next ?? .distantFuture, now.addingTimeInterval(3600)))
                continue
            case .open(let since, let until):
                if let since, let until { window = Window(since: since, until: until) }
                let deadline = until ?? .distantFuture
                if let reason = holdReason(entry) {
                    control.set(LoopPhase(phase: "held", detail: reason, until: until))
                    await control.wakeup.wait(until: min(deadline, now.addingTimeInterval(pollInterval)))
                    continue
                }
                if let stop = budgetStop {
                    if stop.hash == entry.configHash && stop.reviews == reviews(entry) {
                        control.set(LoopPhase(phase: "held", detail: stop.reason + "; raise it in the config (then SIGHUP) or review", until: until))
                        await control.wakeup.wait(until: min(deadline, now.addingTimeInterval(pollInterval)))
                        continue
                    }
                    budgetStop = nil
                }
                if let exhausted = exhaustedIn, exhausted.window == since, exhausted.hash == entry.configHash {
                    control.set(
                        LoopPhase(
                            phase: "held", detail: "every proposer has nothing left; tries again next window or after a config change", until: until))
                    await control.wakeup.wait(until: min(deadline, now.addingTimeInterval(3600)))
                    continue
                }
                if let retry = retryAt, retry > now {
                    control.set(LoopPhase(phase: "backoff", detail: "failed \(failures) time(s); retrying \(Self.clock(retry))", until: retry))
                    await control.wakeup.wait(until: min(deadline, retry))
                    continue
                }
                let stop = await runOnce(entry, until: until)
                switch stop {
                case .failed(let error):
                    failures += 1
                    let delay = min(60 * pow(2, Double(failures - 1)), 1800)
                    retryAt = Date().addingTimeInterval(delay)
                    logger.error("loop failed: \(error.message); retrying in \(Int(delay)) s")
                case .budget(let reason):
                    budgetStop = (entry.configHash, reviews(entry), reason)
                    failures = 0
                    logger.notice("\(reason)")
                case .exhausted(let reason):
                    exhaustedIn = (since, entry.configHash)
                    failures = 0
                    logger.info("\(reason)")
                case .stopped, .waiting:
                    failures = 0
                    logger.info("loop stopped (\(stop.status.rawValue)): \(stop.message)")
                }
            }
        }
        control.set(LoopPhase(phase: "stopped", detail: control.shutdownReason ?? "stopped"))
    }

    /// Why the loop must not start now (a checkpoint waiting for review, a tripped budget),
    /// read from the store; `nil` when it may run.
    func holdReason(_ entry: LoopEntry) -> String? {
        do {
            if let waiting = try entry.store.waitingCheckpoints(loop: name).first {
                return "waiting for review of candidate \(waiting.id ?? 0): \(waiting.checkpoint ?? "checkpoint")"
            }
            let use = try entry.store.budgetUse(loop: name)
            if let trip = entry.config.budget.tripped(by: use) { return "\(trip.description); raise it in the config (then SIGHUP) or review" }
            return nil
        } catch {
            return "cannot read the store: \(error.description)"
        }
    }

    /// How many human decisions the loop's accepted changes have had (a review can release a budget).
    func reviews(_ entry: LoopEntry) -> Int {
        ((try? entry.store.approvals(loop: name)) ?? []).count
    }

    /// Runs the loop until it stops by itself or the window ends; returns why it stopped.
    func runOnce(_ entry: LoopEntry, until: Date?) async -> StopReason {
        let control = self.control
        let stop = StopSwitch()
        guard control.install(stop) else { return .stopped(control.shutdownReason ?? "shutting down") }
        defer { _ = control.install(nil) }
        let workspace: Workspace
        let runner: LoopRunner
        let logger = self.logger
        do {
            workspace = try Workspace(configPath: entry.configPath)
            runner = try LoopRunner(workspace: workspace, options: RunOptions(stop: stop), emit: { event in Self.log(event, logger, control) })
        } catch {
            return .failed(error)
        }
        control.set(LoopPhase(phase: "running", detail: "running" + (until.map { " until \(Self.clock($0))" } ?? ""), until: until))
        logger.info("starting loop\(until.map { " until \(Self.clock($0))" } ?? "")")
        var ending: StopReason = .stopped("stopped")
        await withTaskGroup(of: Void.self) { group in
            if let until {
                group.addTask {
                    let seconds = until.timeIntervalSinceNow
                    if seconds > 0 { try? await Task.sleep(for: .seconds(seconds) + .milliseconds(20)) }
                    if !Task.isCancelled { stop.stop("schedule window ended at \(Self.clock(until))") }
                }
            }
            do throws(RunnerError) {
                ending = try await runner.run().stop
            } catch {
                ending = .failed(error)
            }
            group.cancelAll()
        }
        return ending
    }

    /// Writes the report of `window` as Markdown and HTML into `<state>/reports/`.
    func writeReport(_ entry: LoopEntry, _ window: Window) {
        let directory = entry.stateDirectory + "/reports"
        do {
            let report = try MorningReport.build(
                sources: [entry.reportSource], since: window.since, until: window.until, baseURL: state.baseURL.withLock { $0 })
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            let formatter = DateFormatter()
            formatter.locale = Locale(identifier: "en_US_POSIX")
            formatter.dateFormat = "yyyy-MM-dd-HHmm"
            let base = directory + "/\(name)-\(formatter.string(from: window.until))"
            try Data(report.markdown().utf8).write(to: URL(fileURLWithPath: base + ".md"))
            try Data(report.html().utf8).write(to: URL(fileURLWithPath: base + ".html"))
            logger.info("window ended: report written to \(base).html (\(report.tried) tried, \(report.accepted) accepted)")
        } catch {
            logger.error("window ended but the report could not be written to \(directory): \(error)")
        }
    }

    /// `22:00:05` for a time today, `Tue 9 Dec 22:00` otherwise, in local time. Formatted from
    /// `localtime_r` rather than a `DateFormatter`, which would load ICU's calendar and locale
    /// data into an otherwise idle daemon for a status line.
    static func clock(_ date: Date, now: Date = Date()) -> String {
        guard let time = LocalTime.fields(date), let today = LocalTime.fields(now) else { return "\(date)" }
        let hms = [time.tm_hour, time.tm_min, time.tm_sec].map { $0 < 10 ? "0\($0)" : "\($0)" }
        if time.tm_year == today.tm_year && time.tm_yday == today.tm_yday { return hms.joined(separator: ":") }
        let weekdays = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        guard (0..<7).contains(time.tm_wday), (0..<12).contains(time.tm_mon) else { return "\(date)" }
        return "\(weekdays[Int(time.tm_wday)]) \(time.tm_mday) \(months[Int(time.tm_mon)]) \(hms[0]):\(hms[1])"
    }

    static func log(_ event: RunEvent, _ logger: Logger, _ control: LoopControl) {
        switch event {
        case .started(let loop, let best, let resumed):
            logger.info("loop \(loop) started from \(best)\(resumed > 0 ? " (settled \(resumed) left by an earlier run)" : "")")
        case .candidate(let sequence, let id, let title, _, _):
            control.update {
                $0.candidate = "#\(sequence) (id \(id)) \(title)"
                $0.step = nil
            }
            logger.info("candidate #\(sequence) (id \(id)): \(title)")
        case .step(_, let step):
            control.update { $0.step = step.rawValue }
            logger.debug("step \(step.rawValue)")
        case .sample(let sequence, let pair, let baseline, let candidate, _):
            logger.debug("#\(sequence) pair \(pair): baseline \(baseline), candidate \(candidate)")
        case .finished(let sequence, let outcome, let reason):
            logger.info("#\(sequence) \(outcome.rawValue): \(reason)")
        case .note(let text):
            logger.notice("\(text)")
        case .stopped(let reason):
            logger.info("loop stopped: \(reason)")
        }
    }
}
