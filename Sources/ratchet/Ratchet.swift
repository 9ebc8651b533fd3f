import ArgumentParser

@main
struct Ratchet: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ratchet",
        abstract: "Autonomous improvement loops over a git repository: only correct, measurably better changes are kept.",
        discussion: """
            A loop proposes a change, applies it in a worktree slot, gates, builds, tests and \
            benchmarks it against the current best (interleaved runs), and commits it on the branch \
            ratchet/<loop> only when the improvement is statistically clear. The user's checkout, \
            HEAD and index are never touched.

            Start with `ratchet init`, which writes a commented ratchet.toml and says what to do \
            next.


            """ + ExitStatus.helpSection,
        version: Ratchet.version,
        subcommands: [
            Init.self, Run.self, Status.self, Log.self, Show.self, Pause.self, Resume.self, Review.self, Approve.self,
            Reject.self, Promote.self, Rollback.self, Reset.self, Audit.self, DaemonCommand.self, TokenCommand.self, ReportCommand.self, WorkerCommand.self,
        ]
    )

    /// What `ratchet --version` prints: the release number, kept by hand and raised when a
    /// release is tagged. It names no commit: SwiftPM has no build-time step that could
    /// record `git describe` without a plugin, and asking git at run time would describe
    /// whatever the checkout holds now, not the code this binary was built from.
    static let version = "0.1.0"
}
