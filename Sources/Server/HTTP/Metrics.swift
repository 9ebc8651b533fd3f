import Core
import Foundation
import Report
import Store

/// `/metrics` in the Prometheus text exposition format (version 0.0.4), computed from the
/// stores at scrape time.
enum Metrics {
    /// One metric: its help, type and samples; `suffix` follows the family name (`_sum`,
    /// `_count` for a summary).
    struct Family {
        var name: String
        var help: String
        var type: String
        var samples: [(suffix: String, labels: [(String, String)], value: Double)] = []
    }

    /// The families in the order first added.
    struct Exposition {
        var families: [String: Family] = [:]
        var order: [String] = []

        mutating func add(_ name: String, _ type: String, _ help: String, _ labels: [(String, String)], _ value: Double, suffix: String = "") {
            if families[name] == nil {
                families[name] = Family(name: name, help: help, type: type)
                order.append(name)
            }
            families[name]?.samples.append((suffix, labels, value))
        }

        var text: String {
            var out = ""
            for name in order {
                guard let family = families[name] else { continue }
                out += "# HELP \(name) \(family.help)\n# TYPE \(name) \(family.type)\n"
                for sample in family.samples {
                    let labels = sample.labels.map { "\($0.0)=\"\(escape($0.1))\"" }.joined(separator: ",")
                    out += "\(name)\(sample.suffix){\(labels)} \(number(sample.value))\n"
                }
            }
            return out
        }
    }

    static func render(_ state: DaemonState) -> String {
        var metrics = Exposition()
        for entry in state.catalog.loops {
            let phase = state.control(entry.name).phase
            let loop = [("loop", entry.name)]
            metrics.add("ratchet_daemon_running", "gauge", "1 while the daemon runs the loop's runner.", loop, phase.phase == "running" ? 1 : 0)
            metrics.add(
                "ratchet_daemon_held", "gauge", "1 while the loop waits for a review, a budget or its proposers.", loop, phase.phase == "held" ? 1 : 0
            )
            loopFigures(entry, into: &metrics)
        }
        return metrics.text
    }

    /// The figures of the loop's store (none when it cannot be read, or the loop never ran).
    static func loopFigures(_ entry: LoopEntry, into metrics: inout Exposition) {
        let loop = ("loop", entry.name)
        guard let record = try? entry.store.loop(named: entry.name), let figures = try? entry.store.loopFigures(loop: entry.name),
            let runs = try? entry.store.runs(loop: entry.name)
        else { return }
        let overview = LoopOverview.make(
            record: record, figures: figures, runs: runs, stateDirectory: entry.stateDirectory, limits: entry.config.budget)
        func add(_ name: String, _ type: String, _ help: String, _ labels: [(String, String)], _ value: Double, suffix: String = "") {
            metrics.add(name, type, help, labels, value, suffix: suffix)
        }
        for outcome in Outcome.allCases.map(\.rawValue) + ["running"] {
            add(
                "ratchet_candidates", "gauge", "Candidates by outcome (running: in flight).", [loop, ("outcome", outcome)],
                Double(overview.candidates[outcome] ?? 0))
        }
        for (kind, count) in figures.tally.rejections.map({ ($0.key?.rawValue ?? Outcome.rejected.rawValue, $0.value) }).sorted(by: { $0.0 < $1.0 }) {
            add("ratchet_rejections", "gauge", "Rejected candidates by reason.", [loop, ("reason", kind)], Double(count))
        }
        add("ratchet_accepts_total", "counter", "Accepted changes over the loop's life.", [loop], Double(overview.accepted))
        add(
            "ratchet_improvement_ratio", "gauge", "Relative improvement of the current best over the base (0.25 = 25% better).", [loop],
            overview.improvement)
        let lastAccepted = try? entry.store.lastCandidate(loop: entry.name, outcome: .accepted)
        add("ratchet_last_accept_effect_ratio", "gauge", "Estimated effect of the latest accepted change.", [loop], lastAccepted?.estimate ?? 0)
        add("ratchet_pending_review", "gauge", "Accepted changes waiting for a human review.", [loop], Double(overview.pendingReview))
        add("ratchet_checkpoint_waiting", "gauge", "1 while a checkpoint holds the loop.", [loop], overview.checkpoints.isEmpty ? 0 : 1)
        add("ratchet_paused", "gauge", "1 while a pause flag (loop or global) is set.", [loop], overview.paused == nil ? 0 : 1)
        add("ratchet_tokens_total", "counter", "Model tokens (input + output) used.", [loop], Double(overview.budget.tokens))
        add("ratchet_cost_total", "counter", "Model cost used.", [loop], overview.budget.cost)
        for ratio in overview.budgetRatios {
            add("ratchet_budget_used", "gauge", "Use of each configured budget.", [loop, ("budget", ratio.key)], ratio.used)
            add("ratchet_budget_limit", "gauge", "Each configured budget's limit.", [loop, ("budget", ratio.key)], ratio.limit)
        }
        for total in (try? entry.store.stepTotals(loop: entry.name)) ?? [] {
            let labels = [loop, ("step", total.step.rawValue)]
            let help = "Wall time of finished steps."
            add("ratchet_step_duration_seconds", "summary", help, labels, total.seconds, suffix: "_sum")
            add("ratchet_step_duration_seconds", "summary", help, labels, Double(total.count), suffix: "_count")
            add("ratchet_step_failures_total", "counter", "Steps that failed.", labels, Double(total.failed))
        }
    }

    static func escape(_ value: String) -> String {
        value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"").replacingOccurrences(of: "\n", with: "\\n")
    }

    static func number(_ value: Double) -> String {
        if value.isNaN { return "NaN" }
        if value.isInfinite { return value > 0 ? "+Inf" : "-Inf" }
        if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        return String(value)
    }
}
