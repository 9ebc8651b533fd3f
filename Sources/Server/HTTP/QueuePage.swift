import Core
import Foundation
import Report
import Runner
import Store

/// The review queue (`/`) and a loop's candidates (`/loops/{loop}`).
extension Pages {
    struct LoopRow {
        var entry: LoopEntry
        var status: LoopSnapshot
        /// Accepted changes waiting for review, with their diffs by id.
        var pending: [CandidateRow]
        var diffs: [Int64: String]
        /// The loop's newest candidates.
        var recent: [CandidateRow]
    }

    /// How many of the newest candidates the queue page lists.
    static let recentCount = 15

    static func queue(rows: [LoopRow], problems: [String: String], depth: [ReviewerDepth] = [], viewer: Viewer?, done: String?) -> String {
        var body = flash(done) + pendingTable(rows) + reviewDepth(depth) + loopsTable(rows, viewer: viewer)
        for (file, problem) in problems.sorted(by: { $0.key < $1.key }) {
            body += "<div class=\"alert bad\">config \(E.escape(file)) is not used: \(E.escape(problem))</div>"
        }
        let recent = rows.flatMap(\.recent).sorted { $0.createdAt > $1.createdAt }.prefix(Self.recentCount)
        body += "<h2>Recent candidates</h2>"
        body += candidateTable(Array(recent))
        return shell(title: "Ratchet review queue", viewer: viewer, body: body)
    }

    /// The changes waiting for review, those holding a checkpoint first, oldest first.
    static func pendingTable(_ rows: [LoopRow]) -> String {
        let diffs = rows.reduce(into: [Int64: String]()) { $0.merge($1.diffs) { a, _ in a } }
        let pending = rows.flatMap(\.pending)
            .sorted { ($0.checkpoint != nil ? 0 : 1, $0.finishedAt ?? $0.createdAt) < ($1.checkpoint != nil ? 0 : 1, $1.finishedAt ?? $1.createdAt) }
        var body = "<h1>Review queue <span class=\"muted\">(\(pending.count))</span></h1>"
        guard !pending.isEmpty else { return body + "<div class=\"card muted\" id=\"queue-empty\">Nothing waits for review.</div>" }
        body += "<table id=\"queue\"><tr><th>change</th><th>loop</th><th class=\"num\">effect [interval]</th><th>diff</th><th>accepted</th></tr>"
        for c in pending {
            let stat = DiffView(c.id.flatMap { diffs[$0] } ?? "")
            body += "<tr><td>" + (c.checkpoint != nil ? "<span class=\"pill waiting\">checkpoint</span> " : "")
            body += "<a class=\"review-link\" href=\"\(candidateLink(c))\">\(E.escape(c.title))</a>"
            if let checkpoint = c.checkpoint { body += "<br><span class=\"warn\">\(E.escape(checkpoint))</span>" }
            body += "</td><td>\(E.escape(c.loop)) #\(c.sequence)</td><td class=\"num good\">\(E.escape(effect(c)))</td>"
            body +=
                "<td class=\"stat\">\(E.escape(stat.files.map(\.path).joined(separator: ", "))) <span class=\"add\">+\(stat.added)</span> <span class=\"del\">−\(stat.deleted)</span></td>"
            body += "<td class=\"muted\">\(E.escape(time(c.finishedAt ?? c.createdAt)))</td></tr>"
        }
        return body + "</table>"
    }

    static func loopsTable(_ rows: [LoopRow], viewer: Viewer?) -> String {
        var body =
            "<h2>Loops</h2><table id=\"loops\"><tr><th>loop</th><th>state</th><th>daemon</th><th>best</th><th>candidates</th><th class=\"num\">improvement</th><th>budgets</th><th></th></tr>"
        for row in rows {
            let status = row.status
            let overview = status.overview
            body +=
                "<tr><td><a href=\"/loops/\(E.escape(row.entry.name))\">\(E.escape(row.entry.name))</a><br><span class=\"muted\">\(E.escape(status.schedule))</span></td>"
            body += "<td>\(E.pill(status.state))" + ((overview?.reason).map { "<br><span class=\"muted\">\(E.escape($0))</span>" } ?? "") + "</td>"
            body += "<td>\(E.escape(status.daemon.phase))<br><span class=\"muted\">\(E.escape(status.daemon.detail))</span>"
            if let candidate = status.daemon.candidate, status.daemon.phase == "running" {
                body += "<br><span class=\"muted\">\(E.escape(candidate))\(status.daemon.step.map { " · " + E.escape($0) } ?? "")</span>"
            }
            body += "</td><td><code>\(E.escape(String((overview?.bestCommit ?? "").prefix(10))))</code></td>"
            let counts = (overview?.candidates ?? [:]).sorted { $0.key < $1.key }.map { "\($0.value) \($0.key)" }.joined(separator: ", ")
            body += "<td>\(E.escape(counts.isEmpty ? "none yet" : counts))</td>"
            body += "<td class=\"num good\">\(E.escape(E.percent(overview?.improvement)))</td>"
            body += "<td class=\"muted\">\(E.escape((overview?.budgetLines ?? []).joined(separator: "; ")))</td>"
            body += pauseCell(row.entry, viewer: viewer) + "</tr>"
        }
        return body + "</table>"
    }

