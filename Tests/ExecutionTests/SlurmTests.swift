import Foundation
import TestSupport
import Testing

@testable import Execution

#if canImport(Glibc)
    import Glibc
#endif

/// Polls `condition` every 50 ms for up to `seconds`; returns whether it held.
private func eventually(within seconds: Double, _ condition: () async throws -> Bool) async rethrows -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if try await condition() { return true }
        try? await Task.sleep(for: .milliseconds(50))
    }
    return try await condition()
}

private func lineCount(_ path: String) -> Int {
    guard let data = FileManager.default.contents(atPath: path) else { return 0 }
    return data.reduce(0) { $0 + ($1 == UInt8(ascii: "\n") ? 1 : 0) }
}

/// The typed client against a real single-node cluster (munged, slurmctld, slurmd) that the
/// suite starts once and stops after its last test. Serialized: jobs are exclusive, so each
/// test has the node to itself, and each cancels what it started, whatever happens.
@Suite(.serialized, .slurmCluster) struct SlurmTests {
    let cluster: SlurmCluster
    let client: SlurmClient

    init() throws {
        cluster = try #require(SlurmCluster.current, "the suite's cluster")
        client = try SlurmClient(environment: cluster.environment)
    }

    /// Runs `body` with a submitted job, and cancels the job afterwards even when it fails.
    private func withJob<T>(
        _ script: String, name: String, options: SlurmOptions = SlurmOptions(), _ body: (SlurmJobID) async throws -> T
    ) async throws -> T {
        let job = try await client.submit(script: script, name: name, options: options)
        do {
            let result = try await body(job)
            try await client.cancel(job)
            return result
        } catch {
            try? await client.cancel(job)
            throw error
        }
    }

    @Test func jobThatWritesAFileCompletesWithExitZero() async throws {
        let folder = try TemporaryFolder("slurm-job")
        defer { folder.remove() }
        let options = SlurmOptions(outputPath: folder.path + "/job.log", workingDirectory: folder.path)
        let end = try await withJob("echo \"hello from $SLURM_JOB_ID\" > result.txt", name: "writes-file", options: options) { job in
            let end = try await client.waitUntilFinished(job, poll: .milliseconds(100), timeout: .seconds(30))
            #expect(try await client.state(of: job) == .finished(end))
            #expect(try folder.read("result.txt") == "hello from \(job)\n")
            return end
        }
        #expect(end.state == .completed)
        #expect(end.exitStatus == 0 && end.signal == 0)
        #expect(end.nodes == cluster.nodeName)
    }

    /// A script that exits 3 is FAILED with status 3; it can no longer be suspended.
    @Test func failingJobIsFailedWithItsExitStatus() async throws {
        try await withJob("echo about to fail; exit 3", name: "fails", options: SlurmOptions(outputPath: "/dev/null")) { job in
            let end = try await client.waitUntilFinished(job, poll: .milliseconds(100), timeout: .seconds(30))
            #expect(end.state == .failed)
            #expect(end.exitStatus == 3)
            #expect(end.reason == "NonZeroExitCode")

            let error = await #expect(throws: SlurmError.self) { try await client.suspend(job) }
            #expect(error?.code == .wrongState)
            #expect(error?.description.contains("FAILED") == true)
        }
    }

    /// Suspended, the job's file stops growing and the state says so; resumed, it grows again.
    @Test func suspendFreezesAJobAndResumeContinuesIt() async throws {
        let folder = try TemporaryFolder("slurm-grow")
        defer { folder.remove() }
        let file = folder.path + "/lines.txt"
        let script = "while true; do echo line >> '\(file)'; sleep 0.1; done"
        try await withJob(script, name: "grows", options: SlurmOptions(outputPath: "/dev/null", workingDirectory: folder.path)) { job in
            #expect(await eventually(within: 20) { lineCount(file) >= 3 }, "the job never started writing")
            #expect(try await client.state(of: job) == .running(nodes: cluster.nodeName))

            try await client.suspend(job)
            #expect(try await client.state(of: job) == .suspended(nodes: cluster.nodeName))
            try await Task.sleep(for: .milliseconds(300))
            let frozen = lineCount(file)
            try await Task.sleep(for: .seconds(1))
            #expect(lineCount(file) == frozen, "the file grew while the job was suspended")

            try await client.resume(job)
            #expect(await eventually(within: 5) { lineCount(file) > frozen + 2 }, "the file did not grow again after resume")
            #expect(try await client.state(of: job) == .running(nodes: cluster.nodeName))
        }
    }

