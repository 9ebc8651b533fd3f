import ArgumentParser
import Core
import Execution
import Foundation
import Runner
import UnixSignals

struct Run: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a loop until its proposers are exhausted, --max-iterations is reached, or it is interrupted.",
        discussion: """
            SIGINT or SIGTERM stop the loop at the next safe point: running commands are killed, the \
            candidate in flight is recorded as interrupted (and proposed again on the next run), and \
            the process exits 0. A second SIGINT exits at once. SIGUSR1 pauses (as `ratchet pause`), \
            SIGUSR2 resumes.

            Every normal stop exits 0: the proposers are exhausted, --max-iterations is reached, a \
            budget trips, a checkpoint waits for review, the loop is paused and stopped, or a signal \
            stops it.
            """
    )

    @OptionGroup var options: ConfigOption

    @Option(help: "Stop after this many candidates.")
    var maxIterations: Int?

    @Option(help: "Use this proposer instead of the config's (repeatable; e.g. --proposer patches).")
    var proposer: [String] = []

    @Option(help: "Candidates in flight at once (instead of [parallel] candidates).")
    var candidates: Int?

    @Flag(help: "Print the summary as JSON.")
    var json = false

    func validate() throws {
        if let maxIterations, maxIterations < 1 { throw ValidationError("--max-iterations must be at least 1") }
        if let candidates, !(1...64).contains(candidates) { throw ValidationError("--candidates must be between 1 and 64, found \(candidates)") }
    }

    func run() async throws {
        try await reporting {
            let stop = StopSwitch()
            let summary = try await runAsService(gracefulShutdownSignals: [.sigterm], onShutdown: { RunSignals.terminate(stop) }) {
                try await self.runLoop(stop: stop)
            }
            if json {
                try printJSON(summary)
            } else {
                print("")
                print(
                    "loop \(summary.loop): \(summary.candidates) candidate(s): \(summary.accepted) accepted, \(summary.rejected) rejected, \(summary.inconclusive) inconclusive"
                )
                print("best: \(summary.bestCommit.prefix(10)) on ratchet/\(summary.loop) (base \(summary.baseCommit.prefix(10)))")
                print("stopped: \(summary.stopReason)")
            }
        }
    }

    /// Opens the loop and runs it until it stops, handling SIGINT, SIGUSR1 and SIGUSR2
    /// meanwhile (`RunSignals`).
    /// - Throws: `RunnerError`, or `Failure` for a `--proposer` the config does not set up.
    func runLoop(stop: StopSwitch) async throws -> RunSummary {
        let workspace = try options.open()
        var overrides: [ProposerSpec]?
        if !proposer.isEmpty {
            overrides = try proposer.map { kind in
                if let spec = workspace.config.proposers.first(where: { $0.kind == kind }) { return spec }
                throw Failure(
                    message:
                        "--proposer \(kind): the config has no settings for '\(kind)' (configured: \(workspace.config.proposers.map(\.kind).joined(separator: ", ")))",
                    status: .usage)
            }
        }
        let quiet = json
        let progress = LiveProgress(
            tty: LiveProgress.stdoutIsTerminal, loop: workspace.config.name, store: workspace.store, budget: workspace.config.budget)
        let runner = try LoopRunner(
            workspace: workspace, options: RunOptions(maxIterations: maxIterations, proposers: overrides, stop: stop, candidates: candidates),
            emit: { event in if !quiet { progress.handle(event) } })
        let handler = RunSignals(stop: stop, pause: PauseSwitch(stateDirectory: workspace.stateDirectory, loop: workspace.config.name))
        let signals = await UnixSignalsSequence(trapping: .sigint, .sigusr1, .sigusr2)
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await handler.handle(signals) }
            defer { group.cancelAll() }
            return try await runner.run()
        }
    }
}

/// How `ratchet run` answers signals. SIGTERM is the service group's graceful shutdown
/// (`terminate`); the others arrive as a `UnixSignalsSequence` (`handle`): SIGINT stops the
/// loop at its next safe point, and a second one (or one after SIGTERM) kills what runs and
/// exits at once; SIGUSR1 pauses the loop and SIGUSR2 resumes it, through its flag file.
struct RunSignals: Sendable {
    let stop: StopSwitch
    let pause: PauseSwitch

    /// Handles `signals` until the task is cancelled.
    func handle(_ signals: UnixSignalsSequence) async {
        for await signal in signals {
            switch signal {
            case .sigint: interrupt()
            case .sigusr1: try? pause.pause(note: "by SIGUSR1 at \(Date().formatted(.iso8601))")
            case .sigusr2: pause.resume()
            default: break
            }
        }
    }

    func interrupt() {
        if stop.isSet {
            Self.say("second SIGINT: killing running commands and exiting now")
            CommandRunner.killAllRunning()
            exit(ExitStatus.interrupted.rawValue)
        }
        Self.say("SIGINT: stopping at the next safe point (again to force)…")
        stop.stop("stopped by SIGINT")
    }

    /// The graceful shutdown: the group's only shutdown signal is SIGTERM.
    static func terminate(_ stop: StopSwitch) {
        guard !stop.isSet else { return }
        say("SIGTERM: stopping at the next safe point…")
        stop.stop("stopped by SIGTERM")
    }

    static func say(_ text: String) {
        FileHandle.standardError.write(Data("ratchet: \(text)\n".utf8))
    }
}

enum Progress {
    static func print(_ event: RunEvent) {
        var text = ""
        print(event, to: &text)
        FileHandle.standardOutput.write(Data(text.utf8))
    }

    /// Appends the event's line (with its newline) to `output`.
    static func print(_ event: RunEvent, to output: inout String) {
        let line: String
        switch event {
        case .started(let loop, let best, let resumed):
            line = "loop \(loop): starting from \(best)" + (resumed > 0 ? " (settled \(resumed) candidate(s) left by an earlier run)" : "")
        case .candidate(let sequence, let id, let title, let best, let accepted):
            line = "#\(sequence) (id \(id)) \(title)   [best \(best), \(accepted) accepted so far]"
        case .step(let sequence, let step):
            line = "  #\(sequence) \(step.rawValue)…"
        case .sample(let sequence, let pair, let baseline, let candidate, let estimate):
            let effect = estimate.map { " running estimate \(Format.percent($0))" } ?? ""
            line = String(format: "  #%d pair %d: baseline %.4g, candidate %.4g", sequence, pair, baseline, candidate) + effect
        case .finished(let sequence, let outcome, let reason):
            line = "  #\(sequence) \(outcome.rawValue.uppercased()): \(reason)"
        case .note(let text):
            line = "  \(text)"
        case .stopped(let reason):
            line = "loop stopped: \(reason)"
        }
        output += line + "\n"
    }
}
