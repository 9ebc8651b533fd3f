import ArgumentParser
import Foundation
import Core
import Report
import Runner
import Store

struct Log: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List the loop's candidates: outcome, reason, effect with its interval, commit.")

    @OptionGroup var options: ConfigOption
    @Option(help: "Only candidates with this outcome (accepted, rejected, inconclusive, interrupted).") var outcome: String?
    @Flag(help: "Print JSON.") var json = false

    func run() async throws {
        try await reporting {
            let workspace = try options.open()
            var candidates = try workspace.store.candidates(loop: workspace.config.name)
            if let outcome { candidates = candidates.filter { $0.outcome == outcome } }
            if json {
                return try printJSON(candidates.map(CandidateSummary.init))
            }
            if candidates.isEmpty { return print("no candidates yet") }
            let effects = candidates.map { Format.effect(estimate: $0.estimate, lower: $0.lower, upper: $0.upper) }
            // Wide enough for the widest effect (a 10x win prints "+862.7% [+701.3%, +1056.6%]").
            let width = max(27, (effects.map(\.count).max() ?? 0) + 2)
            print("ID".padded(5) + "#".padded(4) + "PROPOSER".padded(9) + "OUTCOME".padded(13) + "EFFECT [interval]".padded(width) + "COMMIT".padded(11) + "TITLE — REASON")
            for (c, effect) in zip(candidates, effects) {
                let reason = c.reason.map { " — " + $0.replacingOccurrences(of: "\n", with: " ") } ?? ""
                print(
                    String(c.id ?? 0).padded(5) + String(c.sequence).padded(4) + c.proposer.padded(9) + (c.outcome ?? c.state).padded(13)
                        + effect.padded(width) + String((c.commit ?? "-").prefix(10)).padded(11) + (c.title + reason).clipped(140))
            }
        }
    }
}
