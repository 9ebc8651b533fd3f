import Core
import Foundation
import Report
import Runner
import Store

/// The review UI, rendered on the server: plain HTML and inline SVG, no script. Every value
/// from a store, a diff or a request is escaped (`HTML.escape`).
enum Pages {
    typealias E = HTML

    /// Who looks at a page: their name and role, and the CSRF token of their session
    /// (`nil` for a bearer request, which has no forms to send).
    struct Viewer: Sendable {
        var name: String
        var role: Role
        var csrf: String?

        func may(_ permission: Permission) -> Bool { csrf != nil && role.allows(permission) }
    }

    static func shell(title: String, viewer: Viewer?, body: String) -> String {
        var header = "<header class=\"top\"><a href=\"/\">Ratchet</a><span class=\"sub\">review</span>"
        header += "<a href=\"/\" class=\"sub\">queue</a><a href=\"/audit\" class=\"sub\">audit log</a>"
        if let viewer {
            header += "<span class=\"sub\" id=\"signed-in\">signed in as <strong>\(E.escape(viewer.name))</strong> (\(viewer.role.rawValue))</span>"
            if viewer.csrf != nil {
                header += "<form method=\"post\" action=\"/logout\" class=\"logout\">\(csrfField(viewer))<button id=\"logout\">Log out</button></form>"
            }
        }
        header += "</header>"
        return HTML.page(title: title, body: header + "<main>" + body + "</main>")
    }

    /// The login form: a personal token in a password field, posted to `/login`.
    static func loginNeeded(next: String = "/", problem: String? = nil) -> String {
        HTML.page(
            title: "Ratchet: log in",
            body: """
                <header class="top"><span>Ratchet</span><span class="sub">review</span></header><main>
                <h1>Log in</h1>\(problem.map { "<div class=\"error\" id=\"login-error\">\(E.escape($0))</div>" } ?? "")
                <div class="card"><form method="post" action="/login" class="actions" id="login">
                <label>your personal token<input type="password" id="token" name="token" autocomplete="current-password" required></label>
                <input type="hidden" name="next" value="\(E.escape(next))">
                <button class="approve" id="login-button">Log in</button></form>
                <p class="muted">An admin makes your token with <code>ratchet token add YOUR-NAME --role reviewer</code>; it is shown once.
                What you approve here is recorded under that name. The session ends after 12 hours, 2 hours idle, on logout,
                or when the token is revoked.</p></div></main>
                """)
    }

    static func message(_ title: String, _ text: String, back: String?, viewer: Viewer?) -> String {
        shell(
            title: title, viewer: viewer,
            body: "<h1>\(E.escape(title))</h1><div class=\"error\">\(E.escape(text))</div>" + (back.map { "<p><a href=\"\(E.escape($0))\">back</a></p>" } ?? ""))
    }

    static let doneMessages: [String: String] = [
        "approved": "Approved: recorded in the audit log with your name.",
        "approval_recorded": "Your approval is recorded under your name; the change needs more approvals before it can be promoted.",
        "rejected": "Rejected: recorded, and the change was rolled back on the loop branch.",
        "rolled_back": "Rolled back: a revert commit is on the loop branch.",
        "paused": "Paused: no new step starts; running commands are stopped.",
        "resumed": "Resumed.",
    ]

    static func flash(_ code: String?) -> String {
        guard let code, let text = doneMessages[code] else { return "" }
        return "<div class=\"flash\" id=\"flash\">\(E.escape(text))</div>"
    }

    static func candidateLink(_ c: CandidateRow) -> String {
        "/candidates/\(c.id ?? 0)?loop=\(E.escape(c.loop))"
    }

    static func effect(_ c: CandidateRow) -> String {
        E.effect(estimate: c.estimate, lower: c.lower, upper: c.upper)
    }

    static func effect(_ c: CandidateRecord) -> String {
        E.effect(estimate: c.estimate, lower: c.lower, upper: c.upper)
    }

    static func csrfField(_ viewer: Viewer?) -> String {
        "<input type=\"hidden\" name=\"csrf\" value=\"\(E.escape(viewer?.csrf ?? ""))\">"
    }

    // MARK: The queue

