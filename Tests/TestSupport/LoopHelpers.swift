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
