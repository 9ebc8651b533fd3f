import ArgumentParser
import Core
import Foundation
import Git
import Runner
import Store

struct Promote: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Move the approved changes of the loop onto a branch.",
        discussion: """
            Only the approved prefix of ratchet/<loop> is promoted: a fast-forward when the target \
            has not moved since, otherwise the approved commits are replayed onto it and the build \
            and tests run again on the result. The target is never overwritten, and a branch checked \
            out in your working tree is refused (merge it yourself with `git merge --ff-only`).
            """)

    @OptionGroup var options: ConfigOption
    @Option(help: "The target branch.") var to: String
    @Option(name: .customLong("as"), help: "Kept as a claim beside the OS user, who is recorded.") var actor: String?

    func run() async throws {
        try await acting(options, as: actor) { operations, who in
            let result = try await operations.promote(to: to, by: who)
            print(
                "promoted \(result.commits) approved change(s) to \(to) at \(result.commit.prefix(10)) (\(result.fastForward ? "fast-forward" : "replayed and re-tested"))"
            )
            if let stopped = result.stoppedAt { print("stopped before \(stopped)") }
        }
    }
}

struct Rollback: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Revert one accepted change on the loop branch (a revert commit, audited).")

    @OptionGroup var options: ConfigOption
    @Argument(help: "Candidate id.") var id: Int64
    @Option(name: .customLong("as"), help: "Kept as a claim beside the OS user, who is recorded.") var actor: String?
    @Option(help: "Why.") var reason: String?

    func run() async throws {
        try await acting(options, as: actor) { operations, who in
            let revert = try operations.rollback(id, by: who, reason: reason).short
            print("candidate \(id) rolled back by \(who.name): revert commit \(revert) on the loop branch")
        }
    }
}

struct Reset: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Return the loop branch to an earlier reviewed state: 'base', an approved candidate id, or a commit.")

    @OptionGroup var options: ConfigOption
    @Option(help: "Where to: base, a candidate id, or a commit on the loop branch whose history is approved.") var to: String
    @Option(name: .customLong("as"), help: "Kept as a claim beside the OS user, who is recorded.") var actor: String?

    func run() async throws {
        try await acting(options, as: actor) { operations, who in
            let destination = try operations.reset(to: to, by: who).short
            print("loop branch reset to \(destination) by \(who.name)")
        }
    }
}