    struct LoopRow {
        var entry: LoopEntry
        var status: LoopStatus
        /// Accepted changes waiting for review, with their diffs by id.
        var pending: [CandidateRow]
        var diffs: [Int64: String]
        /// The loop's newest candidates.
        var recent: [CandidateRow]
    }

    static func queue(rows: [LoopRow], problems: [String: String], depth: [ReviewerDepth] = [], viewer: Viewer?, done: String?) -> String {
        var body = flash(done)
        let diffs = rows.reduce(into: [Int64: String]()) { $0.merge($1.diffs) { a, _ in a } }
        let pending = rows.flatMap(\.pending)
            .sorted { ($0.checkpoint != nil ? 0 : 1, $0.finishedAt ?? $0.createdAt) < ($1.checkpoint != nil ? 0 : 1, $1.finishedAt ?? $1.createdAt) }
        body += "<h1>Review queue <span class=\"muted\">(\(pending.count))</span></h1>"
        if pending.isEmpty {
            body += "<div class=\"card muted\" id=\"queue-empty\">Nothing waits for review.</div>"
        } else {
            body += "<table id=\"queue\"><tr><th>change</th><th>loop</th><th class=\"num\">effect [interval]</th><th>diff</th><th>accepted</th></tr>"
            for c in pending {
                let stat = DiffView(c.id.flatMap { diffs[$0] } ?? "")
                body += "<tr><td>" + (c.checkpoint != nil ? "<span class=\"pill waiting\">checkpoint</span> " : "")
                body += "<a class=\"review-link\" href=\"\(candidateLink(c))\">\(E.escape(c.title))</a>"
                if let checkpoint = c.checkpoint { body += "<br><span class=\"warn\">\(E.escape(checkpoint))</span>" }
                body += "</td><td>\(E.escape(c.loop)) #\(c.sequence)</td><td class=\"num good\">\(E.escape(effect(c)))</td>"
                body += "<td class=\"stat\">\(E.escape(stat.files.map(\.path).joined(separator: ", "))) <span class=\"add\">+\(stat.added)</span> <span class=\"del\">−\(stat.deleted)</span></td>"
                body += "<td class=\"muted\">\(E.escape(time(c.finishedAt ?? c.createdAt)))</td></tr>"
            }
            body += "</table>"
        }
        body += reviewDepth(depth)
        body += "<h2>Loops</h2><table id=\"loops\"><tr><th>loop</th><th>state</th><th>daemon</th><th>best</th><th>candidates</th><th class=\"num\">improvement</th><th>budgets</th><th></th></tr>"
        for row in rows {
            let status = row.status
            let overview = status.overview
            body += "<tr><td><a href=\"/loops/\(E.escape(row.entry.name))\">\(E.escape(row.entry.name))</a><br><span class=\"muted\">\(E.escape(status.schedule))</span></td>"
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
            let paused = PauseSwitch(stateDirectory: row.entry.stateDirectory, loop: row.entry.name).isPaused
            if viewer?.may(.pause) == true {
                body += "<td><form method=\"post\" action=\"/loops/\(E.escape(row.entry.name))/act\" class=\"actions\">\(csrfField(viewer))"
                body += paused
                    ? "<button name=\"action\" value=\"resume\">Resume</button>" : "<button name=\"action\" value=\"pause\">Pause</button>"
                body += "</form></td></tr>"
            } else {
                body += "<td class=\"muted\">\(paused ? "paused" : "")</td></tr>"
            }
        }
        body += "</table>"
        for (file, problem) in problems.sorted(by: { $0.key < $1.key }) {
            body += "<div class=\"alert bad\">config \(E.escape(file)) is not used: \(E.escape(problem))</div>"
        }
        let recent = rows.flatMap(\.recent).sorted { $0.createdAt > $1.createdAt }.prefix(Self.recentCount)
        body += "<h2>Recent candidates</h2>"
        body += candidateTable(Array(recent))
        return shell(title: "Ratchet review queue", viewer: viewer, body: body)
    }

