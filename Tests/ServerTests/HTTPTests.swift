import Core
import Foundation
import Runner
import Server
import Store
import TestSupport
import Testing

/// The HTTP API and the review UI over real 127.0.0.1, on a loop held at a checkpoint.
@Suite(.serialized) struct HTTPTests {
    /// A loop that ran until its first accept, which waits for review.
    static func heldLoop() async throws -> (GitFixture, Int64) {
        let fixture = try TinyWorkspace.make(config: TinyWorkspace.config() + "\n[checkpoint]\nevery_accepts = 1\n")
        let (summary, workspace) = try await runLoop(fixture)
        #expect(summary.stopReason.contains("waiting for review"))
        let id = try #require(try workspace.store.candidates(loop: "tiny").first { $0.outcome == .accepted }?.id)
        return (fixture, id)
    }

    @Test func apiNeedsATokenListsAndApprovesAsItsOwner() async throws {
        let (fixture, id) = try await Self.heldLoop()
        defer { fixture.remove() }
        try await withDaemon(configs: [fixture.path + "/ratchet.toml"], pollInterval: 30) { daemon, port in
            let token = try personalToken(daemon, "ada", role: .admin)
            let grace = try personalToken(daemon, "grace", role: .reviewer)
            // No token, a wrong one: 401, and nothing leaks.
            let anonymous = try await http("GET", port, "/api/loops")
            #expect(anonymous.status == 401)
            #expect(anonymous.header("WWW-Authenticate")?.contains("Bearer") == true)
            #expect(try await http("GET", port, "/api/loops", token: String(repeating: "0", count: 64)).status == 401)
            #expect(try await http("POST", port, "/api/candidates/\(id)/approve", json: ["as": "Mallory"]).status == 401)
            #expect(try await http("GET", port, "/metrics").status == 401)
            #expect(try await http("GET", port, "/").status == 401)

            #expect(await eventually(40) { daemon.state.control("tiny").phase.phase == "held" })
            let loops = try await http("GET", port, "/api/loops", token: token)
            #expect(loops.status == 200)
            let list = try #require(loops.json as? [[String: Any]])
            #expect(list.first?["loop"] as? String == "tiny")
            let overview = try #require(list.first?["overview"] as? [String: Any])
            #expect((overview["checkpoints"] as? [Int])?.contains(Int(id)) == true)
            #expect((list.first?["daemon"] as? [String: Any])?["phase"] as? String == "held")

            let accepted = try await http("GET", port, "/api/loops/tiny/candidates?outcome=accepted", token: token)
            let candidates = try #require(accepted.json as? [[String: Any]])
            #expect(candidates.count == 1 && candidates.first?["id"] as? Int == Int(id))
            #expect(try await http("GET", port, "/api/loops/nope/candidates", token: token).status == 404)

            let detail = try #require(try await http("GET", port, "/api/candidates/\(id)", token: token).json as? [String: Any])
            #expect((detail["diff"] as? String)?.contains("diff --git") == true)
            #expect((detail["samples"] as? [Any])?.isEmpty == false)
            #expect((detail["steps"] as? [[String: Any]])?.map { $0["step"] as? String }.contains("measure") == true)

            // An approval must say the change was reviewed; it is recorded under the token's
            // name, whatever `as` says.
            let unstated = try await http("POST", port, "/api/candidates/\(id)/approve", token: token, json: [:])
            #expect(unstated.status == 400)
            #expect(unstated.body.contains("reviewed"))
            let approval = try await http(
                "POST", port, "/api/candidates/\(id)/approve", token: token, json: ["as": "Linus", "reviewed": "true", "note": "numbers check out"])
            #expect(approval.status == 200, "\(approval.body)")
            let again = try await http("POST", port, "/api/candidates/\(id)/approve", token: token, json: ["reviewed": "true"])
            #expect(again.status == 409)
            #expect(again.body.contains("already reviewed"))

            let audit = try #require(try await http("GET", port, "/api/audit?loop=tiny", token: token).json as? [[String: Any]])
            let entry = try #require(audit.last { $0["kind"] as? String == "approval" })
            #expect(entry["actor"] as? String == "ada")
            let fields = try #require(try JSONSerialization.jsonObject(with: Data((entry["payload"] as? String ?? "").utf8)) as? [String: String])
            #expect(fields["auth"] == "token")
            #expect(fields["actor_id"]?.hasPrefix("token ") == true)
            #expect(fields["as_given"] == "Linus", "a name sent in `as` is kept as a claim, not as the actor")
            #expect(fields["reviewed"] == "yes")
            let store = try #require(daemon.state.entry(named: "tiny")?.store)
            #expect(try store.approvals(candidate: id).first?.note == "numbers check out")
            #expect(try store.approvals(candidate: id).first?.auth == "token")

            // Pause and resume, audited with who.
            let paused = try await http("POST", port, "/api/loops/tiny/pause", token: grace, json: ["note": "lunch"])
            #expect(paused.status == 200, "\(paused.body)")
            let state = try #require(daemon.state.entry(named: "tiny")?.stateDirectory)
            #expect(FileManager.default.fileExists(atPath: state + "/tiny.pause"))
            #expect(try await http("POST", port, "/api/loops/tiny/resume", token: grace).status == 200)
            #expect(!FileManager.default.fileExists(atPath: state + "/tiny.pause"))
            let auditLog = try #require(daemon.state.entry(named: "tiny")?.audit)
            let kinds = try auditLog.recent(limit: 500, loop: "tiny").filter { $0.actor == "grace" }.map(\.kind)
            #expect(kinds == ["pause_requested", "resume_requested"])

            // Promote needs ?to= and the admin role; the approved change reaches the branch.
            #expect(try await http("POST", port, "/api/loops/tiny/promote", token: token).status == 400)
            #expect(try await http("POST", port, "/api/loops/tiny/promote?to=release", token: grace).status == 403)
            let promoted = try await http("POST", port, "/api/loops/tiny/promote?to=release", token: token)
            #expect(promoted.status == 200, "\(promoted.body)")
            #expect(try fixture.git("rev-parse", "release").count >= 40)

            let metrics = try await http("GET", port, "/metrics", token: token)
            #expect(metrics.status == 200)
            #expect(metrics.header("Content-Type")?.hasPrefix("text/plain; version=0.0.4") == true)
            #expect(metrics.body.contains("# TYPE ratchet_candidates gauge"))
            #expect(metrics.body.contains("ratchet_accepts_total{loop=\"tiny\"}"))
            #expect(metrics.body.contains("ratchet_step_duration_seconds_count{loop=\"tiny\",step=\"measure\"}"))
            #expect(metrics.body.contains("ratchet_improvement_ratio{loop=\"tiny\"} 1\n"), "the tuner doubled the speed: +100%")
        }
    }

