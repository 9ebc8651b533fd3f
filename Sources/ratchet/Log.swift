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
            print("ID".padded(5) + "#".padded(4) + "PROPOSER".padded(9) + "OUTCOME".padded(13) + "EFFECT [interval]".padded(27) + "COMMIT".padded(11) + "TITLE — REASON")
            for c in candidates {
                let effect = Format.effect(estimate: c.estimate, lower: c.lower, upper: c.upper)
                let reason = c.reason.map { " — " + $0.replacingOccurrences(of: "\n", with: " ") } ?? ""
                print(
                    String(c.id ?? 0).padded(5) + String(c.sequence).padded(4) + c.proposer.padded(9) + (c.outcome ?? c.state).padded(13)
                        + effect.padded(27) + String((c.commit ?? "-").prefix(10)).padded(11) + (c.title + reason).clipped(140))
            }
        }
    }
}