    /// Pause or resume, for those who may; else whether the loop is paused.
    static func pauseCell(_ entry: LoopEntry, viewer: Viewer?) -> String {
        let paused = PauseSwitch(stateDirectory: entry.stateDirectory, loop: entry.name).isPaused
        guard viewer?.may(.pause) == true else { return "<td class=\"muted\">\(paused ? "paused" : "")</td>" }
        var cell = "<td><form method=\"post\" action=\"/loops/\(E.escape(entry.name))/act\" class=\"actions\">\(csrfField(viewer))"
        cell += paused ? "<button name=\"action\" value=\"resume\">Resume</button>" : "<button name=\"action\" value=\"pause\">Pause</button>"
        return cell + "</form></td>"
    }

    /// Per reviewer over the last 24 hours: decisions, the median seconds on the page per
    /// changed line (UI decisions), and approvals made in a burst.
    static func reviewDepth(_ depth: [ReviewerDepth]) -> String {
        guard !depth.isEmpty else { return "" }
        var body = "<h2>Review depth <span class=\"muted\">(last 24 h)</span></h2><table id=\"review-depth\">"
        body +=
            "<tr><th>reviewer</th><th class=\"num\">changes reviewed</th><th class=\"num\">median s per changed line</th><th class=\"num\">burst approvals</th></tr>"
        for row in depth {
            let median = row.medianSecondsPerLine.map { String(format: "%.1f", $0) + (row.timed < row.reviewed ? " (of \(row.timed))" : "") } ?? "—"
            body += "<tr><td>\(E.escape(row.reviewer))</td><td class=\"num\">\(row.reviewed)</td><td class=\"num\">\(E.escape(median))</td>"
            body += "<td class=\"num\(row.burst > 0 ? " bad" : "")\">\(row.burst)</td></tr>"
        }
        return body + "</table>"
    }

    static func candidateTable(_ candidates: [CandidateRow]) -> String {
        guard !candidates.isEmpty else { return "<p class=\"muted\">No candidates yet.</p>" }
        var body =
            "<table><tr><th class=\"num\">id</th><th>loop</th><th>title</th><th>outcome</th><th class=\"num\">effect [interval]</th><th>reason</th></tr>"
        for c in candidates {
            let reason = (c.reason ?? "").replacingOccurrences(of: "\n", with: " ")
            body += "<tr><td class=\"num\">\(c.id ?? 0)</td><td>\(E.escape(c.loop)) #\(c.sequence)</td>"
            body += "<td><a href=\"\(candidateLink(c))\">\(E.escape(c.title))</a></td><td>\(E.pill(c.outcome?.rawValue ?? c.state.label))"
            if let review = c.review, c.outcome == .accepted { body += " \(E.pill(review.rawValue))" }
            body += "</td><td class=\"num\">\(E.escape(effect(c)))</td>"
            body += "<td class=\"muted\">\(E.escape(reason.count > 160 ? String(reason.prefix(159)) + "…" : reason))</td></tr>"
        }
        return body + "</table>"
    }

    static func loop(_ entry: LoopEntry, candidates: [CandidateRow], outcome: String?, viewer: Viewer?) -> String {
        var body =
            "<h1>Loop \(E.escape(entry.name))</h1><p class=\"muted\">\(E.escape(entry.configPath)) · schedule \(E.escape(entry.config.schedule.summary))</p><p>"
        for filter in ["all"] + Outcome.allCases.map(\.rawValue) {
            let selected = (outcome ?? "all") == filter
            let href = "/loops/\(E.escape(entry.name))" + (filter == "all" ? "" : "?outcome=\(filter)")
            body += selected ? "<strong>\(filter)</strong> · " : "<a href=\"\(href)\">\(filter)</a> · "
        }
        body += "</p>"
        body += candidateTable(candidates.reversed())
        return shell(title: "Ratchet loop \(entry.name)", viewer: viewer, body: body)
    }
}
