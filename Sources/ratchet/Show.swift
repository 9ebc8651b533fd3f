import ArgumentParser
import Core
import Foundation
import Report
import Runner
import Store

struct Show: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show one candidate: decision in numbers, diff, samples, step outputs.")

    @OptionGroup var options: ConfigOption
    @Argument(help: "The candidate's id (first column of `ratchet log`).") var id: Int64
    @Flag(help: "Print JSON.") var json = false

    func run() async throws {
        try await reporting {
            let workspace = try options.open()
            guard let candidate = try workspace.store.candidate(id: id), candidate.loop == workspace.config.name else {
                throw Failure(message: "no candidate \(id) in loop '\(workspace.config.name)'; `ratchet log` lists them", status: .usage)
            }
            let detail = try CandidateDetail.load(candidate, store: workspace.store, config: workspace.config)
            if json { return try printJSON(detail) }

            print("candidate \(id) (#\(candidate.sequence) of loop \(candidate.loop)): \(candidate.title)")
            print("proposer:  \(candidate.proposer) (\(candidate.source))")
            print("outcome:   \(candidate.outcome?.rawValue ?? candidate.state.label)\(candidate.rejection.map { " (\($0.rawValue))" } ?? "")")
            if let reason = candidate.reason { print("reason:    \(reason)") }
            if let estimate = candidate.estimate {
                print(
                    "effect:    \(Format.effect(estimate: estimate, lower: candidate.lower, upper: candidate.upper)) over \(candidate.pairs ?? 0) pairs; minimum \(Format.percent(candidate.threshold ?? 0))"
                )
            }
            print("parent:    \(candidate.parentCommit.prefix(10))" + (candidate.commit.map { "  commit: \($0.prefix(10))" } ?? ""))
            if let usage = detail.usage {
                print(String(format: "model:     %d input + %d output tokens, cost %.4f", usage.inputTokens, usage.outputTokens, usage.cost))
            }
            if let review = candidate.review { print("review:    \(review.rawValue)" + (candidate.checkpoint.map { " (checkpoint: \($0))" } ?? "")) }
            printSteps(detail.steps)
            printSamples(detail.series)
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

    func printSteps(_ steps: [StepRecord]) {
        print("\nsteps:")
        for step in steps {
            let wall = step.wallSeconds.map { String(format: " %.2fs", $0) } ?? ""
            print("  \(step.step.rawValue.padded(8)) \(step.status.rawValue.padded(7))\(wall) \(step.detail ?? "")")
            if step.status == .failed, let output = step.output, !output.isEmpty {
                for line in output.split(separator: "\n").suffix(15) { print("      | \(line)") }
            }
        }
    }

    /// The latest measurement's pairs: the objective first, then each extra benchmark and a
    /// wall-time confirmation round.
    func printSamples(_ series: [SampleSeries]) {
        for group in series {
            let title = group.benchmark.map { "samples of \($0)" } ?? "samples"
            print("\n\(title) (\(group.pairs.count) pairs, \(group.discarded) warm-up or pause-spanning runs discarded):")
            print("  pair  first      baseline     candidate")
            for pair in group.pairs {
                let first = pair.first?.rawValue ?? "?"
                print(String(format: "  %4d  %@  %11.5g  %12.5g", pair.pair + 1, first.padded(9), pair.baseline ?? .nan, pair.candidate ?? .nan))
            }
        }
    }
}
