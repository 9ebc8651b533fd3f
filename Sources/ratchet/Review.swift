import ArgumentParser
import Core
import Foundation
import Git
import Report
import Runner
import Store

struct Review: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List accepted changes waiting for human review, with their numbers and diff stat.",
        discussion:
            "Approve with `ratchet approve <id>`, reject (and roll back) with `ratchet reject <id> --reason …`; `ratchet show <id>` prints the diff and samples."
    )

    @OptionGroup var options: ConfigOption
    @Flag(help: "Print JSON.") var json = false

    func run() async throws {
        try await reporting {
            let workspace = try options.open()
            let pending = try workspace.store.pendingReview(loop: workspace.config.name)
            if json { return try printJSON(pending.map(CandidateSummary.init)) }
            if pending.isEmpty { return print("nothing waits for review in loop \(workspace.config.name)") }
            print("\(pending.count) accepted change(s) wait for review in loop \(workspace.config.name):\n")
            for c in pending {
                print("[\(c.id ?? 0)] \(c.title)")
                print(
                    "    effect \(Format.effect(estimate: c.estimate, lower: c.lower, upper: c.upper)) over \(c.pairs ?? 0) pairs; commit \((c.commit ?? "").prefix(10)); \(c.linesChanged ?? 0) line(s) changed"
                )
                if let paths = c.paths { print("    files: \(paths.split(separator: "\n").joined(separator: ", "))") }
                if let checkpoint = c.checkpoint { print("    CHECKPOINT: \(checkpoint)") }
                print("")
            }
            print("ratchet show <id> for the diff; ratchet approve <id> / ratchet reject <id> --reason \"…\"")
        }
    }
}

struct Approve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Approve an accepted change (recorded with who and when).")

    @OptionGroup var options: ConfigOption
    @Argument(help: "Candidate id.") var id: Int64
    @Option(name: .customLong("as"), help: "Kept as a claim beside the OS user, who is recorded as the approver.") var actor: String?
    @Option(help: "A note kept with the approval.") var note: String?
    @Flag(help: "Approve although you approved more than 5 changes in the last minute (flagged in the audit log).") var confirmBurst = false

    func run() async throws {
        try await acting(options, as: actor) { operations, who in
            let recent = try operations.recentApprovals(by: who.name, within: 60)
            if recent >= 5 && !confirmBurst {
                throw Failure(
                    message:
                        "\(who.name) approved \(recent) changes in the last minute; approving more in a burst needs --confirm-burst (and is flagged in the audit log)",
                    status: .usage)
            }
            let tally = try operations.approve(id, by: who, note: note, burst: recent >= 5)
            print("candidate \(id) \(tally.isMet ? "approved" : "approval recorded, not yet approved") by \(who.name): \(tally.summary)")
        }
    }
}

struct Reject: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Reject an accepted change: recorded, and rolled back with a revert commit.")

    @OptionGroup var options: ConfigOption
    @Argument(help: "Candidate id.") var id: Int64
    @Option(help: "Why (required).") var reason: String
    @Option(name: .customLong("as"), help: "Kept as a claim beside the OS user, who is recorded.") var actor: String?

    func run() async throws {
        try await acting(options, as: actor) { operations, who in
            let revert = try operations.reject(id, by: who, reason: reason).short
            print("candidate \(id) rejected by \(who.name) and rolled back (revert commit \(revert))")
        }
    }
}
