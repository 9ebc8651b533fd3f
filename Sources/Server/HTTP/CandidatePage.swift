import Core
import Foundation
import Report
import Runner
import Store

/// One candidate (`/candidates/{id}`): its effect and samples, the review form, its steps,
/// its diff and the proposer's transcript.
extension Pages {
    static func candidate(
        _ entry: LoopEntry, _ detail: CandidateDetail, record c: CandidateRecord, viewer: Viewer?, done: String?, view: Int64? = nil
    ) -> String {
        var body = flash(done) + heading(entry, c)
        body += effectCard(detail, c)
        if c.outcome == .accepted { body += reviewCard(entry, detail, c, viewer: viewer, view: view) }
        body += stepsTable(detail.steps)
        body += "<h2>Diff <span class=\"muted stat\">\(E.escape(detail.diffStat.stat))</span></h2>"
        body += (c.diff?.isEmpty == false) ? DiffView.html(c.diff ?? "") : "<p class=\"muted\">No diff.</p>"
        if c.prompt != nil || c.response != nil {
            body += "<h2>Proposer transcript</h2>"
            if let prompt = c.prompt { body += "<details><summary>prompt</summary><pre>\(E.escape(prompt))</pre></details>" }
            if let response = c.response { body += "<details><summary>response</summary><pre>\(E.escape(response))</pre></details>" }
        }
        return shell(title: "Ratchet: \(c.title)", viewer: viewer, body: body)
    }

    static func heading(_ entry: LoopEntry, _ c: CandidateRecord) -> String {
        var body =
            "<h1>\(E.escape(c.title)) \(E.pill(c.outcome?.rawValue ?? c.state.label))" + (c.review.map { " " + E.pill($0.rawValue) } ?? "") + "</h1>"
        body += "<p class=\"muted\">loop <a href=\"/loops/\(E.escape(entry.name))\">\(E.escape(entry.name))</a> · #\(c.sequence) · id \(c.id ?? 0) · "
        body += "proposer \(E.escape(c.proposer)) (\(E.escape(c.source))) · parent <code>\(E.escape(String(c.parentCommit.prefix(10))))</code>"
        body += (c.commit.map { " · commit <code>\(E.escape(String($0.prefix(10))))</code>" } ?? "") + "</p>"
        if let checkpoint = c.checkpoint, c.review == .pending {
            body +=
                "<div class=\"alert\" id=\"checkpoint\"><strong>Checkpoint</strong>: the loop waits for this review: \(E.escape(checkpoint))</div>"
        }
        return body
    }

    /// The effect with its interval, the objective's pairs, and a wall-time confirmation round apart.
    static func effectCard(_ detail: CandidateDetail, _ c: CandidateRecord) -> String {
        var body = "<div class=\"card\"><h2 style=\"margin-top:0\">Effect</h2>"
        if let estimate = c.estimate {
            body += "<p><span class=\"big \(estimate > 0 ? "good" : "bad")\" id=\"effect\">\(E.escape(effect(c)))</span> "
            body +=
                "<span class=\"muted\">over \(c.pairs ?? 0) pairs; minimum effect \(E.escape(E.percent(c.threshold))); \(detail.lowerIsBetter ? "lower" : "higher") is better</span></p>"
            body += Charts.interval(estimate: estimate, lower: c.lower, upper: c.upper, threshold: c.threshold)
        } else {
            body += "<p class=\"muted\">Not measured.</p>"
        }
        if let reason = c.reason { body += "<p>\(E.escape(reason))</p>" }
        if let objective = detail.series(of: nil) {
            body += "<h3>Samples: baseline vs candidate per pair</h3>" + Charts.samples(objective.chart, lowerIsBetter: detail.lowerIsBetter)
            body +=
                "<p class=\"muted\">\(objective.pairs.count) pair(s) measured, \(objective.discarded) warm-up or pause-spanning run(s) discarded.</p>"
        }
        if let confirmation = detail.series(of: LoopRunner.wallTimeConfirmation) {
            body +=
                "<h3 id=\"confirmation\">Confirmation round: the plain command's wall time (seconds)</h3>"
                + Charts.samples(confirmation.chart, lowerIsBetter: true)
            body += "<p class=\"muted\">\(confirmation.pairs.count) pair(s); the effect above is the objective's, this round only confirms it.</p>"
        }
        return body + "</div>"
    }

