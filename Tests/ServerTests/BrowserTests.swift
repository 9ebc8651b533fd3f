import Core
import Foundation
import Report
import Runner
import Server
import Store
import TestSupport
import Testing

/// Headless Chromium and its driver, when installed (Debian: chromium, chromium-driver).
let chromium: String? = ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"].first {
    FileManager.default.isExecutableFile(atPath: $0)
}
let chromiumReady = chromium != nil && FileManager.default.isExecutableFile(atPath: "/usr/bin/chromedriver")

/// Runs a program to its end, on a thread of its own (see `offPool`); returns its status and
/// both streams together.
func run(_ arguments: [String]) async throws -> (Int32, String) {
    try await offPool { try runProgramStatus(arguments) }
}

/// The review UI in a real browser: log in by pasting a personal token, open the change from
/// the queue, type a note, click Approve; the store and the audit log have it under the
/// token's name, established through a browser session; logging out ends the session.
@Suite(.serialized) struct BrowserTests {
    @Test(.enabled(if: chromiumReady, "chromium and chromium-driver are not installed (apt-get install chromium chromium-driver)"))
    func reviewerApprovesInHeadlessChromium() async throws {
        let (fixture, id) = try await HTTPTests.heldLoop()
        defer { fixture.remove() }
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("browser/review.py").path
        let shots = ProcessInfo.processInfo.environment["RATCHET_SCREENSHOTS"]
        try await withDaemon(configs: [fixture.path + "/ratchet.toml"], pollInterval: 30) { daemon, port in
            let base = "http://127.0.0.1:\(port)"
            if let shots, let chromium {
                try FileManager.default.createDirectory(atPath: shots, withIntermediateDirectories: true)
                try await Self.screenshots(to: shots, chromium: chromium, base: base, daemon: daemon, id: id)
            }
            let token = try personalToken(daemon, "selenium-reviewer")
            var arguments = ["python3", script, base, token, "selenium-reviewer"]
            if let shots { arguments.append(shots + "/approved.png") }
            let (status, output) = try await run(arguments)
            #expect(status == 0, "the browser script failed (exit \(status)):\n\(output)")
            let entry = try #require(daemon.state.entry(named: "tiny"))
            let approval = try #require(try entry.store.approvals(candidate: id).first)
            #expect(approval.actor == "selenium-reviewer")
            #expect(approval.auth == "session")
            #expect(approval.note == "checked in a real browser")
            let audited = try entry.audit.recent(limit: 500, loop: "tiny").last { $0.kind == "approval" }
            #expect(audited?.actor == "selenium-reviewer")
            #expect(audited?.fields["auth"] == "session")
            #expect(audited?.fields["candidate"] == String(id))
        }
    }

    /// `chromium --screenshot` of the review page (logged in through the token link, which
    /// redirects to it) and of the HTML morning report, into `directory`.
    static func screenshots(to directory: String, chromium: String, base: String, daemon: Daemon, id: Int64) async throws {
        let page = "\(base)/login?token=\(try personalToken(daemon, "screenshots", role: .viewer))&next=/candidates/\(id)%3Floop%3Dtiny"
        let flags = ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--window-size=1280,1700"]
        let (status, output) = try await run([chromium] + flags + ["--screenshot=\(directory)/review.png", page])
        #expect(status == 0, "\(output)")
        let entry = try #require(daemon.state.entry(named: "tiny"))
        let report = try MorningReport.build(
            sources: [ReportSource(loop: "tiny", store: entry.store, audit: entry.audit, stateDirectory: entry.stateDirectory, config: entry.config)],
            since: Date().addingTimeInterval(-3600), until: Date(), baseURL: base)
        try report.html().write(toFile: directory + "/report.html", atomically: true, encoding: .utf8)
        let (reportStatus, reportOutput) = try await run(
            [chromium] + flags + ["--screenshot=\(directory)/report.png", "file://\(directory)/report.html"])
        #expect(reportStatus == 0, "\(reportOutput)")
    }
}
