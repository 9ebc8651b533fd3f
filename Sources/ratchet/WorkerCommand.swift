import ArgumentParser
import Core
import Foundation
import Runner
import UnixSignals

/// `ratchet worker <job folder>`: what a Slurm job runs on its node.
struct WorkerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "worker",
        abstract: "Evaluate one candidate job on this machine (what a Slurm job runs; see docs/scale.md).",
        discussion: """
            Reads job.json and the bundle in the job folder, builds, tests and measures the \
            candidate against the best in a private folder under $TMPDIR, and writes result.json \
            into the job folder for the loop's controller to record. SIGTERM (scancel) stops it; \
            the candidate is then proposed again.
            """
    )

    @Argument(help: "The job folder the controller wrote.")
    var job: String

    func run() async throws {
        let stop = StopSwitch()
        let job = self.job
        let result = try await runAsService(
            gracefulShutdownSignals: [.sigterm], onShutdown: { stop.stop("the Slurm job was cancelled (SIGTERM)") }
        ) {
            await Worker.run(jobFolder: job, stop: stop) { event in
                if case .note(let text) = event { FileHandle.standardError.write(Data(("ratchet worker: " + text + "\n").utf8)) }
            }
        }
        if let error = result.error {
            FileHandle.standardError.write(Data("ratchet worker: \(error)\n".utf8))
            throw ExitCode(ExitStatus.internalError.rawValue)
        }
        print("candidate: \(result.outcome?.rawValue ?? "?") on \(result.node): \(result.reason ?? "")")
    }
}
