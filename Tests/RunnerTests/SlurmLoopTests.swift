import Core
import Execution
import Foundation
import Runner
import Store
import TestSupport
import Testing

/// `[executor] kind = "slurm"` with two candidates in flight, on a real single-node Slurm
/// (munged, slurmctld, slurmd) started for the suite and stopped after it: each candidate's
/// build, test and measurement run as a Slurm job (`ratchet worker`), the controller records
/// what comes back.
@Suite(.serialized, .slurmCluster) struct SlurmLoopTests {
    let cluster: SlurmCluster

    init() throws {
        cluster = try #require(SlurmCluster.current, "the suite's cluster")
    }

    func make(patches: [String: String], build: Double) throws -> GitFixture {
        try ParallelTests.make(
            patches: patches, build: build,
            extra: "\n[executor]\nkind = \"slurm\"\npartition = \"\(cluster.partition)\"\nexclusive = false\nslurm_conf = \"\(cluster.configPath)\"\n"
        )
    }

    /// A real speed-up is accepted and a broken change rejected, each by a job on the node,
    /// with the job's steps and samples recorded by the controller.
    @Test func aSlurmLoopAcceptsAWinAndRejectsABrokenChange() async throws {
        let fixture = try make(patches: ["01-bonus.diff": ParallelTests.bonus, "02-speed3.diff": ParallelTests.speed3], build: 0.2)
        defer { fixture.remove() }
        let (summary, workspace) = try await runLoop(fixture)
        let candidates = try workspace.store.candidates(loop: "tiny")
        let win = try #require(candidates.first { $0.source == "01-bonus.diff" })
        let broken = try #require(candidates.first { $0.source == "02-speed3.diff" })
        #expect(win.outcome == .accepted, "\(win.reason ?? "")")
        #expect(broken.outcome == .rejected && broken.rejection == .testFailed, "\(broken.reason ?? "")")
        #expect(broken.reason?.contains("on \(cluster.nodeName)") == true, "\(broken.reason ?? "")")
        #expect(summary.accepted == 1)
        #expect(try fixture.git("show", "ratchet/tiny:src/bonus.txt") == "2\n")
        // The job's own steps and samples are in the controller's store.
        let steps = try workspace.store.steps(candidate: try #require(win.id))
        #expect(steps.contains { $0.step == .build && ($0.detail ?? "").contains("Slurm job") })
        #expect(steps.contains { $0.step == .measure && ($0.detail ?? "").hasPrefix("on \(cluster.nodeName)") })
        #expect(try workspace.store.samples(candidate: try #require(win.id)).contains { !$0.warmup })
        #expect(try workspace.audit.entries(loop: "tiny").filter { $0.kind == "slurm_job" }.count == 2)
        #expect(try workspace.audit.verify().ok)
    }

    /// The pause switch suspends the running job (`scontrol suspend`); resuming continues it,
    /// and the candidate is decided as usual.
    @Test func pauseSuspendsTheJobAndResumeContinuesIt() async throws {
        let fixture = try make(patches: ["01-bonus.diff": ParallelTests.bonus], build: 2)
        defer { fixture.remove() }
        let workspace = try Workspace(configPath: fixture.path + "/ratchet.toml")
        let pause = PauseSwitch(stateDirectory: workspace.stateDirectory, loop: "tiny")
        let client = try SlurmClient(environment: cluster.environment)
        let audit = workspace.audit
        let runner = try LoopRunner(workspace: workspace, emit: { _ in })
        let person = Task.detached { () -> String in
            for _ in 0..<300 {
                if let number = (try? audit.entries(loop: "tiny"))?.last(where: { $0.kind == "slurm_job" })?.fields["job"].flatMap({ UInt64($0) }) {
                    let job = SlurmJobID(rawValue: number)
                    guard case .running = (try? await client.state(of: job)) ?? .unknown else {
                        try? await Task.sleep(for: .milliseconds(50))
                        continue
                    }
                    try? pause.pause(note: "test")
                    var seen = "not suspended"
                    for _ in 0..<40 {
                        try? await Task.sleep(for: .milliseconds(50))
                        if case .suspended = (try? await client.state(of: job)) ?? .unknown {
                            seen = "suspended"
                            break
                        }
                    }
                    pause.resume()
                    return seen
                }
                try? await Task.sleep(for: .milliseconds(50))
            }
            pause.resume()
            return "never saw the job run"
        }
        let summary = try await runner.run()
        #expect(await person.value == "suspended")
        #expect(summary.accepted == 1, "\(summary.stopReason)")
    }

    /// A `scancel` from outside ends the job without a result: the candidate is recorded as
    /// interrupted, the loop goes on, and proposes it again.
    @Test func aJobCancelledFromOutsideIsAnInterruptedCandidateProposedAgain() async throws {
        // A 5 s build keeps the first job running while the cancel lands; `scancel` is tried
        // again when it fails (a loaded controller once let a single try pass silently, the
        // job ran to its end and nothing was interrupted).
        let fixture = try make(patches: ["01-bonus.diff": ParallelTests.bonus], build: 5)
        defer { fixture.remove() }
        let workspace = try Workspace(configPath: fixture.path + "/ratchet.toml")
        let client = try SlurmClient(environment: cluster.environment)
        let audit = workspace.audit
        let runner = try LoopRunner(workspace: workspace, emit: { _ in })
        let person = Task.detached { () -> String in
            for _ in 0..<300 {
                if let number = (try? audit.entries(loop: "tiny"))?.first(where: { $0.kind == "slurm_job" })?.fields["job"].flatMap({ UInt64($0) }) {
                    try? await Task.sleep(for: .milliseconds(300))
                    var failures: [String] = []
                    for _ in 0..<10 {
                        do {
                            try await client.cancel(SlurmJobID(rawValue: number))
                            return "cancelled"
                        } catch {
                            failures.append("\(error)")
                            try? await Task.sleep(for: .milliseconds(200))
                        }
                    }
                    return "scancel failed: \(failures)"
                }
                try? await Task.sleep(for: .milliseconds(50))
            }
            return "no job was submitted"
        }
        let summary = try await runner.run()
        #expect(await person.value == "cancelled")
        let candidates = try workspace.store.candidates(loop: "tiny")
        let interrupted = try #require(candidates.first { $0.outcome == .interrupted })
        #expect(interrupted.reason?.contains("Slurm job") == true, "\(interrupted.reason ?? "")")
        #expect(
            candidates.contains { $0.source == "01-bonus.diff" && $0.outcome == .accepted },
            "\(candidates.map { "\($0.source) \($0.outcome?.rawValue ?? "")" })")
        #expect(summary.accepted == 1)
    }

