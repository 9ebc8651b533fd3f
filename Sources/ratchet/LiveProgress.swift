import Core
import Foundation
import Report
import Runner
import Store
import Synchronization

/// `ratchet run`'s progress on a terminal: events that matter (a decision, a note) are
/// printed as lines, and one status line at the bottom is redrawn in place with the
/// candidate, its step, the samples so far with the running estimate, the current best,
/// and budget use. When standard output is not a terminal, every event is a plain line.
final class LiveProgress: Sendable {
    /// One candidate in flight (several with `[parallel] candidates`).
    struct Flight {
        var candidate = ""
        var step = ""
        var pairs = 0
        var estimate: Double?
    }

    struct State {
        /// By sequence number, in the order they started.
        var flights: [Int: Flight] = [:]
        var order: [Int] = []
        var best = ""
        var accepted = 0
        var decided = 0
        var drawn = false
    }

    let tty: Bool
    let budget: BudgetSpec
    let priorIterations: Int
    let priorWall: Double
    let started = Date()
    private let state = Mutex(State())

    /// - Parameters:
    ///   - store, loop: read once, for budget use before this run.
    init(tty: Bool, loop: String, store: Store, budget: BudgetSpec) {
        self.tty = tty
        self.budget = budget
        let use = (try? store.budgetUse(loop: loop)) ?? BudgetUse()
        priorIterations = use.iterations
        priorWall = use.wallSeconds
    }

    /// Whether standard output is a terminal (and `TERM` is not `dumb`).
    static var stdoutIsTerminal: Bool {
        isatty(STDOUT_FILENO) == 1 && ProcessInfo.processInfo.environment["TERM"] != "dumb"
    }

    func handle(_ event: RunEvent) {
        guard tty else { return Progress.print(event) }
        let (permanent, status) = state.withLock { state -> (Bool, String) in
            var permanent = false
            switch event {
            case .started(_, let best, _):
                state.best = best
                permanent = true
            case .candidate(let sequence, let id, let title, let best, let accepted):
                state.flights[sequence] = Flight(candidate: "#\(sequence) (id \(id)) \(title)", step: "propose")
                state.order.append(sequence)
                state.best = best
                state.accepted = accepted
            case .step(let sequence, let step):
                state.flights[sequence]?.step = step.rawValue
            case .sample(let sequence, let pair, _, _, let estimate):
                state.flights[sequence]?.pairs = pair + 1
                state.flights[sequence]?.estimate = estimate
            case .finished(let sequence, let outcome, _):
                state.flights[sequence] = nil
                state.order.removeAll { $0 == sequence }
                state.decided += 1
                if outcome == .accepted { state.accepted += 1 }
                permanent = true
            default:
                permanent = true
            }
            return (permanent, self.statusLine(state))
        }
        var output = "\r\u{1B}[2K"
        if permanent {
            Progress.print(event, to: &output)
        }
        if case .stopped = event {
            FileHandle.standardOutput.write(Data(output.utf8))
            return
        }
        output += status
        FileHandle.standardOutput.write(Data(output.utf8))
    }

    func statusLine(_ state: State) -> String {
        var parts: [String] = []
        let flights = state.order.compactMap { state.flights[$0] }
        for flight in flights {
            var step = flight.step
            if flight.step == "measure", flight.pairs > 0 {
                step += " \(flight.pairs) pair\(flight.pairs == 1 ? "" : "s")" + (flight.estimate.map { " est. \(Format.percent($0))" } ?? "")
            }
            if flights.count == 1 {
                parts.append(flight.candidate)
                if !step.isEmpty { parts.append(step) }
            } else {
                // With several in flight, each is its number and step.
                parts.append(String(flight.candidate.prefix { $0 != " " }) + " " + step)
            }
        }
        parts.append("best \(state.best)")
        parts.append("\(state.accepted) accepted")
        let elapsed = Date().timeIntervalSince(started)
        if let limit = budget.iterations { parts.append("iterations \(priorIterations + state.decided)/\(limit)") }
        if let limit = budget.wallSeconds {
            parts.append("wall \(Self.duration(priorWall + elapsed))/\(Self.duration(limit))")
        } else {
            parts.append(Self.duration(elapsed))
        }
        let line = parts.joined(separator: " · ")
        let width = Self.terminalWidth()
        return line.count < width ? line : String(line.prefix(max(10, width - 2))) + "…"
    }

    static func duration(_ seconds: Double) -> String {
        let total = Int(seconds)
        if total >= 3600 { return "\(total / 3600)h\(String(format: "%02d", total / 60 % 60))m" }
        if total >= 60 { return "\(total / 60)m\(String(format: "%02d", total % 60))s" }
        return "\(total)s"
    }

    static func terminalWidth() -> Int {
        var size = winsize()
        if ioctl(STDOUT_FILENO, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 20 { return Int(size.ws_col) }
        return 100
    }
}
