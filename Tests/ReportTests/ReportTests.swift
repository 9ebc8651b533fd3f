import Core
import Foundation
import Report
import Runner
import Store
import TestSupport
import Testing

/// The morning report of a real loop: what it shows first, the ranking, both formats, and
/// the `ratchet report` verb.
@Suite(.serialized) struct ReportTests {
    /// The tiny loop run to a budget: three accepts, rejections of several kinds.
    static func night() async throws -> (GitFixture, Workspace) {
        let fixture = try TinyWorkspace.make(config: TinyWorkspace.config() + "\n[budget]\niterations = 6\n")
        let (summary, workspace) = try await runLoop(fixture)
        #expect(summary.stopReason.contains("budget.iterations"))
        return (fixture, workspace)
    }

    static func report(_ workspace: Workspace, since: Date = Date().addingTimeInterval(-3600)) throws -> MorningReport {
        try MorningReport.build(
            sources: [
                ReportSource(
                    loop: "tiny", store: workspace.store, audit: workspace.audit, stateDirectory: workspace.stateDirectory, config: workspace.config)
            ], since: since, until: Date().addingTimeInterval(1), baseURL: "http://127.0.0.1:8470")
    }

    @Test func summaryRankingAndAlerts() async throws {
        let (fixture, workspace) = try await Self.night()
        defer { fixture.remove() }
        let report = try Self.report(workspace)
        let candidates = try workspace.store.candidates(loop: "tiny")
        #expect(report.tried == candidates.filter { $0.outcome != nil && $0.outcome != .interrupted }.count)
        #expect(report.accepted == candidates.filter { $0.outcome == .accepted }.count)
        #expect(report.accepted >= 2)
        #expect(report.rejectedBy["test_failed"] == 1, "\(report.rejectedBy)")
        // Ranked by effect, largest first, each with its interval and diff stat.
        #expect(report.changes.map(\.estimate) == report.changes.map(\.estimate).sorted(by: >))
        #expect(report.changes.allSatisfy { $0.lower != nil && !$0.files.isEmpty && $0.added > 0 })
        // The tripped budget comes first.
        #expect(report.alerts.first?.kind == "budget")
        #expect(report.alerts.first?.message.contains("budget.iterations") == true)
        let loop = try #require(report.loops.first)
        #expect(loop.series.count == report.accepted)
        let product = report.changes.reduce(1.0) { $0 * (1 + $1.estimate) } - 1
        #expect(abs(loop.improvement - product) < 1e-9)

        let markdown = report.markdown()
        #expect(markdown.hasPrefix("# Ratchet report"))
        let attention = try #require(markdown.range(of: "## Needs attention"))
        let summary = try #require(markdown.range(of: "## Summary"))
        #expect(attention.lowerBound < summary.lowerBound, "alerts must come first")
        #expect(markdown.contains("budget.iterations"))
        #expect(markdown.contains("test_failed 1"))
        let first = try #require(report.changes.first)
        #expect(markdown.contains("1. **\(Format.effect(estimate: first.estimate, lower: first.lower, upper: first.upper))"))
        #expect(markdown.contains("(http://127.0.0.1:8470/candidates/\(first.id)?loop=tiny)"))
        #expect(markdown.contains("`src/"))

        let html = report.html()
        #expect(html.hasPrefix("<!DOCTYPE html>"))
        #expect(html.contains("<svg class=\"chart improvement\""))
        #expect(html.contains("<style>") && !html.contains("<script") && !html.contains("<link"))
        #expect(html.contains("href=\"http://127.0.0.1:8470/candidates/\(first.id)?loop=tiny\""))
        #expect(html.contains(HTML.escape(first.title)))
    }

