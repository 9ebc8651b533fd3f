import ArgumentParser
import CBuildInfo

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
            Reject.self, Promote.self, Rollback.self, Reset.self, Audit.self, DaemonCommand.self, TokenCommand.self, ReportCommand.self,
            WorkerCommand.self,
        ]
    )

    /// The release number, kept by hand and raised when a release is tagged.
    static let release = "0.1.0"

    /// What `ratchet --version` prints: the release number, and the `git describe` of the
    /// checkout the binary was built from when the build was given it (`make` does; see
    /// Package.swift), e.g. `0.1.0 (v0.1.0-12-g3f2a9c1-dirty)`.
    static let version: String = {
        let describe = String(cString: ratchet_git_describe())
        return describe.isEmpty ? release : "\(release) (\(describe))"
    }()
}