    /// Per reviewer over the last 24 hours: decisions, the median seconds on the page per
    /// changed line (UI decisions), and approvals made in a burst.
    static func reviewDepth(_ depth: [ReviewerDepth]) -> String {
        guard !depth.isEmpty else { return "" }
        var body = "<h2>Review depth <span class=\"muted\">(last 24 h)</span></h2><table id=\"review-depth\">"
        body += "<tr><th>reviewer</th><th class=\"num\">changes reviewed</th><th class=\"num\">median s per changed line</th><th class=\"num\">burst approvals</th></tr>"
        for row in depth {
            let median = row.medianSecondsPerLine.map { String(format: "%.1f", $0) + (row.timed < row.reviewed ? " (of \(row.timed))" : "") } ?? "—"
            body += "<tr><td>\(E.escape(row.reviewer))</td><td class=\"num\">\(row.reviewed)</td><td class=\"num\">\(E.escape(median))</td>"
            body += "<td class=\"num\(row.burst > 0 ? " bad" : "")\">\(row.burst)</td></tr>"
        }
        return body + "</table>"
    }

    /// How many of the newest candidates the queue page lists.
    static let recentCount = 15

    static func candidateTable(_ candidates: [CandidateRow]) -> String {
        guard !candidates.isEmpty else { return "<p class=\"muted\">No candidates yet.</p>" }
        var body = "<table><tr><th class=\"num\">id</th><th>loop</th><th>title</th><th>outcome</th><th class=\"num\">effect [interval]</th><th>reason</th></tr>"
        for c in candidates {
            let reason = (c.reason ?? "").replacingOccurrences(of: "\n", with: " ")
            body += "<tr><td class=\"num\">\(c.id ?? 0)</td><td>\(E.escape(c.loop)) #\(c.sequence)</td>"
            body += "<td><a href=\"\(candidateLink(c))\">\(E.escape(c.title))</a></td><td>\(E.pill(c.outcome ?? c.state))"
            if let review = c.review, c.outcome == Outcome.accepted.rawValue { body += " \(E.pill(review))" }
            body += "</td><td class=\"num\">\(E.escape(effect(c)))</td>"
            body += "<td class=\"muted\">\(E.escape(reason.count > 160 ? String(reason.prefix(159)) + "…" : reason))</td></tr>"
        }
        return body + "</table>"
    }

    static func loop(_ entry: LoopEntry, candidates: [CandidateRow], outcome: String?, viewer: Viewer?) -> String {
        var body = "<h1>Loop \(E.escape(entry.name))</h1><p class=\"muted\">\(E.escape(entry.configPath)) · schedule \(E.escape(entry.config.schedule.summary))</p><p>"
        for filter in ["all", "accepted", "rejected", "inconclusive", "interrupted"] {
            let selected = (outcome ?? "all") == filter
            let href = "/loops/\(E.escape(entry.name))" + (filter == "all" ? "" : "?outcome=\(filter)")
            body += selected ? "<strong>\(filter)</strong> · " : "<a href=\"\(href)\">\(filter)</a> · "
        }
        body += "</p>"
        body += candidateTable(candidates.reversed())
        return shell(title: "Ratchet loop \(entry.name)", viewer: viewer, body: body)
    }

    // MARK: One candidate

