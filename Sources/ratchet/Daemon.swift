import ArgumentParser
import Core
import Foundation
import Logging
import Server

/// How the daemon writes its logs.
enum LogFormat: String, ExpressibleByArgument, CaseIterable {
    case text, json
}

struct DaemonCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "daemon",
        abstract: "Run every configured loop inside its schedule, with the HTTP API and the review web UI.",
        discussion: """
            Each loop runs when its [schedule] window is open (windows = ["22:00-06:00"], days = [...], or always = true, the default) and is stopped at the next safe point when the window ends; a morning report is then written into <state>/reports/. A loop waiting at a checkpoint is started again once the change is reviewed (in the UI, the API or with `ratchet approve`); one stopped by a budget once the budget no longer trips.

            The review UI and the JSON API listen on http://HOST:PORT behind the token in <state>/token (`ratchet token` prints it and the login link). /metrics is in Prometheus text format.

            SIGHUP reloads the configuration (a file that fails validation keeps its previous config, and the log says why). SIGTERM or SIGINT stop every loop at its next safe point and exit 0. See docs/daemon.md for systemd units.
            """)

    @Option(name: .customLong("config"), help: "A loop's config file (repeatable).")
    var configs: [String] = []

    @Option(help: "A folder of loop configs: every *.toml in it, and */ratchet.toml.")
    var loops: String?

    @Option(help: "The port of the HTTP API and review UI (0: any free port).")
    var port: Int = 8470

    @Option(help: "The address to listen on. Keep 127.0.0.1 unless a TLS proxy is in front.")
    var host: String = "127.0.0.1"

    @Option(help: "The folder holding the access token (default: the first loop's state folder).")
    var state: String?

    @Option(help: "Log format: text or json (one object per line).")
    var logFormat: LogFormat = .text

    @Option(help: "Log level: trace, debug, info, notice, warning, error.")
    var logLevel: String = "info"

    func validate() throws {
        if !(0...65535).contains(port) { throw ValidationError("--port must be between 0 and 65535") }
        if Logger.Level(rawValue: logLevel) == nil { throw ValidationError("--log-level must be one of trace, debug, info, notice, warning, error, critical") }
    }

    func run() async throws {
        try await reporting {
            let level = Logger.Level(rawValue: logLevel) ?? .info
            let format = logFormat
            LoggingSystem.bootstrap { label in
                var handler: any LogHandler = format == .json ? JSONLogHandler(label: label) : StreamLogHandler.standardError(label: label)
                handler.logLevel = level
                return handler
            }
            let logger = Logger(label: "ratchet")
            if !["127.0.0.1", "::1", "localhost"].contains(host) {
                logger.warning("listening on \(host): the token and session cookie travel in clear text; put a TLS proxy in front, or keep 127.0.0.1")
            }
            var configs = self.configs
            if configs.isEmpty && loops == nil {
                guard FileManager.default.fileExists(atPath: "ratchet.toml") else {
                    throw Failure(message: "no loop to run: pass --config FILE (repeatable) or --loops DIR", code: 64)
                }
                configs = ["ratchet.toml"]
            }
            let options = Daemon.Options(sources: LoopSources(configPaths: configs, loopsDirectory: loops), host: host, port: port, stateDirectory: state)
            let daemon: Daemon
            let problems: [String: String]
            do throws(DaemonError) {
                (daemon, problems) = try Daemon.make(options, logger: logger) { port in
                    logger.info("review UI and API on http://\(host):\(port)/ (log in with the link `ratchet token` prints)")
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
            logger.info("token in \(daemon.token.path)")
            do {
                try await daemon.run()
            } catch {
                let text = "\(error)"
                let hint = text.contains("Address already in use") ? " (is another daemon running? pick another --port)" : ""
                throw Failure(message: "the daemon stopped on an error: \(text)\(hint)", code: 70)
            }
            logger.info("daemon stopped")
        }
    }
}

extension Failure {
    init(daemon error: DaemonError) {
        let code: Int32
        switch error.kind {
        case .usage: code = 64
        case .config: code = 65
        case .io, .store: code = 70
        }
        self.init(message: error.message, code: code)
    }
}
