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
                header +=
                    "<form method=\"post\" action=\"/logout\" class=\"logout\">\(csrfField(viewer))<button id=\"logout\">Log out</button></form>"
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
            body: "<h1>\(E.escape(title))</h1><div class=\"error\">\(E.escape(text))</div>"
                + (back.map { "<p><a href=\"\(E.escape($0))\">back</a></p>" } ?? ""))
    }

    static let doneMessages: [String: String] = [
        ReviewState.approved.rawValue: "Approved: recorded in the audit log with your name.",
        "approval_recorded": "Your approval is recorded under your name; the change needs more approvals before it can be promoted.",
        ReviewState.rejected.rawValue: "Rejected: recorded, and the change was rolled back on the loop branch.",
        ReviewState.rolledBack.rawValue: "Rolled back: a revert commit is on the loop branch.",
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
        var body =
            "<h1>Audit log <span class=\"muted\">(latest \(entries.count))</span></h1><table id=\"audit\"><tr><th class=\"num\">seq</th><th>time (UTC)</th><th>loop</th><th>kind</th><th>actor</th><th>established by</th><th>details</th></tr>"
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
