import Foundation
import Runner
import Synchronization

/// A one-shot alarm a sleeping task can wait on: `signal()` wakes the waiter (or the next
/// wait, when nobody waits yet). Waiting costs nothing: no polling, no timer but the deadline.
public final class Wakeup: Sendable {
    private struct State {
        var pending = false
        var waiter: (id: UInt64, continuation: CheckedContinuation<Void, Never>)?
        var nextID: UInt64 = 0
    }

    private let state = Mutex(State())

    public init() {}

    /// Wakes the waiter, or makes the next `wait` return at once.
    public func signal() {
        let continuation = state.withLock { state -> CheckedContinuation<Void, Never>? in
            if let waiter = state.waiter {
                state.waiter = nil
                return waiter.continuation
            }
            state.pending = true
            return nil
        }
        continuation?.resume()
    }

    /// Waits until signalled, `deadline` passes, or the task is cancelled; returns whether
    /// it was signalled.
    @discardableResult
    public func wait(until deadline: Date?) async -> Bool {
        if state.withLock({ state in
            defer { state.pending = false }; return state.pending
        }) {
            return true
        }
        return await withTaskGroup(of: Bool.self) { group in
            if let deadline {
                group.addTask {
                    let seconds = max(0, deadline.timeIntervalSinceNow)
                    // A little past the deadline, never before it: the caller re-reads the clock.
                    try? await Task.sleep(for: .seconds(min(seconds, 86_400 * 7)) + .milliseconds(20))
                    return false
                }
            }
            group.addTask {
                await self.waitForSignal()
                return !Task.isCancelled
            }
            let first = await group.next() ?? false
            group.cancelAll()
            return first
        }
    }

    private func waitForSignal() async {
        let id = state.withLock { state in
            state.nextID += 1
            return state.nextID
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let now = state.withLock { state -> Bool in
                    if state.pending {
                        state.pending = false
                        return true
                    }
                    if Task.isCancelled { return true }
                    state.waiter = (id, continuation)
                    return false
                }
                if now { continuation.resume() }
            }
        } onCancel: {
            let continuation = state.withLock { state -> CheckedContinuation<Void, Never>? in
                guard let waiter = state.waiter, waiter.id == id else { return nil }
                state.waiter = nil
                return waiter.continuation
            }
            continuation?.resume()
        }
    }
}

/// What the daemon is doing with a loop, for the UI, the API and the logs.
public struct LoopPhase: Sendable, Codable, Equatable {
    /// `running`, `sleeping`, `held`, `backoff`, `removed`, `stopped`.
    public var phase: String
    public var detail: String
    /// The current window's end, or the next window's start.
    public var until: Date?
    /// While running: the candidate in flight and its step.
    public var candidate: String?
    public var step: String?

    public init(phase: String, detail: String, until: Date? = nil) {
        self.phase = phase
        self.detail = detail
        self.until = until
    }
}

/// The daemon's handle on one loop: wake it, stop its runner, read its phase.
public final class LoopControl: Sendable {
    public let wakeup = Wakeup()
    private let stopSwitch = Mutex<StopSwitch?>(nil)
    private let shutdown = Mutex<String?>(nil)
    private let current = Mutex(LoopPhase(phase: "starting", detail: "starting"))

    public init() {}

    /// Installs the stop switch of the runner about to start; `false` when shutting down.
    func install(_ stop: StopSwitch?) -> Bool {
        let reason = shutdown.withLock { $0 }
        if let reason, let stop { stop.stop(reason) }
        stopSwitch.withLock { $0 = stop }
        return reason == nil
    }

    /// Stops the running runner at its next safe point (if any) and wakes the loop's service.
    public func stopRunner(_ reason: String) {
        stopSwitch.withLock { $0 }?.stop(reason)
        wakeup.signal()
    }

    /// Stops for good: the service returns once its runner reached a safe point.
    func beginShutdown(_ reason: String) {
        shutdown.withLock { if $0 == nil { $0 = reason } }
        stopRunner(reason)
    }

    var shutdownReason: String? { shutdown.withLock { $0 } }

    public var phase: LoopPhase { current.withLock { $0 } }

    func set(_ phase: LoopPhase) { current.withLock { $0 = phase } }

    func update(_ body: (inout LoopPhase) -> Void) { current.withLock { body(&$0) } }
}

/// What the scheduler, the loop services and the HTTP server share: the catalog of loops
/// and a control per loop.
public final class DaemonState: Sendable {
    private let catalogState: Mutex<Catalog>
    private let controls = Mutex<[String: LoopControl]>([:])
    /// Loops whose service is running (so a reload knows whether to start one).
    private let active = Mutex<Set<String>>([])
    public let sources: LoopSources
    /// `http://host:port` of the review UI, for links in reports.
    public let baseURL: Mutex<String?>

    public init(catalog: Catalog, sources: LoopSources, baseURL: String? = nil) {
        catalogState = Mutex(catalog)
        self.sources = sources
        self.baseURL = Mutex(baseURL)
    }

    public var catalog: Catalog { catalogState.withLock { $0 } }

    public func entry(named name: String) -> LoopEntry? { catalog.entry(named: name) }

    public func control(_ name: String) -> LoopControl {
        controls.withLock { controls in
            if let control = controls[name] { return control }
            let control = LoopControl()
            controls[name] = control
            return control
        }
    }

    /// Replaces the catalog; returns the loops that are new and have no running service
    /// (marked active), and stops (at a safe point) and wakes every loop whose entry changed
    /// or went away.
    func replace(with catalog: Catalog) -> [String] {
        let old = catalogState.withLock { state -> Catalog in
            defer { state = catalog }
            return state
        }
        var changed: [String] = []
        for entry in old.loops {
            let now = catalog.entry(named: entry.name)
            if now?.configHash != entry.configHash || now?.configPath != entry.configPath { changed.append(entry.name) }
        }
        // A running runner stops at its next safe point and starts again with the new config.
        for name in changed {
            control(name).stopRunner(catalog.entry(named: name) == nil ? "removed from the configuration" : "configuration reloaded")
        }
        return active.withLock { active in
            let new = catalog.loops.map(\.name).filter { !active.contains($0) }
            active.formUnion(new)
            return new
        }
    }

    /// Marks `name` as having a running service.
    func markActive(_ name: String) { _ = active.withLock { $0.insert(name) } }

    /// Called by a loop service about to return because its loop left the catalog: returns
    /// `false` (keep running) if the loop came back meanwhile.
    func retire(_ name: String) -> Bool {
        catalogState.withLock { catalog in
            guard catalog.entry(named: name) == nil else { return false }
            _ = active.withLock { $0.remove(name) }
            return true
        }
    }
}