    static func candidate(_ entry: LoopEntry, _ detail: CandidateDetail, record c: CandidateRecord, viewer: Viewer?, done: String?, view: Int64? = nil) -> String {
        let id = c.id ?? 0
        var body = flash(done)
        body += "<h1>\(E.escape(c.title)) \(E.pill(c.outcome ?? c.state))" + (c.review.map { " " + E.pill($0) } ?? "") + "</h1>"
        body += "<p class=\"muted\">loop <a href=\"/loops/\(E.escape(entry.name))\">\(E.escape(entry.name))</a> · #\(c.sequence) · id \(id) · "
        body += "proposer \(E.escape(c.proposer)) (\(E.escape(c.source))) · parent <code>\(E.escape(String(c.parentCommit.prefix(10))))</code>"
        body += (c.commit.map { " · commit <code>\(E.escape(String($0.prefix(10))))</code>" } ?? "") + "</p>"
        if let checkpoint = c.checkpoint, c.review == "pending" {
            body += "<div class=\"alert\" id=\"checkpoint\"><strong>Checkpoint</strong>: the loop waits for this review: \(E.escape(checkpoint))</div>"
        }
        // Effect and samples.
        body += "<div class=\"card\"><h2 style=\"margin-top:0\">Effect</h2>"
        if let estimate = c.estimate {
            body += "<p><span class=\"big \(estimate > 0 ? "good" : "bad")\" id=\"effect\">\(E.escape(effect(c)))</span> "
            body += "<span class=\"muted\">over \(c.pairs ?? 0) pairs; minimum effect \(E.escape(E.percent(c.threshold))); \(detail.lowerIsBetter ? "lower" : "higher") is better</span></p>"
            body += Charts.interval(estimate: estimate, lower: c.lower, upper: c.upper, threshold: c.threshold)
        } else {
            body += "<p class=\"muted\">Not measured.</p>"
        }
        if let reason = c.reason { body += "<p>\(E.escape(reason))</p>" }
        let pairs = detail.pairs
        if !pairs.isEmpty {
            let warmups = detail.samples.filter { $0.warmup && $0.benchmark == nil }.count
            body += "<h3>Samples: baseline vs candidate per pair</h3>" + Charts.samples(pairs, lowerIsBetter: detail.lowerIsBetter)
            body += "<p class=\"muted\">\(pairs.count) pair(s) measured, \(warmups) warm-up or pause-spanning run(s) discarded.</p>"
        }
        let confirmation = detail.pairs(of: LoopRunner.wallTimeConfirmation)
        if !confirmation.isEmpty {
            body += "<h3 id=\"confirmation\">Confirmation round: the plain command's wall time (seconds)</h3>"
                + Charts.samples(confirmation, lowerIsBetter: true)
            body += "<p class=\"muted\">\(confirmation.count) pair(s); the effect above is the objective's, this round only confirms it.</p>"
        }
        body += "</div>"
        // Review actions.
        if c.outcome == Outcome.accepted.rawValue {
            body += "<div class=\"card\" id=\"review\"><h2 style=\"margin-top:0\">Review</h2>"
            let open = c.review != "rolled_back" && c.review != "rejected" && c.review != "reset"
            if let approvals = detail.approvalStatus {
                body += "<p id=\"approvals\" class=\"\(detail.approvalsMissing == 0 ? "good" : "warn")\">\(E.escape(approvals))</p>"
            }
            if open && viewer?.may(.review) != true {
                body += "<p class=\"muted\" id=\"no-review\">Signed in as \(E.escape(viewer?.name ?? "nobody")) (\(viewer?.role.rawValue ?? "no role")): "
                body += "reviewing takes the reviewer role.</p>"
            } else if open {
                body += "<form method=\"post\" action=\"/candidates/\(id)/act?loop=\(E.escape(entry.name))\" class=\"actions\">\(csrfField(viewer))"
                body += "<p class=\"muted\">You act as <strong>\(E.escape(viewer?.name ?? ""))</strong>, the name of your token. "
                body += "The time from opening this page to your decision is recorded.</p>"
                if let view { body += "<input type=\"hidden\" name=\"view\" value=\"\(view)\">" }
                body += "<label>note (required to reject)<textarea id=\"note\" name=\"note\"></textarea></label>"
                if c.review == "pending" || c.review == nil {
                    body += "<button class=\"approve\" name=\"action\" value=\"approve\">Approve</button>"
                    body += "<button class=\"reject\" name=\"action\" value=\"reject\">Reject and roll back</button>"
                }
                body += "<button name=\"action\" value=\"rollback\">Roll back</button></form>"
            } else {
                body += "<p class=\"muted\">This change is \(E.escape(c.review ?? "")); nothing left to decide.</p>"
            }
            if !detail.approvals.isEmpty {
                body += "<h3>Decisions</h3><ul id=\"decisions\">"
                for approval in detail.approvals {
                    body += "<li>\(E.pill(approval.decision)) by <strong>\(E.escape(approval.actor))</strong>"
                    body += " <span class=\"muted\">(\(E.escape(established(approval))))</span> \(E.escape(time(approval.createdAt)))"
                    body += (approval.note.map { ": \(E.escape($0))" } ?? "") + "</li>"
                }
                body += "</ul>"
            }
            body += "</div>"
        }
        // Steps: gate, build, test, measure…
        body += "<h2>Steps</h2><table id=\"steps\"><tr><th>step</th><th>status</th><th class=\"num\">time</th><th>detail</th></tr>"
        for step in detail.steps {
            let seconds = step.wallSeconds ?? step.finishedAt.map { $0.timeIntervalSince(step.startedAt) }
            body += "<tr><td>\(E.escape(step.step))</td><td>\(E.pill(step.status == "ok" ? "ok" : step.status))</td>"
            body += "<td class=\"num\">\(seconds.map { String(format: "%.2f s", $0) } ?? "")</td><td>\(E.escape(step.detail ?? ""))"
            if let output = step.output, !output.isEmpty {
                body += "<details><summary>output</summary><pre>\(E.escape(output))</pre></details>"
            }
            body += "</td></tr>"
        }
        body += "</table>"
        // The diff.
        body += "<h2>Diff <span class=\"muted stat\">\(E.escape(detail.diffStat.stat))</span></h2>"
        body += (c.diff?.isEmpty == false) ? DiffView.html(c.diff ?? "") : "<p class=\"muted\">No diff.</p>"
        if c.prompt != nil || c.response != nil {
            body += "<h2>Proposer transcript</h2>"
            if let prompt = c.prompt { body += "<details><summary>prompt</summary><pre>\(E.escape(prompt))</pre></details>" }
            if let response = c.response { body += "<details><summary>response</summary><pre>\(E.escape(response))</pre></details>" }
        }
        return shell(title: "Ratchet: \(c.title)", viewer: viewer, body: body)
    }

