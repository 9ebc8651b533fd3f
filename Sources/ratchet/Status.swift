import ArgumentParser
import Core
import Foundation
import Runner
import Store

struct Status: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show the loop's state (running, paused, waiting, stopped and why), best commit, budgets and counts.")

    @OptionGroup var options: ConfigOption
    @Flag(help: "Print JSON.") var json = false

    struct Report: Codable {
        var loop: String
        var state: String
        var reason: String?
        var pid: Int?
        var paused: String?
        var baseCommit: String
        var bestCommit: String
        var branch: String
        var candidates: [String: Int]
        var pendingReview: Int
        var budget: BudgetUse
        var updatedAt: Date
    }

    func run() async throws {
        try await reporting {
            let workspace = try options.open()
            let name = workspace.config.name
            let pause = PauseSwitch(stateDirectory: workspace.stateDirectory, loop: name)
            guard let loop = try workspace.store.loop(named: name) else {
                if json { try printJSON(["loop": name, "state": "never run"]) } else { print("loop \(name): never run (start it with `ratchet run`)") }
                return
            }
            let candidates = try workspace.store.candidates(loop: name)
            var counts: [String: Int] = [:]
            for candidate in candidates { counts[candidate.outcome ?? "running", default: 0] += 1 }
            let holder = LoopLock.holder(path: workspace.stateDirectory + "/\(name).lock")
            // The recorded status says "running" only while a process holds the lock.
            var state = loop.status
            if holder == nil && (state == "running" || state == "paused") { state = "stopped" }
            if holder != nil && pause.isPaused { state = "paused" }
            var reason = loop.statusReason
            if holder == nil && loop.status == "running" { reason = "the last run ended without recording why (crash or kill -9); `ratchet run` resumes" }
            let decided = candidates.filter { $0.outcome != nil && $0.outcome != "interrupted" }
            var use = BudgetUse()
            use.iterations = decided.count
            use.tokens = decided.reduce(0) { $0 + ($1.inputTokens ?? 0) + ($1.outputTokens ?? 0) }
            use.cost = decided.reduce(0) { $0 + ($1.cost ?? 0) }
            use.wallSeconds = try workspace.store.runs(loop: name).reduce(0) { $0 + ($1.endedAt ?? Date()).timeIntervalSince($1.startedAt) }
            let pending = decided.filter { $0.outcome == "accepted" && $0.review == "pending" }
            use.acceptsSinceReview = pending.count
            use.linesSinceReview = pending.reduce(0) { $0 + ($1.linesChanged ?? 0) }
            use.consecutiveFailures = decided.reversed().prefix { ["proposer_failed", "invalid_diff", "apply_failed", "gate", "build_failed", "test_failed", "bench_failed"].contains($0.rejection ?? "") }.count
            use.sinceImprovement = decided.reversed().prefix { $0.outcome != "accepted" }.count
            let report = Report(
                loop: name, state: state, reason: reason, pid: holder.map(Int.init), paused: pause.reason, baseCommit: loop.baseCommit,
                bestCommit: loop.bestCommit, branch: "ratchet/\(name)", candidates: counts, pendingReview: pending.count, budget: use,
                updatedAt: loop.updatedAt)
            if json { return try printJSON(report) }
            print("loop:       \(name): \(state.uppercased())\(holder.map { " (pid \($0))" } ?? "")\(reason.map { " — \($0)" } ?? "")")
            if let paused = pause.reason { print("pause:      \(paused)") }
            print("branch:     ratchet/\(name) at \(loop.bestCommit.prefix(10)), base \(loop.baseRef) \(loop.baseCommit.prefix(10))")
            let cumulative = decided.filter { $0.outcome == "accepted" && $0.review != "rolled_back" && $0.review != "rejected" && $0.review != "reset" }
                .reduce(1.0) { $0 * (1 + ($1.estimate ?? 0)) }
            print("candidates: \(candidates.count) — " + counts.sorted { $0.key < $1.key }.map { "\($0.value) \($0.key)" }.joined(separator: ", "))
            print(String(format: "effect:     ×%.2f on the metric since the base (product of accepted estimates)", cumulative))
            print("review:     \(pending.count) accepted change(s) wait for review" + (pending.isEmpty ? "" : " (`ratchet review`)"))
            let budget = workspace.config.budget
            var limits: [String] = []
            if let limit = budget.iterations { limits.append("iterations \(use.iterations)/\(limit)") }
            if let limit = budget.wallSeconds { limits.append(String(format: "wall clock %.0f/%.0f s", use.wallSeconds, limit)) }
            if let limit = budget.tokens { limits.append("tokens \(use.tokens)/\(limit)") }
            if let limit = budget.cost { limits.append(String(format: "cost %.2f/%.2f", use.cost, limit)) }
            if let limit = budget.consecutiveFailures { limits.append("failures in a row \(use.consecutiveFailures)/\(limit)") }
            if let limit = budget.plateau { limits.append("since improvement \(use.sinceImprovement)/\(limit)") }
            if let limit = budget.acceptsSinceReview { limits.append("accepts since review \(use.acceptsSinceReview)/\(limit)") }
            if let limit = budget.linesSinceReview { limits.append("lines since review \(use.linesSinceReview)/\(limit)") }
            if !limits.isEmpty { print("budgets:    " + limits.joined(separator: ", ")) }
            if let last = candidates.last {
                print("last:       #\(last.sequence) \(last.title) — \(last.outcome ?? last.state)")
            }
        }
    }
}