    /// The approvals so far, the review form for those who may review, and the decisions.
    static func reviewCard(_ entry: LoopEntry, _ detail: CandidateDetail, _ c: CandidateRecord, viewer: Viewer?, view: Int64?) -> String {
        var body = "<div class=\"card\" id=\"review\"><h2 style=\"margin-top:0\">Review</h2>"
        let open = c.review.map { !$0.undoesAccept } ?? true
        if let approvals = detail.approvalStatus {
            body += "<p id=\"approvals\" class=\"\(detail.approvalsMissing == 0 ? "good" : "warn")\">\(E.escape(approvals))</p>"
        }
        if open && viewer?.may(.review) != true {
            body += "<p class=\"muted\" id=\"no-review\">Signed in as \(E.escape(viewer?.name ?? "nobody")) (\(viewer?.role.rawValue ?? "no role")): "
            body += "reviewing takes the reviewer role.</p>"
        } else if open {
            body += reviewForm(entry, c, viewer: viewer, view: view)
        } else {
            body += "<p class=\"muted\">This change is \(E.escape(c.review?.rawValue ?? "")); nothing left to decide.</p>"
        }
        if !detail.approvals.isEmpty {
            body += "<h3>Decisions</h3><ul id=\"decisions\">"
            for approval in detail.approvals {
                body += "<li>\(E.pill(approval.decision.rawValue)) by <strong>\(E.escape(approval.actor))</strong>"
                body += " <span class=\"muted\">(\(E.escape(established(approval))))</span> \(E.escape(time(approval.createdAt)))"
                body += (approval.note.map { ": \(E.escape($0))" } ?? "") + "</li>"
            }
            body += "</ul>"
        }
        return body + "</div>"
    }

    static func reviewForm(_ entry: LoopEntry, _ c: CandidateRecord, viewer: Viewer?, view: Int64?) -> String {
        var body = "<form method=\"post\" action=\"/candidates/\(c.id ?? 0)/act?loop=\(E.escape(entry.name))\" class=\"actions\">\(csrfField(viewer))"
        body += "<p class=\"muted\">You act as <strong>\(E.escape(viewer?.name ?? ""))</strong>, the name of your token. "
        body += "The time from opening this page to your decision is recorded.</p>"
        if let view { body += "<input type=\"hidden\" name=\"view\" value=\"\(view)\">" }
        body += "<label>note (required to reject)<textarea id=\"note\" name=\"note\"></textarea></label>"
        if c.review == .pending || c.review == nil {
            body += "<button class=\"approve\" name=\"action\" value=\"approve\">Approve</button>"
            body += "<button class=\"reject\" name=\"action\" value=\"reject\">Reject and roll back</button>"
        }
        return body + "<button name=\"action\" value=\"rollback\">Roll back</button></form>"
    }

    /// Gate, build, test, measure…: status, time, detail and output.
    static func stepsTable(_ steps: [StepRecord]) -> String {
        var body = "<h2>Steps</h2><table id=\"steps\"><tr><th>step</th><th>status</th><th class=\"num\">time</th><th>detail</th></tr>"
        for step in steps {
            let seconds = step.wallSeconds ?? step.finishedAt.map { $0.timeIntervalSince(step.startedAt) }
            body += "<tr><td>\(E.escape(step.step.rawValue))</td><td>\(E.pill(step.status.rawValue))</td>"
            body += "<td class=\"num\">\(seconds.map { String(format: "%.2f s", $0) } ?? "")</td><td>\(E.escape(step.detail ?? ""))"
            if let output = step.output, !output.isEmpty {
                body += "<details><summary>output</summary><pre>\(E.escape(output))</pre></details>"
            }
            body += "</td></tr>"
        }
        return body + "</table>"
    }
}