    /// A burst of approvals: say so, and offer to approve anyway (flagged in the audit log).
    static func confirmBurst(_ message: String, action: String, fields: [String: String], viewer: Viewer?) -> String {
        var body = "<h1>Approve in a burst?</h1><div class=\"alert\" id=\"burst\">\(E.escape(message))</div>"
        body += "<form method=\"post\" action=\"\(E.escape(action))\" class=\"actions\">"
        for (key, value) in fields.sorted(by: { $0.key < $1.key }) where key != "confirm_burst" {
            body += "<input type=\"hidden\" name=\"\(E.escape(key))\" value=\"\(E.escape(value))\">"
        }
        body += "<input type=\"hidden\" name=\"confirm_burst\" value=\"1\">"
        body += "<button class=\"approve\" id=\"confirm-burst\">Approve anyway (flagged as a burst)</button></form>"
        body += "<p><a href=\"/\">back to the queue</a></p>"
        return shell(title: "Ratchet: approve in a burst?", viewer: viewer, body: body)
    }

    /// How an approval's author was established, in words.
    static func established(_ approval: ApprovalRecord) -> String {
        var fields: [String: String] = [:]
        fields["auth"] = approval.auth
        fields["actor_id"] = approval.actorId
        return Actor.established(actor: approval.actor, fields: fields)
    }

    static func audit(_ entries: [AuditEntry], viewer: Viewer?) -> String {
        var body = "<h1>Audit log <span class=\"muted\">(latest \(entries.count))</span></h1><table id=\"audit\"><tr><th class=\"num\">seq</th><th>time (UTC)</th><th>loop</th><th>kind</th><th>actor</th><th>established by</th><th>details</th></tr>"
        for entry in entries.reversed() {
            let all = entry.fields
            let hidden: Set<String> = ["auth", "actor_id"]
            let fields = all.filter { !hidden.contains($0.key) }.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
            body += "<tr><td class=\"num\">\(entry.seq)</td><td class=\"muted\">\(E.escape(entry.time))</td><td>\(E.escape(entry.loop))</td>"
            body += "<td>\(E.escape(entry.kind))</td><td class=\"actor\">\(E.escape(entry.actor))</td>"
            body += "<td class=\"established\">\(E.escape(Actor.established(actor: entry.actor, fields: all)))</td>"
            body += "<td class=\"muted\">\(E.escape(fields.count > 300 ? String(fields.prefix(299)) + "…" : fields))</td></tr>"
        }
        return shell(title: "Ratchet audit log", viewer: viewer, body: body + "</table>")
    }

    static func time(_ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.dateFormat = "EEE d MMM HH:mm"
        return formatter.string(from: date)
    }
}
