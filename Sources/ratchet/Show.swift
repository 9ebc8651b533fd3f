import ArgumentParser
import Foundation
import Core
import Report
import Runner
import Store

struct Show: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show one candidate: decision in numbers, diff, samples, step outputs.")

    @OptionGroup var options: ConfigOption
    @Argument(help: "The candidate's id (first column of `ratchet log`).") var id: Int64
    @Flag(help: "Print JSON.") var json = false

    struct Detail: Codable {
        var candidate: CandidateSummary
        var diff: String?
        var samples: [SampleRecord]
        var steps: [StepRecord]
        var usage: Usage?
        var prompt: String?
        var response: String?
    }

    struct Usage: Codable {
        var inputTokens: Int
        var outputTokens: Int
        var cost: Double
    }

    func run() async throws {
        try await reporting {
            let workspace = try options.open()
            guard let candidate = try workspace.store.candidate(id: id), candidate.loop == workspace.config.name else {
                throw Failure(message: "no candidate \(id) in loop '\(workspace.config.name)'; `ratchet log` lists them", status: .usage)
            }
            let samples = try workspace.store.samples(candidate: id)
            let steps = try workspace.store.steps(candidate: id)
            let usage = candidate.inputTokens.map { Usage(inputTokens: $0, outputTokens: candidate.outputTokens ?? 0, cost: candidate.cost ?? 0) }
            if json {
                return try printJSON(
                    Detail(
                        candidate: CandidateSummary(candidate), diff: candidate.diff, samples: samples, steps: steps, usage: usage,
                        prompt: candidate.prompt, response: candidate.response))
            }

            print("candidate \(id) (#\(candidate.sequence) of loop \(candidate.loop)): \(candidate.title)")
            print("proposer:  \(candidate.proposer) (\(candidate.source))")
            print("outcome:   \(candidate.outcome ?? candidate.state)\(candidate.rejection.map { " (\($0))" } ?? "")")
            if let reason = candidate.reason { print("reason:    \(reason)") }
            if let estimate = candidate.estimate {
                print("effect:    \(Format.effect(estimate: estimate, lower: candidate.lower, upper: candidate.upper)) over \(candidate.pairs ?? 0) pairs; minimum \(Format.percent(candidate.threshold ?? 0))")
            }
            print("parent:    \(candidate.parentCommit.prefix(10))" + (candidate.commit.map { "  commit: \($0.prefix(10))" } ?? ""))
            if let usage {
                print(String(format: "model:     %d input + %d output tokens, cost %.4f", usage.inputTokens, usage.outputTokens, usage.cost))
            }
            if let review = candidate.review { print("review:    \(review)" + (candidate.checkpoint.map { " (checkpoint: \($0))" } ?? "")) }
            print("\nsteps:")
            for step in steps {
                let wall = step.wallSeconds.map { String(format: " %.2fs", $0) } ?? ""
                print("  \(step.step.padded(8)) \(step.status.padded(7))\(wall) \(step.detail ?? "")")
                if step.status == "failed", let output = step.output, !output.isEmpty {
                    for line in output.split(separator: "\n").suffix(15) { print("      | \(line)") }
                }
            }
            // The objective first, then each extra benchmark and a wall-time confirmation round.
            let groups = [String?](
                [nil] + samples.compactMap(\.benchmark).reduce(into: [String]()) { if !$0.contains($1) { $0.append($1) } })
            for group in groups {
                let all = samples.filter { $0.benchmark == group }
                let measured = all.filter { !$0.warmup }
                guard !measured.isEmpty else { continue }
                let title = group.map { "samples of \($0)" } ?? "samples"
                print("\n\(title) (\(measured.count) runs, \(all.count - measured.count) warm-up or spanning a pause, discarded):")
                print("  pair  first      baseline     candidate")
                let byPair = Dictionary(grouping: measured, by: \.pair)
                for pair in byPair.keys.sorted() {
                    let runs = byPair[pair] ?? []
                    let base = runs.first { $0.arm == "baseline" }?.value
                    let cand = runs.first { $0.arm == "candidate" }?.value
                    let first = runs.first { $0.position == 0 }?.arm ?? "?"
                    print(String(format: "  %4d  %@  %11.5g  %12.5g", pair + 1, first.padded(9), base ?? .nan, cand ?? .nan))
                }
            }
            if let diff = candidate.diff {
                print("\ndiff:")
                print(diff)
            }
            if let prompt = candidate.prompt {
                print("\nprompt (secrets redacted):")
                print(prompt)
            }
            if let response = candidate.response {
                print("\nreply:")
                print(response)
            }
        }
    }
}