    @Test func checkpointsAndEscaping() async throws {
        let fixture = try TinyWorkspace.make(config: TinyWorkspace.config() + "\n[checkpoint]\nevery_accepts = 1\n")
        defer { fixture.remove() }
        let (_, workspace) = try await runLoop(fixture)
        var held = try #require(try workspace.store.candidates(loop: "tiny").first { $0.checkpoint != nil })
        held.title = "<b>bold</b> & \"quoted\""
        try workspace.store.update(held)
        let report = try Self.report(workspace)
        #expect(report.alerts.first?.kind == "checkpoint")
        #expect(report.alerts.first?.candidate == held.id)
        let html = report.html()
        #expect(!html.contains("<b>bold</b>"))
        #expect(html.contains("&lt;b&gt;bold&lt;/b&gt; &amp; &quot;quoted&quot;"))
        #expect(report.markdown().contains("\\<b\\>bold"))
        // A window before the loop ran has nothing in it.
        let empty = try MorningReport.build(
            sources: [
                ReportSource(loop: "tiny", store: workspace.store, audit: workspace.audit, stateDirectory: workspace.stateDirectory, config: nil)
            ],
            since: Date().addingTimeInterval(-7200), until: Date().addingTimeInterval(-3600), baseURL: nil)
        #expect(empty.tried == 0 && empty.changes.isEmpty)
        #expect(empty.markdown().contains("No change was accepted"))
    }

    @Test func sinceAcceptsDurationsAndDates() throws {
        let now = Date(timeIntervalSince1970: 1_741_000_000)
        #expect(ReportWindow.since("24h", now: now) == now.addingTimeInterval(-86400))
        #expect(ReportWindow.since("90m", now: now) == now.addingTimeInterval(-5400))
        #expect(ReportWindow.since("7d", now: now) == now.addingTimeInterval(-7 * 86400))
        #expect(ReportWindow.since("2025-03-04T10:00:00Z", now: now) == Date(timeIntervalSince1970: 1_741_082_400))
        let utc = try #require(TimeZone(identifier: "UTC"))
        #expect(ReportWindow.since("2025-03-04", now: now, timeZone: utc) == Date(timeIntervalSince1970: 1_741_046_400))
        #expect(ReportWindow.since("yesterday", now: now) == nil)
        #expect(ReportWindow.since("-3h", now: now) == nil)
    }

    @Test func diffViewCountsAndColours() {
        let diff =
            "diff --git a/src/a.c b/src/a.c\n--- a/src/a.c\n+++ b/src/a.c\n@@ -1,2 +1,2 @@\n-old <x>\n+new\n context\ndiff --git a/b b/b\nnew file mode 100644\n--- /dev/null\n+++ b/b\n@@ -0,0 +1 @@\n+--- not a header\n"
        let view = DiffView(diff)
        #expect(view.files.map(\.path) == ["src/a.c", "b"])
        #expect(view.added == 2 && view.deleted == 1)
        let html = DiffView.html(diff)
        #expect(html.contains("<span class=\"del\">-old &lt;x&gt;</span>"))
        #expect(html.contains("<span class=\"hunk\">@@ -1,2 +1,2 @@</span>"))
        #expect(html.contains("<span class=\"add\">+--- not a header</span>"))
    }

    /// `ratchet report` as a user runs it.
    @Test func reportVerbWritesMarkdownAndHTML() async throws {
        let (fixture, _) = try await Self.night()
        defer { fixture.remove() }
        let binary = URL(fileURLWithPath: CommandLine.arguments.first ?? "").deletingLastPathComponent().appendingPathComponent("ratchet").path
        guard FileManager.default.isExecutableFile(atPath: binary) else {
            Issue.record("build the ratchet binary first (swift build --build-tests): not at \(binary)")
            return
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = ["report", "--since", "2h", "--format", "html", "--output", fixture.path + "/report.html"]
        process.currentDirectoryURL = URL(fileURLWithPath: fixture.path)
        try process.run()
        await waitForExit(process)
        #expect(process.terminationStatus == 0)
        let html = try fixture.folder.read("report.html")
        #expect(html.contains("Accepted changes, largest effect first"))
        let markdown = try runProgram([binary, "report", "--format", "md"], in: fixture.path)
        #expect(markdown.contains("## Summary"))
        #expect(throws: CommandFailure.self) { try runProgram([binary, "report", "--since", "soon"], in: fixture.path) }
    }
}
