import ArgumentParser
import Foundation
import Core
import Runner
import Store

struct Status: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show the loop's state, best commit and counts.")

    @OptionGroup var options: ConfigOption
    @Flag(help: "Print JSON.") var json = false

    struct Report: Codable {
        var loop: String
        var status: String
        var reason: String?
        var baseCommit: String
        var bestCommit: String
        var branch: String
        var candidates: [String: Int]
        var updatedAt: Date
    }

    func run() async throws {
        try await reporting {
            let workspace = try options.open()
            let name = workspace.config.name
            guard let loop = try workspace.store.loop(named: name) else {
                if json { try printJSON(["loop": name, "status": "never run"]) } else { print("loop \(name): never run (start it with `ratchet run`)") }
                return
            }
            let candidates = try workspace.store.candidates(loop: name)
            var counts: [String: Int] = [:]
            for candidate in candidates { counts[candidate.outcome ?? "running", default: 0] += 1 }
            let report = Report(
                loop: name, status: loop.status, reason: loop.statusReason, baseCommit: loop.baseCommit,
                bestCommit: loop.bestCommit, branch: "ratchet/\(name)", candidates: counts, updatedAt: loop.updatedAt)
            if json { return try printJSON(report) }
            print("loop:       \(name) (\(loop.status)\(loop.statusReason.map { ": \($0)" } ?? ""))")
            print("branch:     ratchet/\(name) at \(loop.bestCommit.prefix(10)), base \(loop.baseRef) \(loop.baseCommit.prefix(10))")
            print("candidates: \(candidates.count) — " + counts.sorted { $0.key < $1.key }.map { "\($0.value) \($0.key)" }.joined(separator: ", "))
            if let last = candidates.last {
                print("last:       #\(last.sequence) \(last.title) — \(last.outcome ?? last.state)")
            }
        }
    }
}
