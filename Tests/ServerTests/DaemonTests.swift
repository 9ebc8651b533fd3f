import Core
import Foundation
import Report
import Runner
import Server
import Store
import TestSupport
import Testing

/// The daemon on real loops: windows open and close by themselves, checkpoints hold a loop
/// until a review, bad reloads keep the old config, and the binary handles real signals.
@Suite(.serialized) struct DaemonTests {
    static let slowBench = TinyWorkspace.config().replacingOccurrences(of: "run = \"sh bench.sh\"", with: "run = \"sleep 0.15; sh bench.sh\"")

    /// A window of about three seconds, starting two seconds from now: the loop starts when
    /// it opens, is stopped at its end, and a report of the window is written. The window is
    /// set by a reload once the daemon is up (under load its start took over 2 s, and a
    /// window fixed before it could pass unseen).
    @Test func windowStartsAndStopsTheLoop() async throws {
        let fixture = try TinyWorkspace.make(config: Self.slowBench + "\n[schedule]\nwindows = [\"\(windowFromNow(3600, 3700))\"]\n")
        defer { fixture.remove() }
        let config = fixture.path + "/ratchet.toml"
        try await withDaemon(configs: [config]) { daemon, _ in
            let window = timedWindow(2, 5)
            try (Self.slowBench + "\n[schedule]\nwindows = [\"\(window.text)\"]\n").write(toFile: config, atomically: true, encoding: .utf8)
            let problems = await daemon.scheduler.reload()
            #expect(problems.isEmpty, "\(problems)")
            let control = daemon.state.control("tiny")
            let entry = try #require(daemon.state.entry(named: "tiny"))
            // Before the window: asleep, nothing run.
            while Date() < window.opens.addingTimeInterval(-0.3) {
                #expect(control.phase.phase != "running")
                #expect(try entry.store.runs(loop: "tiny").isEmpty, "the loop ran before its window")
                try await Task.sleep(for: .milliseconds(100))
            }
            #expect(await eventually(30) { control.phase.phase == "running" }, "the window opened but the loop did not start: \(control.phase)")
            #expect(Date() >= window.opens)
            // It ends on its own: stopped by the window, sleeping until tomorrow.
            #expect(await eventually(40) { control.phase.phase == "sleeping" }, "still \(control.phase)")
            #expect(Date() >= window.closes)
            let runs = try entry.store.runs(loop: "tiny")
            #expect(runs.count == 1)
            #expect(runs.first?.stopReason?.contains("schedule window ended") == true, "\(runs)")
            let tried = try entry.store.candidates(loop: "tiny")
            #expect(!tried.isEmpty && tried.count < 7, "expected the window to cut the loop short: \(tried.count) candidates")
            let reports = try FileManager.default.contentsOfDirectory(atPath: entry.stateDirectory + "/reports")
            #expect(reports.contains { $0.hasSuffix(".html") } && reports.contains { $0.hasSuffix(".md") }, "\(reports)")
            let markdown = try String(
                contentsOfFile: entry.stateDirectory + "/reports/" + (reports.first { $0.hasSuffix(".md") } ?? ""), encoding: .utf8)
            #expect(markdown.contains("candidate(s) tried"))
        }
    }

    /// A checkpoint (or a review budget) holds the loop; an approval through the API wakes
    /// it at once.
    @Test(arguments: [
        ("[checkpoint]\nevery_accepts = 1", "waiting for review"), ("[budget]\naccepts_since_review = 1", "budget.accepts_since_review"),
    ])
    func heldUntilApprovedThroughTheAPI(section: String, why: String) async throws {
        let fixture = try TinyWorkspace.make(config: TinyWorkspace.config() + "\n\(section)\n")
        defer { fixture.remove() }
        try await withDaemon(configs: [fixture.path + "/ratchet.toml"], pollInterval: 30) { daemon, port in
            let control = daemon.state.control("tiny")
            let entry = try #require(daemon.state.entry(named: "tiny"))
            #expect(await eventually(40) { control.phase.phase == "held" }, "\(control.phase)")
            #expect(control.phase.detail.contains(why), "\(control.phase.detail)")
            let accepted = try entry.store.candidates(loop: "tiny").filter { $0.outcome == .accepted }
            #expect(accepted.count == 1)
            let id = try #require(accepted.first?.id)
            let reply = try await http(
                "POST", port, "/api/candidates/\(id)/approve", token: try personalToken(daemon, "ada"), json: ["reviewed": "true", "note": "ok"])
            #expect(reply.status == 200, "\(reply.body)")
            // Woken by the approval, not by the 30 s poll: a second accept follows quickly.
            #expect(await eventually(40) { (try? entry.store.candidates(loop: "tiny").filter { $0.outcome == .accepted }.count) == 2 })
        }
    }

