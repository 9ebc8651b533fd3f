import ArgumentParser
import Core
import Foundation
import Git
import Runner
import Store

struct Audit: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "The tamper-evident audit log.", subcommands: [Verify.self, ShowLog.self])

    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "verify",
            abstract:
                "Check the hash chain and its anchors (head file, commit trailers); exits 1 and names the first bad entry if anything was edited, deleted, reordered, truncated or appended out of band."
        )

        @OptionGroup var options: ConfigOption
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            try await reporting {
                let workspace = try options.open()
                var anchors: [String] = []
                if let tip = try? workspace.repository.referenceTarget(workspace.config.branch),
                    let loop = try workspace.store.loop(named: workspace.config.name), let base = try? ObjectID(hex: loop.baseCommit)
                {
                    for commit in (try? workspace.repository.firstParentHistory(from: tip, to: base)) ?? [] {
                        if let anchor = try? workspace.repository.trailers(ofCommit: commit)["Ratchet-Audit"] { anchors.append(anchor) }
                    }
                }
                let result = try workspace.audit.verify(commitAnchors: anchors)
                if json {
                    try printJSON(result)
                } else if result.ok {
                    print("audit log OK: \(result.entries) entries, chain intact, head and \(anchors.count) commit anchor(s) match")
                } else {
                    print("audit log TAMPERED: first bad entry \(result.firstBad ?? 0): \(result.problem ?? "")")
                }
                if !result.ok { throw ExitStatus.tampered.exitCode }
            }
        }
    }

    struct ShowLog: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "show",
            abstract: "Print the audit trail; each actor with how it was established (token, browser session, OS user, the loop).")

        @OptionGroup var options: ConfigOption
        @Flag(help: "Print JSON.") var json = false
        @Flag(help: "Entries of every loop in this state folder, not just this one.") var all = false

        func run() async throws {
            try await reporting {
                let workspace = try options.open()
                let entries = try workspace.audit.entries(loop: all ? nil : workspace.config.name)
                if json { return try printJSON(entries) }
                let hidden: Set<String> = ["auth", "actor_id", "git_user"]
                for entry in entries {
                    let all = entry.fields
                    let fields = all.filter { !hidden.contains($0.key) }.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(
                        separator: " ")
                    let how = Actor.established(actor: entry.actor, fields: all)
                    print("\(String(entry.seq).padded(5)) \(entry.time)  \(entry.kind.padded(16)) \(entry.actor.padded(12)) [\(how)] \(fields)")
                }
            }
        }
    }
}