    /// A cancelled job ends CANCELLED and its processes are gone.
    @Test func cancelEndsARunningJobAndItsProcesses() async throws {
        let folder = try TemporaryFolder("slurm-cancel")
        defer { folder.remove() }
        let job = try await client.submit(
            script: "echo $$ > pid; exec sleep 300", name: "sleeps", options: SlurmOptions(outputPath: "/dev/null", workingDirectory: folder.path))
        var started = false
        do {
            started = await eventually(within: 20) { folder.exists("pid") }
            try await client.cancel(job)
        } catch {
            try? await client.cancel(job)
            throw error
        }
        #expect(started, "the job never started")
        let end = try await client.waitUntilFinished(job, poll: .milliseconds(100), timeout: .seconds(30))
        #expect(end.state == .cancelled)
        let pid = try #require(pid_t(try folder.read("pid").trimmingCharacters(in: .whitespacesAndNewlines)))
        #expect(await eventually(within: 5) { kill(pid, 0) != 0 }, "the job's process \(pid) survived scancel")
        // Cancelling again is not an error.
        try await client.cancel(job)
    }

    @Test func unknownPartitionIsRejectedNamingIt() async throws {
        let error = await #expect(throws: SlurmError.self) {
            try await client.submit(script: "true", name: "nowhere", options: SlurmOptions(partition: "no-such-partition"))
        }
        #expect(error?.code == .rejected)
        #expect(error?.description.contains("no-such-partition") == true)
        #expect(error?.command.hasPrefix("sbatch ") == true)
    }

    @Test func jobTheControllerDoesNotKnowIsUnknown() async throws {
        let stranger = SlurmJobID(rawValue: 987_654)
        #expect(try await client.state(of: stranger) == .unknown)
        let error = await #expect(throws: SlurmError.self) { try await client.resume(stranger) }
        #expect(error?.code == .unknownJob)
        #expect(error?.description.contains("987654") == true)
    }
}

/// What the client makes of Slurm's output, for states a test cluster cannot easily produce,
/// and what it refuses before running anything.
@Suite struct SlurmClientOfflineTests {
    private func line(_ state: String, exit: String = "0:0", nodes: String = "node07", reason: String = "None") -> String {
        "JobId=12 JobName=ratchet-c3 UserId=u(1) JobState=\(state) Reason=\(reason) Dependency=(null) ExitCode=\(exit) "
            + "NodeList=\(nodes) BatchHost=node07 WorkDir=/a folder/with JobState=COMPLETED in it StdOut=/x"
    }

    @Test func finalStatesCarryTheirExitCodeNodesAndReason() {
        #expect(
            SlurmClient.parseJob(line("NODE_FAIL", exit: "0:0", reason: "NodeDown"))
                == .finished(SlurmJobEnd(state: .nodeFail, exitStatus: 0, signal: 0, nodes: "node07", reason: "NodeDown")))
        #expect(
            SlurmClient.parseJob(line("TIMEOUT", exit: "0:15", reason: "TimeLimit"))
                == .finished(SlurmJobEnd(state: .timeout, exitStatus: 0, signal: 15, nodes: "node07", reason: "TimeLimit")))
        #expect(
            SlurmClient.parseJob(line("OUT_OF_MEMORY", exit: "0:125"))
                == .finished(SlurmJobEnd(state: .outOfMemory, exitStatus: 0, signal: 125, nodes: "node07", reason: "")))
    }

    /// Free text after the fields (a working folder with `JobState=` in its name) does not
    /// change the state read.
    @Test func liveStatesAndTheFirstJobStateWins() {
        #expect(SlurmClient.parseJob(line("PENDING", nodes: "", reason: "Resources")) == .pending(reason: "Resources"))
        #expect(SlurmClient.parseJob(line("RUNNING")) == .running(nodes: "node07"))
        #expect(SlurmClient.parseJob(line("COMPLETING")) == .running(nodes: "node07"))
        #expect(SlurmClient.parseJob(line("SUSPENDED")) == .suspended(nodes: "node07"))
        #expect(SlurmClient.parseJob(line("WEIRD_NEW_STATE")) == .other(state: "WEIRD_NEW_STATE", reason: ""))
        #expect(SlurmClient.parseJob("slurm_load_jobs: nothing useful") == nil)
    }

    @Test func missingClientCommandsSayWhatToInstall() {
        let error = #expect(throws: SlurmError.self) { try SlurmClient(environment: ["PATH": "/nonexistent"]) }
        #expect(error?.code == .notInstalled)
        #expect(error?.description.contains("sbatch is not installed") == true)
        #expect(error?.description.contains("apt-get install slurm-client") == true)
    }

    @Test func aMissingSlurmConfIsRefusedAtOnce() {
        let error = #expect(throws: SlurmError.self) { try SlurmClient(environment: ["SLURM_CONF": "/nonexistent/slurm.conf"]) }
        #expect(error?.code == .configuration)
        #expect(error?.description.contains("/nonexistent/slurm.conf") == true)
    }

    @Test func jobNamesThatWouldConfuseTheParserAreRefused() async throws {
        let client = try SlurmClient(environment: ["PATH": "/usr/bin:/bin"])
        let error = await #expect(throws: SlurmError.self) { try await client.submit(script: "true", name: "two words") }
        #expect(error?.code == .invalidArgument)
    }
}