    /// A wall-time confirmation round gets its own chart; the objective's chart and its
    /// discarded-run count leave those samples out.
    @Test func confirmationSamplesAreChartedApart() async throws {
        let (fixture, id) = try await Self.heldLoop()
        defer { fixture.remove() }
        let workspace = try Workspace(configPath: fixture.path + "/ratchet.toml")
        let before = try workspace.store.samples(candidate: id)
        for pair in 0..<3 {
            for (position, arm) in [Arm.baseline, .candidate].enumerated() {
                try workspace.store.add(
                    SampleRecord(
                        candidateId: id, pair: 100 + pair, arm: arm, position: position, value: arm == .baseline ? 0.1 : 0.01, wallSeconds: 0.1,
                        warmup: pair == 0, benchmark: LoopRunner.wallTimeConfirmation))
            }
        }
        try await withDaemon(configs: [fixture.path + "/ratchet.toml"], pollInterval: 30) { daemon, port in
            let login = try await http("GET", port, "/login?token=\(try personalToken(daemon, "viewer", role: .viewer))")
            let cookie = String(try #require(login.header("Set-Cookie")).split(separator: ";")[0])
            let page = try await http("GET", port, "/candidates/\(id)?loop=tiny", cookie: cookie)
            #expect(page.status == 200)
            #expect(page.body.contains("id=\"confirmation\""))
            #expect(page.body.contains("2 pair(s); the effect above is the objective's"))
            #expect(page.body.ranges(of: "<svg class=\"chart samples\"").count == 2)
            let mainWarmups = before.filter(\.warmup).count
            #expect(page.body.contains("\(mainWarmups) warm-up or pause-spanning run(s) discarded"))
        }
    }

    /// Browser flow: login sets a strict HttpOnly cookie; a form POST without the session's
    /// CSRF token, or from another origin, is refused and changes nothing; with both it is
    /// recorded under the token's name, whatever the form says.
    @Test func loginCookieAndCSRF() async throws {
        let (fixture, id) = try await Self.heldLoop()
        defer { fixture.remove() }
        try await withDaemon(configs: [fixture.path + "/ratchet.toml"], pollInterval: 30) { daemon, port in
            #expect(try await http("GET", port, "/login?token=wrong").status == 401)
            let login = try await http("GET", port, "/login?token=\(try personalToken(daemon, "linus"))&next=//evil.example/")
            #expect(login.status == 303)
            #expect(login.header("Location") == "/")
            let setCookie = try #require(login.header("Set-Cookie"))
            #expect(setCookie.contains("HttpOnly") && setCookie.contains("SameSite=Strict"))
            let cookie = String(setCookie.split(separator: ";")[0])

            let page = try await http("GET", port, "/candidates/\(id)?loop=tiny", cookie: cookie)
            #expect(page.status == 200)
            #expect(page.body.contains("class=\"add\""))
            #expect(page.body.contains("<svg class=\"chart samples\""))
            #expect(page.body.contains("Checkpoint"))
            let csrf = try #require(page.body.firstMatch(of: /name="csrf" value="([0-9a-f]+)"/)?.1)

            let origin = ("Origin", "http://127.0.0.1:\(port)")
            let noToken = try await http(
                "POST", port, "/candidates/\(id)/act?loop=tiny", cookie: cookie, headers: [origin],
                form: formEncode([("as", "Eve"), ("action", "approve")]))
            #expect(noToken.status == 403)
            let wrongOrigin = try await http(
                "POST", port, "/candidates/\(id)/act?loop=tiny", cookie: cookie, headers: [("Origin", "http://evil.example")],
                form: formEncode([("csrf", String(csrf)), ("as", "Eve"), ("action", "approve")]))
            #expect(wrongOrigin.status == 403)
            let noSession = try await http(
                "POST", port, "/candidates/\(id)/act?loop=tiny", headers: [origin],
                form: formEncode([("csrf", String(csrf)), ("as", "Eve"), ("action", "approve")]))
            #expect(noSession.status == 401)
            let store = try #require(daemon.state.entry(named: "tiny")?.store)
            #expect(try store.approvals(candidate: id).isEmpty, "a refused form changed the store")

            let ok = try await http(
                "POST", port, "/candidates/\(id)/act?loop=tiny", cookie: cookie, headers: [origin],
                form: formEncode([("csrf", String(csrf)), ("as", "Linus"), ("note", "fine & dandy"), ("action", "approve")]))
            #expect(ok.status == 303, "\(ok.body)")
            #expect(ok.header("Location")?.contains("done=approved") == true)
            #expect(try store.approvals(candidate: id).first?.actor == "linus")
            #expect(try store.approvals(candidate: id).first?.auth == "session")
            #expect(try store.approvals(candidate: id).first?.note == "fine & dandy")
        }
    }

    /// Whatever a store holds is escaped on the page.
    @Test func pagesEscapeWhatTheyShow() async throws {
        let (fixture, id) = try await Self.heldLoop()
        defer { fixture.remove() }
        let workspace = try Workspace(configPath: fixture.path + "/ratchet.toml")
        var record = try #require(try workspace.store.candidate(id: id))
        record.title = "<script>alert('x')</script>"
        record.diff = (record.diff ?? "") + "+<img src=x onerror=alert(1)>\n"
        try workspace.store.update(record)
        try await withDaemon(configs: [fixture.path + "/ratchet.toml"], pollInterval: 30) { daemon, port in
            let token = try personalToken(daemon, "viewer", role: .viewer)
            for path in ["/", "/candidates/\(id)", "/loops/tiny"] {
                let page = try await http("GET", port, path, token: token)
                #expect(page.status == 200)
                #expect(!page.body.contains("<script>") && !page.body.contains("<img src=x"), "\(path) is not escaped")
                #expect(page.body.contains("&lt;script&gt;"))
                #expect(page.header("Content-Security-Policy")?.contains("default-src 'none'") == true)
            }
        }
    }

    /// A request the server cannot do is answered in the caller's language: JSON
    /// (`{"error": …}`) for the API, an HTML page for the UI, each with the status.
    @Test func errorsAreJSONForTheAPIAndPagesForTheUI() async throws {
        let (fixture, id) = try await Self.heldLoop()
        defer { fixture.remove() }
        try await withDaemon(configs: [fixture.path + "/ratchet.toml"], pollInterval: 30) { daemon, port in
            let token = try personalToken(daemon, "ada")
            for (path, status) in [("/api/candidates/abc", 400), ("/api/loops/tiny/candidates?outcome=won", 400), ("/api/nothing", 404)] {
                let reply = try await http("GET", port, path, token: token)
                #expect(reply.status == status, "\(path): \(reply.body)")
                #expect(reply.header("Content-Type")?.hasPrefix("application/json") == true, "\(path)")
                #expect((reply.json as? [String: String])?["error"]?.isEmpty == false, "\(path): \(reply.body)")
            }
            let garbled = try await http("POST", port, "/api/candidates/\(id)/approve", token: token, body: "reviewed")
            #expect(garbled.status == 400 && garbled.body.contains("must be a JSON object"), "\(garbled.body)")
            let store = try #require(daemon.state.entry(named: "tiny")?.store)
            #expect(try store.approvals(candidate: id).isEmpty)

            for (path, status) in [("/candidates/\(id)?loop=nope", 404), ("/nothing", 404), ("/candidates/0", 400)] {
                let page = try await http("GET", port, path, token: token)
                #expect(page.status == status, "\(path)")
                #expect(page.header("Content-Type")?.hasPrefix("text/html") == true, "\(path)")
                #expect(page.header("Content-Security-Policy")?.contains("default-src 'none'") == true, "\(path)")
                #expect(
                    page.body.contains("<div class=\"error\">") && page.body.contains("signed in as <strong>ada</strong>"), "\(path): \(page.body)")
            }

            // A JSON true (not only the string) says the change was reviewed.
            let approved = try await http("POST", port, "/api/candidates/\(id)/approve", token: token, body: #"{"reviewed": true, "note": "ok"}"#)
            #expect(approved.status == 200, "\(approved.body)")
            #expect(try store.approvals(candidate: id).first?.note == "ok")
        }
    }
}
