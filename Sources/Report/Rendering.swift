import Core
import Foundation
import Store

extension MorningReport {
    static func stamp(_ date: Date, timeZone: TimeZone) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = timeZone
        formatter.dateFormat = "EEE d MMM HH:mm"
        return formatter.string(from: date)
    }

    static func money(_ value: Double) -> String { String(format: "$%.2f", value) }

    static func reasons(_ counts: [String: Int]) -> String {
        counts.isEmpty
            ? "none"
            : counts.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
    }

    /// The report as Markdown, for a terminal or a pull request.
    public func markdown(timeZone: TimeZone = .current) -> String {
        var out = "# Ratchet report: \(Self.stamp(since, timeZone: timeZone)) → \(Self.stamp(until, timeZone: timeZone))\n\n"
        if !alerts.isEmpty {
            out += "## Needs attention\n\n"
            for alert in alerts {
                let mark =
                    alert.kind == "checkpoint"
                    ? "⏸ checkpoint"
                    : alert.kind == "budget" ? "⛔ budget" : alert.kind == "failed" ? "✖ failed" : alert.kind == "drift" ? "⚠ drift" : "⏸ paused"
                out += "- **\(mark)** · \(alert.loop): \(Self.markdownEscape(alert.message))" + (alert.url.map { " — [review](\($0))" } ?? "") + "\n"
            }
            out += "\n"
        }
        if !reviewDepth.isEmpty {
            out += "## Review depth\n\n| reviewer | changes reviewed | median s per changed line | burst approvals |\n|---|--:|--:|--:|\n"
            for row in reviewDepth {
                out += "| \(Self.markdownEscape(row.reviewer)) | \(row.reviewed) | \(Self.median(row)) | \(row.burst) |\n"
            }
            out += "\n"
        }
        out += "## Summary\n\n"
        out +=
            "\(tried) candidate(s) tried, **\(accepted) accepted**; rejected by reason: \(Self.reasons(rejectedBy)); tokens \(tokens), cost \(Self.money(cost)).\n\n"
        out += "| loop | state | tried | accepted | rejected | inconclusive | improvement (window) | since base | trend | tokens | cost |\n"
        out += "|---|---|--:|--:|--:|--:|--:|--:|---|--:|--:|\n"
        for loop in loops {
            let trend = Charts.sparkline([0] + loop.series.map(\.value))
            out +=
                "| \(Self.markdownEscape(loop.loop)) | \(loop.state) | \(loop.tried) | \(loop.accepted) | \(loop.rejected) | \(loop.inconclusive) | "
            out +=
                "\(HTML.percent(loop.improvement)) | \(HTML.percent(loop.improvementSinceBase)) | \(trend) | \(loop.tokens) | \(Self.money(loop.cost)) |\n"
        }
        out += "\n"
        out += "## Accepted changes, largest effect first\n\n"
        if changes.isEmpty { out += "No change was accepted in this window.\n" }
        for (rank, change) in changes.enumerated() {
            let effect = HTML.effect(estimate: change.estimate, lower: change.lower, upper: change.upper)
            out +=
                "\(rank + 1). **\(effect)** · \(Self.markdownEscape(change.loop)) #\(change.sequence) (id \(change.id)): \(Self.markdownEscape(change.title))\n"
            let files = change.files.map { "`\($0.path)` +\($0.added) −\($0.deleted)" }.joined(separator: ", ")
            out += "   - \(change.files.count) file(s), +\(change.added) −\(change.deleted): \(files.isEmpty ? "–" : files)\n"
            out += "   - review: **\(change.review.rawValue)**" + (change.checkpoint.map { " (checkpoint: \(Self.markdownEscape($0)))" } ?? "")
            out +=
                " · \(change.pairs ?? 0) pairs · commit `\((change.commit ?? "").prefix(10))`" + (change.url.map { " · [open](\($0))" } ?? "") + "\n"
        }
        return out
    }

    /// `4.2`, `4.2 (of 3)` when some decisions were not timed (API, CLI), `–` when none were.
    static func median(_ row: ReviewerDepth) -> String {
        guard let median = row.medianSecondsPerLine else { return "–" }
        return String(format: "%.1f", median) + (row.timed < row.reviewed ? " (of \(row.timed))" : "")
    }

    static func markdownEscape(_ text: String) -> String {
        var out = ""
        for character in text.replacingOccurrences(of: "\n", with: " ") {
            if "\\`*_[]<>|".contains(character) { out.append("\\") }
            out.append(character)
        }
        return out
    }

    /// The report as one self-contained HTML page (inline CSS and SVG, no script).
    public func html(timeZone: TimeZone = .current) -> String {
        var body =
            "<header class=\"top\"><span>Ratchet</span><span class=\"sub\">report \(HTML.escape(Self.stamp(since, timeZone: timeZone))) → \(HTML.escape(Self.stamp(until, timeZone: timeZone)))</span></header><main>"
        body += "<h1>What happened \(HTML.escape(Self.stamp(since, timeZone: timeZone))) → \(HTML.escape(Self.stamp(until, timeZone: timeZone)))</h1>"
        if !alerts.isEmpty {
            body += "<h2>Needs attention</h2>"
            for alert in alerts {
                let css = alert.kind == "checkpoint" || alert.kind == "paused" ? "alert" : "alert bad"
                body +=
                    "<div class=\"\(css)\"><strong>\(HTML.escape(alert.kind))</strong> · \(HTML.escape(alert.loop)): \(HTML.escape(alert.message))"
                if let url = alert.url { body += " — <a href=\"\(HTML.escape(url))\">review</a>" }
                body += "</div>"
            }
        }
        if !reviewDepth.isEmpty {
            body += "<h2>Review depth</h2><table id=\"review-depth\"><tr><th>reviewer</th><th class=\"num\">changes reviewed</th>"
            body += "<th class=\"num\">median s per changed line</th><th class=\"num\">burst approvals</th></tr>"
            for row in reviewDepth {
                body +=
                    "<tr><td>\(HTML.escape(row.reviewer))</td><td class=\"num\">\(row.reviewed)</td><td class=\"num\">\(HTML.escape(Self.median(row)))</td>"
                body += "<td class=\"num\(row.burst > 0 ? " bad" : "")\">\(row.burst)</td></tr>"
            }
            body += "</table>"
        }
        body += "<h2>Summary</h2><div class=\"kpis\">"
        body += "<div class=\"kpi\"><div class=\"label\">candidates tried</div><div class=\"big\">\(tried)</div></div>"
        body += "<div class=\"kpi\"><div class=\"label\">accepted</div><div class=\"big good\">\(accepted)</div></div>"
        body +=
            "<div class=\"kpi\"><div class=\"label\">rejected</div><div class=\"big\">\(rejectedBy.values.reduce(0, +))</div><div class=\"muted\">\(HTML.escape(Self.reasons(rejectedBy)))</div></div>"
        body +=
            "<div class=\"kpi\"><div class=\"label\">tokens · cost</div><div class=\"big\">\(tokens)</div><div class=\"muted\">\(Self.money(cost))</div></div>"
        body += "</div>"
        for loop in loops {
            body += "<div class=\"card\"><h3>\(HTML.escape(loop.loop)) \(HTML.pill(loop.state))</h3>"
            if let reason = loop.reason { body += "<p class=\"muted\">\(HTML.escape(reason))</p>" }
            body +=
                "<p>\(loop.tried) tried · \(loop.accepted) accepted · \(loop.rejected) rejected (\(HTML.escape(Self.reasons(loop.rejectedBy)))) · \(loop.inconclusive) inconclusive"
            body += (loop.interrupted > 0 ? " · \(loop.interrupted) interrupted" : "") + "</p>"
            body +=
                "<p>Improvement kept this window: <strong class=\"good\">\(HTML.escape(HTML.percent(loop.improvement)))</strong>; since the base: <strong>\(HTML.escape(HTML.percent(loop.improvementSinceBase)))</strong>"
            body += " (\(loop.lowerIsBetter ? "lower" : "higher") is better; best \(HTML.escape(String(loop.bestCommit.prefix(10)))))</p>"
            body += Charts.improvement(loop.series.map { ($0.time, $0.value) }, from: since, to: until)
            body += "</div>"
        }
        body += "<h2>Accepted changes, largest effect first</h2>"
        if changes.isEmpty { body += "<p class=\"muted\">No change was accepted in this window.</p>" }
        if !changes.isEmpty {
            body +=
                "<table><tr><th>#</th><th>change</th><th class=\"num\">effect [interval]</th><th>diff</th><th>files</th><th>review</th><th></th></tr>"
            for (rank, change) in changes.enumerated() {
                let effect = HTML.effect(estimate: change.estimate, lower: change.lower, upper: change.upper)
                body +=
                    "<tr><td>\(rank + 1)</td><td><strong>\(HTML.escape(change.title))</strong><br><span class=\"muted\">\(HTML.escape(change.loop)) #\(change.sequence) · id \(change.id) · \(HTML.escape(change.proposer)) · \(change.pairs ?? 0) pairs</span></td>"
                body += "<td class=\"num good\">\(HTML.escape(effect))</td>"
                body += "<td class=\"stat\"><span class=\"add\">+\(change.added)</span> <span class=\"del\">−\(change.deleted)</span></td>"
                body += "<td>\(change.files.map { "<code>\(HTML.escape($0.path))</code>" }.joined(separator: "<br>"))</td>"
                body +=
                    "<td>\(HTML.pill(change.review.rawValue))"
                    + (change.checkpoint.map { "<br><span class=\"warn\">\(HTML.escape($0))</span>" } ?? "") + "</td>"
                body += "<td>" + (change.url.map { "<a href=\"\(HTML.escape($0))\">open</a>" } ?? "") + "</td></tr>"
            }
            body += "</table>"
        }
        body += "<p class=\"muted\">Generated \(HTML.escape(Self.stamp(generatedAt, timeZone: timeZone))) by ratchet.</p></main>"
        return HTML.page(title: "Ratchet report \(Self.stamp(until, timeZone: timeZone))", body: body)
    }
}
