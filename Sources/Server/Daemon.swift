import Foundation
import Hummingbird
import Logging
import ServiceLifecycle
import Synchronization
import UnixSignals

/// Reloads the configuration on SIGHUP: every file is validated first; one that fails keeps
/// its loop's previous config (and the reason is logged). Loops that appear are started as
/// new services in the group; loops whose config changed are woken to pick it up.
public final class SchedulerService: Service, Sendable, CustomStringConvertible {
    let state: DaemonState
    let logger: Logger
    let group: Mutex<ServiceGroup?>
    let makeLoop: @Sendable (String) -> LoopService

    init(state: DaemonState, logger: Logger, makeLoop: @escaping @Sendable (String) -> LoopService) {
        self.state = state
        self.logger = logger
        self.group = Mutex(nil)
        self.makeLoop = makeLoop
    }

    public var description: String { "SchedulerService" }

    public func run() async throws {
        let signals = await UnixSignalsSequence(trapping: .sighup)
        for await _ in signals.cancelOnGracefulShutdown() {
            await reload()
        }
    }

    /// Re-reads every config file; returns the loops started.
    @discardableResult
    public func reload() async -> [String] {
        logger.info("reloading configuration")
        let files: [String]
        do {
            files = try state.sources.files()
        } catch {
            logger.error("configuration not reloaded: \(error.message); keeping the running configuration")
            return []
        }
        let catalog = Catalog.load(files, previous: state.catalog)
        for (file, problem) in catalog.problems.sorted(by: { $0.key < $1.key }) {
            logger.error("config \(file) not used: \(problem)")
        }
        let started = state.replace(with: catalog)
        for name in started {
            logger.info("new loop \(name): starting its service")
            let service = makeLoop(name)
            if let group = group.withLock({ $0 }) {
                await group.addServiceUnlessShutdown(.init(service: service, successTerminationBehavior: .ignore, failureTerminationBehavior: .ignore))
            }
        }
        logger.info("configuration reloaded: \(catalog.loops.count) loop(s): \(catalog.loops.map(\.name).joined(separator: ", "))")
        return started
    }
}

/// `ratchet daemon`: every configured loop inside its schedule, the HTTP API and review UI,
/// and the scheduler, as services of one `ServiceGroup` that shuts down gracefully on
/// SIGTERM and SIGINT.
public struct Daemon: Sendable {
    public struct Options: Sendable {
        public var sources: LoopSources
        public var host: String
        public var port: Int
        /// Where the token lives; default: the first loop's state folder.
        public var stateDirectory: String?
        /// How often a loop held for review re-reads its store.
        public var pollInterval: TimeInterval

        public init(sources: LoopSources, host: String = "127.0.0.1", port: Int = 8470, stateDirectory: String? = nil, pollInterval: TimeInterval = 5) {
            self.sources = sources
            self.host = host
            self.port = port
            self.stateDirectory = stateDirectory
            self.pollInterval = pollInterval
        }
    }

    public let state: DaemonState
    public let group: ServiceGroup
    public let scheduler: SchedulerService
    public let token: AccessToken
    /// The port the server listens on, once it does (useful with port 0).
    public let boundPort: PortBox

    /// Loads and validates the loops and builds the service group (nothing runs yet).
    /// - Parameter onServerRunning: called with the bound port once the server listens.
    /// - Throws: `DaemonError` when no loop can be loaded, or the token cannot be made.
    public static func make(
        _ options: Options, logger: Logger, signals: Bool = true, onServerRunning: (@Sendable (Int) -> Void)? = nil
    ) throws(DaemonError) -> (Daemon, [String: String]) {
        let files = try options.sources.files()
        guard !files.isEmpty else {
            throw DaemonError(.usage, "no loop to run: pass --config FILE (repeatable) or --loops DIR (a folder of *.toml or */ratchet.toml)")
        }
        let catalog = Catalog.load(files)
        guard !catalog.loops.isEmpty else {
            let problems = catalog.problems.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: "\n")
            throw DaemonError(.config, "no loop could be loaded:\n\(problems)")
        }
        guard let stateDirectory = options.stateDirectory ?? catalog.loops.first?.stateDirectory else {
            throw DaemonError(.usage, "no state folder: pass --state DIR")
        }
        let token = try AccessToken.loadOrCreate(directory: stateDirectory)
        let displayHost = options.host.contains(":") ? "[\(options.host)]" : options.host
        let state = DaemonState(catalog: catalog, sources: options.sources, baseURL: "http://\(displayHost):\(options.port)")
        let boundPort = PortBox()
        let server = ReviewServer(state: state, token: token, logger: logger)
        let application = server.application(host: options.host, port: options.port) { port in
            boundPort.set(port)
            state.baseURL.withLock { $0 = "http://\(displayHost):\(port)" }
            onServerRunning?(port)
        }
        let poll = options.pollInterval
        let makeLoop: @Sendable (String) -> LoopService = { LoopService(name: $0, state: state, logger: logger, pollInterval: poll) }
        let scheduler = SchedulerService(state: state, logger: logger, makeLoop: makeLoop)
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = [
            .init(service: application), .init(service: scheduler),
        ]
        for name in state.replace(with: catalog) {
            services.append(.init(service: makeLoop(name), successTerminationBehavior: .ignore, failureTerminationBehavior: .ignore))
        }
        var configuration = ServiceGroupConfiguration(
            services: services, gracefulShutdownSignals: signals ? [.sigterm, .sigint] : [], cancellationSignals: [], logger: logger)
        configuration.maximumGracefulShutdownDuration = .seconds(120)
        let group = ServiceGroup(configuration: configuration)
        scheduler.group.withLock { $0 = group }
        return (Daemon(state: state, group: group, scheduler: scheduler, token: token, boundPort: boundPort), catalog.problems)
    }

    /// Runs until SIGTERM/SIGINT (or `group.triggerGracefulShutdown()`).
    public func run() async throws {
        try await group.run()
    }
}

/// The port the server bound, once it did.
public final class PortBox: Sendable {
    private let value = Mutex<Int?>(nil)
    public init() {}
    public var port: Int? { value.withLock { $0 } }
    func set(_ port: Int) { value.withLock { $0 = port } }
}
