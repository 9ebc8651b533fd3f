import ArgumentParser

@main
struct Ratchet: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ratchet",
        abstract: "Autonomous improvement loops over a git repository: only correct, measurably better changes are kept.",
        discussion: """
            A loop proposes a change, applies it in a worktree slot, gates, builds, tests and
            benchmarks it against the current best (interleaved runs), and commits it on the
            branch ratchet/<loop> only when the improvement is statistically clear. The user's
            checkout, HEAD and index are never touched.

            EXIT CODES
              0   success (for `run`: the loop stopped normally: exhausted, a budget tripped,
                  a checkpoint waits for review, paused-then-stopped, SIGINT/SIGTERM)
              1   `audit verify` found tampering
              64  bad command-line usage
              65  invalid config file (every problem is listed, with its key and line)
              66  repository problem: not a git repository, base ref missing
              69  the loop is already running in another process
              70  internal, storage or file-system error
              75  the best code itself no longer builds or benchmarks
            """,
        subcommands: [
            Init.self, Run.self, Status.self, Log.self, Show.self, Pause.self, Resume.self, Review.self, Approve.self,
            Reject.self, Promote.self, Rollback.self, Reset.self, Audit.self, DaemonCommand.self, TokenCommand.self, ReportCommand.self,
        ]
    )
}
