import Foundation
import Runner

/// Collects the events a runner emits, from any thread.
public final class EventLog: @unchecked Sendable {
    private let lock = NSLock()
    private var events: [RunEvent] = []
    public init() {}
    public func add(_ event: RunEvent) { lock.withLock { events.append(event) } }
    public var all: [RunEvent] { lock.withLock { events } }
}

/// Runs the loop configured in `fixture/ratchet.toml` to its end.
public func runLoop(_ fixture: GitFixture, options: RunOptions = RunOptions()) async throws -> (RunSummary, Workspace) {
    let workspace = try Workspace(configPath: fixture.path + "/ratchet.toml")
    let log = EventLog()
    let runner = try LoopRunner(workspace: workspace, options: options, emit: { log.add($0) })
    return (try await runner.run(), workspace)
}

/// Runs the loop configured in `fixture/ratchet.toml` to its end; the error it stopped with
/// (`nil` when it did not fail), and the workspace to look at afterwards.
public func runLoopCatching(_ fixture: GitFixture) async throws -> (RunnerError?, Workspace) {
    let workspace = try Workspace(configPath: fixture.path + "/ratchet.toml")
    do {
        _ = try await LoopRunner(workspace: workspace, emit: { _ in }).run()
        return (nil, workspace)
    } catch {
        return (error, workspace)
    }
}
