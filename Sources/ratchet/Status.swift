import ArgumentParser
import Core
import Foundation
import Report
import Runner
import Store

struct Status: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract:
            "One screen on every loop in the state folder: state (running, paused, waiting, stopped and why), best commit, counts, review queue, budgets."
    )

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
        /// Every loop in the state folder (this one included).
        var loops: [LoopOverview]
    }

    func run() async throws {
        try await reporting {
            let workspace = try options.open()
            let name = workspace.config.name
            var overviews: [LoopOverview] = []
            for record in try workspace.store.loops() {
                overviews.append(
                    LoopOverview.make(
                        record: record, figures: try workspace.store.loopFigures(loop: record.name),
                        runs: try workspace.store.runs(loop: record.name),
                        stateDirectory: workspace.stateDirectory, limits: record.name == name ? workspace.config.budget : nil))
            }
            let mine = overviews.first { $0.loop == name }
            if json {
                guard let mine else { return try printJSON(["loop": name, "state": "never run"]) }
                return try printJSON(
                    Report(
                        loop: name, state: mine.state, reason: mine.reason, pid: mine.pid, paused: mine.paused, baseCommit: mine.baseCommit,
                        bestCommit: mine.bestCommit, branch: mine.branch, candidates: mine.candidates, pendingReview: mine.pendingReview,
                        budget: mine.budget, updatedAt: mine.updatedAt, loops: overviews))
            }
            if overviews.count > 1 || (mine == nil && !overviews.isEmpty) {
                print(
                    "LOOP".padded(16) + "STATE".padded(11) + "BEST".padded(12) + "CAND".padded(6) + "ACC".padded(5) + "REVIEW".padded(8)
                        + "EFFECT".padded(10) + "LAST")
                for overview in overviews {
                    let marker = overview.loop == name ? "*" : " "
                    print(
                        (marker + overview.loop).clipped(15).padded(16) + overview.state.uppercased().padded(11)
                            + String(overview.bestCommit.prefix(10)).padded(12)
                            + String(overview.total).padded(6) + String(overview.accepted).padded(5) + String(overview.pendingReview).padded(8)
                            + Format.percent(overview.improvement).padded(10) + (overview.lastCandidate ?? "–").clipped(60))
                }
                print("")
            }
            guard let mine else {
                print("loop \(name): never run (start it with `ratchet run`)")
                return
            }
            print("loop:       \(name): \(mine.state.uppercased())\(mine.pid.map { " (pid \($0))" } ?? "")\(mine.reason.map { " — \($0)" } ?? "")")
            if let paused = mine.paused { print("pause:      \(paused)") }
            let baseRef = (try? workspace.store.loop(named: name))??.baseRef ?? workspace.config.base
            print("branch:     ratchet/\(name) at \(mine.bestCommit.prefix(10)), base \(baseRef) \(mine.baseCommit.prefix(10))")
            print("candidates: \(mine.total) — " + mine.candidates.sorted { $0.key < $1.key }.map { "\($0.value) \($0.key)" }.joined(separator: ", "))
            print(String(format: "effect:     ×%.2f on the metric since the base (product of accepted estimates)", 1 + mine.improvement))
            print("review:     \(mine.pendingReview) accepted change(s) wait for review" + (mine.pendingReview == 0 ? "" : " (`ratchet review`)"))
            if !mine.budgetLines.isEmpty { print("budgets:    " + mine.budgetLines.joined(separator: ", ")) }
            if let trip = mine.tripped { print("tripped:    \(trip.description)") }
            print("schedule:   \(workspace.config.schedule.summary) (for `ratchet daemon`)")
            if let last = mine.lastCandidate { print("last:       \(last)") }
            if let drift = DriftCheck.latest(workspace.audit, loop: name) {
                print("drift:      " + (drift.drifted ? "DRIFT — " : "consistent — ") + drift.message + " (checked \(drift.time.prefix(16)))")
            }
        }
    }
}