    /// A job that a controller killed with `kill -9` left running is cancelled when the loop
    /// runs again (`<state>/<loop>.slurm-jobs` lists what was in flight).
    @Test func jobsLeftByAKilledControllerAreCancelledOnTheNextRun() async throws {
        let fixture = try make(patches: ["01-bonus.diff": ParallelTests.bonus], build: 0.2)
        defer { fixture.remove() }
        let client = try SlurmClient(environment: cluster.environment)
        let orphan = try await client.submit(
            script: "sleep 300", name: "orphan",
            options: SlurmOptions(
                partition: cluster.partition, exclusive: false, outputPath: fixture.path + "/.git/orphan.out", workingDirectory: fixture.path))
        let state = fixture.path + "/.git/ratchet"
        try FileManager.default.createDirectory(atPath: state, withIntermediateDirectories: true)
        try "\(orphan)\n".write(toFile: state + "/tiny.slurm-jobs", atomically: true, encoding: .utf8)
        let (summary, workspace) = try await runLoop(fixture)
        let end = try await client.waitUntilFinished(orphan, timeout: .seconds(30))
        #expect(end.state == .cancelled)
        #expect(try workspace.audit.entries(loop: "tiny").contains { $0.kind == "recovery" && $0.fields["cancelled"] == "Slurm job \(orphan)" })
        #expect(!((try? String(contentsOfFile: state + "/tiny.slurm-jobs", encoding: .utf8)) ?? "").contains("\(orphan)"))
        #expect(summary.accepted == 1)
    }
}