    /// A reload validates first: a broken file keeps the loop's previous config; a fixed
    /// one is picked up.
    @Test func reloadKeepsTheOldConfigWhenTheNewOneIsBad() async throws {
        let fixture = try TinyWorkspace.make(config: TinyWorkspace.config() + "\n[schedule]\nwindows = [\"\(windowFromNow(3600, 3700))\"]\n")
        defer { fixture.remove() }
        let config = fixture.path + "/ratchet.toml"
        try await withDaemon(configs: [config]) { daemon, _ in
            let before = try #require(daemon.state.entry(named: "tiny"))
            try (try String(contentsOfFile: config, encoding: .utf8) + "\nnot valid toml [[[\n").write(
                toFile: config, atomically: true, encoding: .utf8)
            await daemon.scheduler.reload()
            #expect(daemon.state.entry(named: "tiny")?.configHash == before.configHash)
            #expect(daemon.state.catalog.problems[config]?.contains("not valid TOML") == true, "\(daemon.state.catalog.problems)")
            try TinyWorkspace.config().write(toFile: config, atomically: true, encoding: .utf8)
            await daemon.scheduler.reload()
            #expect(daemon.state.entry(named: "tiny")?.config.schedule.always == true)
            #expect(daemon.state.catalog.problems.isEmpty)
        }
    }

    /// With `--loops DIR`, a reload starts the loops that appeared and ends those that went.
    @Test func reloadAddsAndRemovesLoops() async throws {
        let later = "\n[schedule]\nwindows = [\"\(windowFromNow(3600, 3700))\"]\n"
        let first = try TinyWorkspace.make(config: TinyWorkspace.config() + later)
        let second = try TinyWorkspace.make(
            config: TinyWorkspace.config().replacingOccurrences(of: "name = \"tiny\"", with: "name = \"other\"") + later)
        let loops = try TemporaryFolder("loops")
        defer { [first, second].forEach { $0.remove() }; loops.remove() }
        try FileManager.default.createSymbolicLink(atPath: loops.path + "/first", withDestinationPath: first.path)
        try await withDaemon(configs: [], loops: loops.path) { daemon, _ in
            #expect(daemon.state.catalog.loops.map(\.name) == ["tiny"])
            try FileManager.default.createSymbolicLink(atPath: loops.path + "/second", withDestinationPath: second.path)
            #expect(await daemon.scheduler.reload() == ["other"])
            #expect(await eventually(30) { daemon.state.control("other").phase.phase == "sleeping" })
            try FileManager.default.removeItem(atPath: loops.path + "/first")
            #expect(await daemon.scheduler.reload().isEmpty)
            #expect(await eventually(30) { daemon.state.control("tiny").phase.phase == "removed" })
            #expect(daemon.state.catalog.loops.map(\.name) == ["other"])
        }
    }

    /// The binary as a user runs it: JSON logs, SIGHUP reload, SIGTERM exits 0; and idle it
    /// uses next to no CPU.
    @Test func binaryReloadsOnSIGHUPAndStopsOnSIGTERM() async throws {
        let fixture = try TinyWorkspace.make(config: TinyWorkspace.config() + "\n[schedule]\nwindows = [\"\(windowFromNow(3600, 3700))\"]\n")
        defer { fixture.remove() }
        let config = fixture.path + "/ratchet.toml"
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try builtRatchet())
        process.arguments = ["daemon", "--config", config, "--port", "0", "--log-format", "json"]
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        let log = LogCollector(errors.fileHandleForReading)
        defer { if process.isRunning { process.terminate() } }
        #expect(await eventually(40) { log.text.contains("review UI and API on") }, "\(log.text)")
        // Idle: CPU over two seconds once started.
        let cpuBefore = try Self.cpuSeconds(process.processIdentifier)
        try await Task.sleep(for: .seconds(2))
        let cpuUsed = try Self.cpuSeconds(process.processIdentifier) - cpuBefore
        #expect(cpuUsed < 0.1, "idle daemon used \(cpuUsed) s of CPU in 2 s")

        try "[loop]\nname = 1\n".write(toFile: config, atomically: true, encoding: .utf8)
        kill(process.processIdentifier, SIGHUP)
        #expect(await eventually(40) { log.text.contains("not used") }, "\(log.text)")
        #expect(process.isRunning)
        kill(process.processIdentifier, SIGTERM)
        #expect(await eventually(40) { !process.isRunning })
        #expect(process.terminationStatus == 0)
        let lines = log.text.split(separator: "\n")
        #expect(!lines.isEmpty && lines.allSatisfy { (try? JSONSerialization.jsonObject(with: Data($0.utf8))) is [String: Any] }, "\(log.text)")
        #expect(log.text.contains("loop.name"))
    }

    /// utime + stime of a process, in seconds.
    static func cpuSeconds(_ pid: Int32) throws -> Double {
        let stat = try String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)
        guard let close = stat.lastIndex(of: ")") else { return 0 }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        return ((Double(fields[11]) ?? 0) + (Double(fields[12]) ?? 0)) / ticks
    }
}

/// Collects what a child writes to a pipe, from any thread.
final class LogCollector: @unchecked Sendable {
    private let lock = NSLock()
    private var data = Data()

    init(_ handle: FileHandle) {
        handle.readabilityHandler = { [weak self] handle in
            let chunk = handle.availableData
            if chunk.isEmpty {
                handle.readabilityHandler = nil
                return
            }
            self?.lock.withLock { self?.data.append(chunk) }
        }
    }

    var text: String { lock.withLock { String(decoding: data, as: UTF8.self) } }
}
