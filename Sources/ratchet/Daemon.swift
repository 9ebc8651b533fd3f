import ArgumentParser
import Core
import Foundation
import Logging
import Server
import Store

/// How the daemon writes its logs.
enum LogFormat: String, ExpressibleByArgument, CaseIterable {
    case text, json
}

struct DaemonCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "daemon",
        abstract: "Run every configured loop inside its schedule, with the HTTP API and the review web UI.",
        discussion: """
            Each loop runs when its [schedule] window is open (windows = ["22:00-06:00"], days = \
            [...], or always = true, the default) and is stopped at the next safe point when the \
            window ends; a morning report is then written into <state>/reports/. A loop waiting at a \
            checkpoint is started again once the change is reviewed (in the UI, the API or with \
            `ratchet approve`); one stopped by a budget once the budget no longer trips.

            The review UI and the JSON API listen on http://HOST:PORT (https with --tls-cert and \
            --tls-key). Each person logs in with a personal token (`ratchet token add NAME --role \
            reviewer`); what they do is recorded under that name. A daemon on an address other than \
            loopback refuses plain HTTP unless --insecure-http is given. /metrics is in Prometheus \
            text format.

            SIGHUP reloads the configuration (a file that fails validation keeps its previous \
            config, and the log says why). SIGTERM or SIGINT stop every loop at its next safe point \
            and exit 0. See docs/daemon.md for systemd units.
            """)

    @Option(name: .customLong("config"), help: "A loop's config file (repeatable).")
    var configs: [String] = []

    @Option(help: "A folder of loop configs: every *.toml in it, and */ratchet.toml.")
    var loops: String?

    @Option(help: "The port of the HTTP API and review UI (0: any free port).")
    var port: Int = 8470

    @Option(help: "The address to listen on. Beyond loopback, serve HTTPS (--tls-cert, --tls-key) or pass --insecure-http.")
    var host: String = "127.0.0.1"

    @Option(help: "The folder holding the personal tokens (default: the first loop's state folder).")
    var state: String?

    @Option(name: .customLong("tls-cert"), help: "PEM certificate chain: serve HTTPS (with --tls-key).")
    var tlsCert: String?

    @Option(name: .customLong("tls-key"), help: "PEM private key of --tls-cert.")
    var tlsKey: String?

    @Flag(name: .customLong("insecure-http"), help: "Allow plain HTTP on an address other than loopback (tokens cross the network in clear text).")
    var insecureHTTP = false

    @Option(help: "Log format: text or json (one object per line).")
    var logFormat: LogFormat = .text

    @Option(help: "Log level: trace, debug, info, notice, warning, error.")
    var logLevel: String = "info"

    func validate() throws {
        if !(0...65535).contains(port) { throw ValidationError("--port must be between 0 and 65535") }
        if Logger.Level(rawValue: logLevel) == nil {
            throw ValidationError("--log-level must be one of trace, debug, info, notice, warning, error, critical")
        }
    }

    func run() async throws {
        Daemon.useOneEventLoopThread()
        try await reporting {
            let level = Logger.Level(rawValue: logLevel) ?? .info
            let format = logFormat
            LoggingSystem.bootstrap { label in
                var handler: any LogHandler = format == .json ? JSONLogHandler(label: label) : StreamLogHandler.standardError(label: label)
                handler.logLevel = level
                return handler
            }
            let logger = Logger(label: "ratchet")
            if !Daemon.Options.isLoopback(host) && tlsCert == nil && insecureHTTP {
                logger.warning("listening on \(host) over plain HTTP (--insecure-http): tokens and session cookies cross the network in clear text")
            }
            var configs = self.configs
            if configs.isEmpty && loops == nil {
                guard FileManager.default.fileExists(atPath: "ratchet.toml") else {
                    throw Failure(message: "no loop to run: pass --config FILE (repeatable) or --loops DIR", status: .usage)
                }
                configs = ["ratchet.toml"]
            }
            let options = Daemon.Options(
                sources: LoopSources(configPaths: configs, loopsDirectory: loops), host: host, port: port, stateDirectory: state,
                tlsCertificate: tlsCert,
                tlsKey: tlsKey, insecureHTTP: insecureHTTP)
            let scheme = tlsCert == nil ? "http" : "https"
            let daemon: Daemon
            let problems: [String: String]
            do throws(DaemonError) {
                (daemon, problems) = try Daemon.make(options, logger: logger) { port in
                    logger.info("review UI and API on \(scheme)://\(host):\(port)/ (log in with a personal token: `ratchet token add NAME`)")
                }
            } catch {
                throw Failure(daemon: error)
            }
            for (file, problem) in problems.sorted(by: { $0.key < $1.key }) {
                logger.error("config \(file) not used: \(problem)")
            }
            for entry in daemon.state.catalog.loops {
                logger.info("loop \(entry.name): schedule \(entry.config.schedule.summary) (\(entry.configPath))")
            }
            if (try? daemon.access.store.hasLiveToken()) != true {
                logger.warning(
                    "no live access token: nobody can log in; make one with `ratchet token add NAME --role admin --state \(daemon.access.directory)`")
            }
            logger.info("tokens in \(daemon.access.store.path)")
            do {
                try await daemon.run()
            } catch {
                let text = "\(error)"
                let hint = text.contains("Address already in use") ? " (is another daemon running? pick another --port)" : ""
                throw Failure(message: "the daemon stopped on an error: \(text)\(hint)", status: .internalError)
            }
            logger.info("daemon stopped")
        }
    }
}

extension Failure {
    init(daemon error: DaemonError) {
        let status: ExitStatus =
            switch error.kind {
            case .usage: .usage
            case .config: .invalidConfig
            case .io, .store: .internalError
            }
        self.init(message: error.message, status: status)
    }
}
