import Foundation
import Hummingbird
import HummingbirdTLS
import Logging
import NIOCore
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
                await group.addServiceUnlessShutdown(
                    .init(service: service, successTerminationBehavior: .ignore, failureTerminationBehavior: .ignore))
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
        /// Where the personal tokens live (`<state>/ratchet.sqlite`); default: the first
        /// loop's state folder.
        public var stateDirectory: String?
        /// How often a loop held for review re-reads its store.
        public var pollInterval: TimeInterval
        /// PEM certificate chain and private key: serve HTTPS.
        public var tlsCertificate: String?
        public var tlsKey: String?
        /// Allow plain HTTP on an address other than loopback.
        public var insecureHTTP: Bool

        public init(
            sources: LoopSources, host: String = "127.0.0.1", port: Int = 8470, stateDirectory: String? = nil, pollInterval: TimeInterval = 5,
            tlsCertificate: String? = nil, tlsKey: String? = nil, insecureHTTP: Bool = false
        ) {
            self.sources = sources
            self.host = host
            self.port = port
            self.stateDirectory = stateDirectory
            self.pollInterval = pollInterval
            self.tlsCertificate = tlsCertificate
            self.tlsKey = tlsKey
            self.insecureHTTP = insecureHTTP
        }

        /// Whether `host` is a loopback address (127.0.0.0/8, ::1, localhost).
        public static func isLoopback(_ host: String) -> Bool {
            let plain = host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
            if plain == "localhost" || plain == "::1" || plain == "0:0:0:0:0:0:0:1" { return true }
            let parts = plain.split(separator: ".", omittingEmptySubsequences: false)
            return parts.count == 4 && parts[0] == "127" && parts.allSatisfy { UInt8($0) != nil }
        }

        /// Refuses what must not start: half a TLS pair, or plain HTTP beyond loopback
        /// without `--insecure-http`. Checked before anything is bound.
        /// - Throws: `DaemonError` `.usage`.
        public func checkTransport() throws(DaemonError) {
            if (tlsCertificate == nil) != (tlsKey == nil) {
                throw DaemonError(.usage, "--tls-cert and --tls-key go together: give both (PEM files) for HTTPS")
            }
            if tlsCertificate == nil && !insecureHTTP && !Self.isLoopback(host) {
                throw DaemonError(
                    .usage,
                    "refusing plain HTTP on \(host): tokens and session cookies would cross the network in clear text. "
                        + "Serve HTTPS with --tls-cert FILE --tls-key FILE, keep --host 127.0.0.1 behind an SSH tunnel or a TLS proxy, "
                        + "or accept the risk with --insecure-http")
            }
        }

        /// The TLS configuration from the PEM files, or `nil` for plain HTTP.
        /// - Throws: `DaemonError` `.config` naming the file that cannot be used.
        public func tlsConfiguration() throws(DaemonError) -> TLSConfiguration? {
            guard let certificate = tlsCertificate, let key = tlsKey else { return nil }
            let chain: [NIOSSLCertificate]
            do {
                chain = try NIOSSLCertificate.fromPEMFile(certificate)
            } catch {
                throw DaemonError(.config, "--tls-cert \(certificate): not a readable PEM certificate chain (\(error))")
            }
            guard !chain.isEmpty else { throw DaemonError(.config, "--tls-cert \(certificate): holds no certificate") }
            let privateKey: NIOSSLPrivateKey
            do {
                privateKey = try NIOSSLPrivateKey(file: key, format: .pem)
            } catch {
                throw DaemonError(.config, "--tls-key \(key): not a readable PEM private key (\(error))")
            }
            return TLSConfiguration.makeServerConfiguration(certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(privateKey))
        }
    }

    public let state: DaemonState
    public let group: ServiceGroup
    public let scheduler: SchedulerService
    /// The personal tokens the server accepts.
    public let access: AccessStore
    /// `http` or `https`.
    public let scheme: String
    /// The port the server listens on, once it does (useful with port 0).
    public let boundPort: PortBox

    /// Loads and validates the loops and builds the service group (nothing runs yet).
    /// - Parameter onServerRunning: called with the bound port once the server listens.
    /// - Throws: `DaemonError` when no loop can be loaded, the transport is refused (plain
    ///   HTTP beyond loopback, a bad certificate) or the token store cannot be opened.
    public static func make(
        _ options: Options, logger: Logger, signals: Bool = true, onServerRunning: (@Sendable (Int) -> Void)? = nil
    ) throws(DaemonError) -> (Daemon, [String: String]) {
        try options.checkTransport()
        let tls = try options.tlsConfiguration()
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
        let access = try AccessStore.open(directory: stateDirectory)
        let displayHost = options.host.contains(":") ? "[\(options.host)]" : options.host
        let scheme = tls == nil ? "http" : "https"
        let state = DaemonState(catalog: catalog, sources: options.sources, baseURL: "\(scheme)://\(displayHost):\(options.port)")
        let boundPort = PortBox()
        let server = ReviewServer(state: state, access: access, tls: tls, logger: logger)
        let application: any Service
        do {
            application = try server.application(host: options.host, port: options.port) { port in
                boundPort.set(port)
                state.baseURL.withLock { $0 = "\(scheme)://\(displayHost):\(port)" }
                onServerRunning?(port)
            }
        } catch {
            throw DaemonError(.config, "cannot set up TLS: \(error)")
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
        return (Daemon(state: state, group: group, scheduler: scheduler, access: access, scheme: scheme, boundPort: boundPort), catalog.problems)
    }

    /// Gives SwiftNIO's process-wide event loop group (the HTTP server's, and the model
    /// proposers' HTTP client's) one thread instead of one per core: the daemon serves a few
    /// reviewers, and each idle event-loop thread costs a stack and an epoll set. Call once,
    /// before anything uses NIO (NIO refuses a second call); `NIO_SINGLETON_GROUP_LOOP_COUNT`
    /// in the environment still wins.
    public static func useOneEventLoopThread() {
        guard ProcessInfo.processInfo.environment["NIO_SINGLETON_GROUP_LOOP_COUNT"] == nil else { return }
        NIOSingletons.groupLoopCountSuggestion = 1
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
