import AsyncHTTPClient
import Core
import Foundation
import HummingbirdTLS
import Logging
import Report
import Runner
import Server
import Store
import TestSupport
import Testing

/// Accountable approval over real HTTP and HTTPS on 127.0.0.1: personal tokens and roles,
/// required approvals through the real promote path, revocation, sessions, rate limiting,
/// TLS, and the refusal of plain HTTP beyond loopback.
@Suite(.serialized) struct AccessTests {
    static func origin(_ port: Int) -> (String, String) { ("Origin", "http://127.0.0.1:\(port)") }

    /// A viewer reads everything but cannot approve, pause or promote: 403, and nothing changes.
    @Test func aViewerCannotApprovePauseOrPromote() async throws {
        let (fixture, id) = try await HTTPTests.heldLoop()
        defer { fixture.remove() }
        try await withDaemon(configs: [fixture.path + "/ratchet.toml"], pollInterval: 30) { daemon, port in
            let viewer = try personalToken(daemon, "vera", role: .viewer)
            #expect(try await http("GET", port, "/api/loops", token: viewer).status == 200)
            #expect(try await http("GET", port, "/metrics", token: viewer).status == 200)
            let approve = try await http("POST", port, "/api/candidates/\(id)/approve", token: viewer, json: ["reviewed": "true"])
            #expect(approve.status == 403)
            #expect(approve.body.contains("vera is a viewer"), "\(approve.body)")
            #expect(try await http("POST", port, "/api/loops/tiny/pause", token: viewer).status == 403)
            #expect(try await http("POST", port, "/api/loops/tiny/promote?to=release", token: viewer).status == 403)
            let entry = try #require(daemon.state.entry(named: "tiny"))
            #expect(try entry.store.approvals(candidate: id).isEmpty)
            #expect(!FileManager.default.fileExists(atPath: entry.stateDirectory + "/tiny.pause"))
            #expect((try? fixture.git("rev-parse", "--verify", "release")) == nil)

            // In the UI: no review form, and a forged form post is refused.
            let (cookie, csrf) = try await browserSession(port, token: viewer, page: "/candidates/\(id)?loop=tiny")
            let page = try await http("GET", port, "/candidates/\(id)?loop=tiny", cookie: cookie)
            #expect(page.body.contains("id=\"no-review\""))
            #expect(!page.body.contains("value=\"approve\""))
            let forged = try await http(
                "POST", port, "/candidates/\(id)/act?loop=tiny", cookie: cookie, headers: [Self.origin(port)],
                form: formEncode([("csrf", csrf), ("action", "approve")]))
            #expect(forged.status == 403)
            #expect(try entry.store.approvals(candidate: id).isEmpty)
        }
    }

    /// `[[checkpoint.rule]]` asks two people for src/**: one approval is not enough to
    /// promote (the refusal names what is missing), the same person again does not count,
    /// and a second person's approval lets the change through the real promote path.
    @Test func aTwoApprovalPathIsPromotedOnlyAfterTwoPeopleApprove() async throws {
        let config = TinyWorkspace.config() + "\n[checkpoint]\nevery_accepts = 1\n[[checkpoint.rule]]\npaths = [\"src/**\"]\napprovals = 2\n"
        let fixture = try TinyWorkspace.make(config: config)
        defer { fixture.remove() }
        let (_, workspace) = try await runLoop(fixture)
        let id = try #require(try workspace.store.candidates(loop: "tiny").first { $0.outcome == .accepted }?.id)
        let commit = try #require(try workspace.store.candidate(id: id)?.commit)
        try await withDaemon(configs: [fixture.path + "/ratchet.toml"], pollInterval: 30) { daemon, port in
            let store = try #require(daemon.state.entry(named: "tiny"))
            let admin = try personalToken(daemon, "root-admin", role: .admin)
            let ada = try personalToken(daemon, "ada")
            let bob = try personalToken(daemon, "bob")
            let first = try await http("POST", port, "/api/candidates/\(id)/approve", token: ada, json: ["reviewed": "true"])
            #expect(first.status == 200, "\(first.body)")
            let firstReply = try #require(first.json as? [String: String])
            #expect(firstReply["approved"] == "false")
            #expect(firstReply["approvals"] == "1/2")

            let refused = try await http("POST", port, "/api/loops/tiny/promote?to=release", token: admin)
            #expect(refused.status == 409, "\(refused.body)")
            #expect(refused.body.contains("1 of 2 approvals (by ada)"), "\(refused.body)")
            #expect(refused.body.contains("needs 1 more"), "\(refused.body)")
            #expect(refused.body.contains("matches src/**"), "\(refused.body)")
            #expect((try? fixture.git("rev-parse", "--verify", "release")) == nil)

            let twice = try await http("POST", port, "/api/candidates/\(id)/approve", token: ada, json: ["reviewed": "true"])
            #expect(twice.status == 409)
            #expect(twice.body.contains("a second approval by the same person does not count"), "\(twice.body)")
            #expect(try await http("POST", port, "/api/loops/tiny/promote?to=release", token: admin).status == 409)
            let detail = try #require(try await http("GET", port, "/api/candidates/\(id)", token: ada).json as? [String: Any])
            #expect(detail["approvalsMissing"] as? Int == 1)

            let second = try await http("POST", port, "/api/candidates/\(id)/approve", token: bob, json: ["reviewed": "true"])
            #expect(second.status == 200, "\(second.body)")
            #expect((second.json as? [String: String])?["approved"] == "true")
            let promoted = try await http("POST", port, "/api/loops/tiny/promote?to=release", token: admin)
            #expect(promoted.status == 200, "\(promoted.body)")
            #expect(try fixture.git("rev-parse", "release").trimmingCharacters(in: .whitespacesAndNewlines) == commit)
            let promotion = try #require(try store.audit.entries(loop: "tiny").last { $0.kind == "promotion" })
            #expect(promotion.actor == "root-admin")
            #expect(promotion.fields["auth"] == "token")
        }
    }

    /// `forbid_self_approval`: the person who started the run (the OS user of `ratchet run`)
    /// cannot approve its changes, even with a token of their own.
    @Test func theRunsStarterCannotApproveWhenSelfApprovalIsForbidden() async throws {
        let config = TinyWorkspace.config() + "\n[checkpoint]\nevery_accepts = 1\nforbid_self_approval = true\n"
        let fixture = try TinyWorkspace.make(config: config)
        defer { fixture.remove() }
        let (_, workspace) = try await runLoop(fixture)
        let id = try #require(try workspace.store.candidates(loop: "tiny").first { $0.outcome == .accepted }?.id)
        #expect(try workspace.store.runs(loop: "tiny").last?.startedBy == LocalUser.name)
        try await withDaemon(configs: [fixture.path + "/ratchet.toml"], pollInterval: 30) { daemon, port in
            let mine = try personalToken(daemon, LocalUser.name)
            let refused = try await http("POST", port, "/api/candidates/\(id)/approve", token: mine, json: ["reviewed": "true"])
            #expect(refused.status == 409)
            #expect(refused.body.contains("started the run"), "\(refused.body)")
            let other = try personalToken(daemon, "someone-else")
            #expect(try await http("POST", port, "/api/candidates/\(id)/approve", token: other, json: ["reviewed": "true"]).status == 200)
        }
    }

    /// `ratchet token revoke` (another process) refuses the token at once: its bearer
    /// requests and the browser session opened with it get 401 on the next request.
    @Test func aRevokedTokenIsRefusedAtOnceEvenInAnOpenSession() async throws {
        let (fixture, id) = try await HTTPTests.heldLoop()
        defer { fixture.remove() }
        let ratchet = try builtRatchet()
        try await withDaemon(configs: [fixture.path + "/ratchet.toml"], pollInterval: 30) { daemon, port in
            let token = try personalToken(daemon, "mallory")
            let (cookie, csrf) = try await browserSession(port, token: token, page: "/candidates/\(id)?loop=tiny")
            #expect(try await http("GET", port, "/api/loops", token: token).status == 200)
            #expect(try await http("GET", port, "/", cookie: cookie).status == 200)

            let (status, output) = try await run([ratchet, "token", "revoke", "mallory", "--state", daemon.access.directory])
            #expect(status == 0, "\(output)")
            #expect(output.contains("revoked token"))

            #expect(try await http("GET", port, "/api/loops", token: token).status == 401)
            #expect(try await http("GET", port, "/", cookie: cookie).status == 401)
            let form = try await http(
                "POST", port, "/candidates/\(id)/act?loop=tiny", cookie: cookie, headers: [Self.origin(port)],
                form: formEncode([("csrf", csrf), ("action", "approve")]))
            #expect(form.status == 401)
            #expect(try await http("GET", port, "/login?token=\(token)").status == 401)
            #expect(try daemon.state.entry(named: "tiny")?.store.approvals(candidate: id).isEmpty == true)
            let revoked = try #require(try daemon.access.audit.entries(loop: "").last)
            #expect(revoked.kind == "token_revoked" && revoked.fields["name"] == "mallory" && revoked.fields["auth"] == "os-user")
        }
    }

    /// Logout ends the session (the cookie is cleared and no longer works).
    @Test func logoutEndsTheSession() async throws {
        let (fixture, _) = try await HTTPTests.heldLoop()
        defer { fixture.remove() }
        try await withDaemon(configs: [fixture.path + "/ratchet.toml"], pollInterval: 30) { daemon, port in
            let (cookie, csrf) = try await browserSession(port, token: try personalToken(daemon, "ada"))
            let logout = try await http("POST", port, "/logout", cookie: cookie, headers: [Self.origin(port)], form: formEncode([("csrf", csrf)]))
            #expect(logout.status == 303)
            #expect(logout.header("Set-Cookie")?.contains("Max-Age=0") == true)
            #expect(try await http("GET", port, "/", cookie: cookie).status == 401)
        }
    }

    /// Ten wrong tokens from one address, and that address is refused (429) for a while, even
    /// with a right token; the form login counts too.
    @Test func failedTokenAttemptsAreRateLimited() async throws {
        let (fixture, _) = try await HTTPTests.heldLoop()
        defer { fixture.remove() }
        try await withDaemon(configs: [fixture.path + "/ratchet.toml"], pollInterval: 30) { daemon, port in
            let good = try personalToken(daemon, "ada")
            for attempt in 0..<9 {
                #expect(try await http("GET", port, "/api/loops", token: "rat_guess\(attempt)").status == 401)
            }
            let wrongLogin = try await http("POST", port, "/login", headers: [Self.origin(port)], form: formEncode([("token", "rat_guess")]))
            #expect(wrongLogin.status == 401)
            let blocked = try await http("GET", port, "/api/loops", token: good)
            #expect(blocked.status == 429)
            #expect(Int(blocked.header("Retry-After") ?? "") ?? 0 > 0)
            #expect(try await http("POST", port, "/login", headers: [Self.origin(port)], form: formEncode([("token", good)])).status == 429)
        }
    }

    /// An existing set-up keeps working: the shared `<state>/token` is the admin `owner`
    /// until revoked, and revoking it deletes the file.
    @Test func theSharedTokenIsTheOwnerUntilRevoked() async throws {
        let (fixture, _) = try await HTTPTests.heldLoop()
        defer { fixture.remove() }
        let workspace = try Workspace(configPath: fixture.path + "/ratchet.toml")
        let shared = String(repeating: "ab12", count: 16)
        let file = workspace.stateDirectory + "/token"
        try (shared + "\n").write(toFile: file, atomically: true, encoding: .utf8)
        let ratchet = try builtRatchet()
        try await withDaemon(configs: [fixture.path + "/ratchet.toml"], pollInterval: 30) { daemon, port in
            let whoami = try #require(try await http("GET", port, "/api/whoami", token: shared).json as? [String: String])
            #expect(whoami["name"] == "owner" && whoami["role"] == "admin")
            let (status, output) = try await run([ratchet, "token", "list", "--state", daemon.access.directory])
            #expect(status == 0 && output.contains("owner") && output.contains("shared token file"), "\(output)")
            let (revoked, text) = try await run([ratchet, "token", "revoke", "owner", "--state", daemon.access.directory])
            #expect(revoked == 0, "\(text)")
            #expect(try await http("GET", port, "/api/loops", token: shared).status == 401)
            #expect(!FileManager.default.fileExists(atPath: file))
        }
    }

    /// HTTPS on 127.0.0.1 with a certificate made by openssl in the test: the API answers over
    /// TLS, the session cookie is Secure, and plain HTTP to the same port gets nothing.
    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/openssl"), "openssl is not installed"))
    func servesHTTPSWithSecureCookies() async throws {
        let (fixture, _) = try await HTTPTests.heldLoop()
        defer { fixture.remove() }
        let folder = try TemporaryFolder("tls")
        defer { folder.remove() }
        let (cert, key) = (folder.path + "/cert.pem", folder.path + "/key.pem")
        let (status, output) = try await run([
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert, "-days", "1", "-subj", "/CN=127.0.0.1",
            "-addext", "subjectAltName=IP:127.0.0.1",
        ])
        #expect(status == 0, "\(output)")
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(cert))
        let client = HTTPClient(
            eventLoopGroupProvider: .singleton, configuration: HTTPClient.Configuration(tlsConfiguration: tls, redirectConfiguration: .disallow))
        do {
            try await withDaemon(configs: [fixture.path + "/ratchet.toml"], pollInterval: 30, tls: (cert, key)) { daemon, port in
                #expect(daemon.scheme == "https")
                let token = try personalToken(daemon, "ada")
                let loops = try await http("GET", port, "/api/loops", token: token, scheme: "https", client: client)
                #expect(loops.status == 200)
                let login = try await http("GET", port, "/login?token=\(token)", scheme: "https", client: client)
                #expect(login.status == 303)
                #expect(login.header("Set-Cookie")?.contains("; Secure") == true)
                await #expect(throws: (any Error).self) { _ = try await http("GET", port, "/api/loops", token: token) }
            }
        } catch {
            try await client.shutdown()
            throw error
        }
        try await client.shutdown()
    }

    /// Plain HTTP beyond loopback is refused before anything is bound; loopback is fine.
    @Test func plainHTTPBeyondLoopbackIsRefused() async throws {
        let (fixture, _) = try await HTTPTests.heldLoop()
        defer { fixture.remove() }
        let sources = LoopSources(configPaths: [fixture.path + "/ratchet.toml"], loopsDirectory: nil)
        for host in ["0.0.0.0", "192.0.2.10", "::"] {
            #expect(throws: DaemonError.self) {
                _ = try Daemon.make(Daemon.Options(sources: sources, host: host, port: 0), logger: testLogger(), signals: false)
            }
        }
        for host in ["127.0.0.1", "127.1.2.3", "::1", "localhost"] { #expect(Daemon.Options.isLoopback(host)) }
        #expect(throws: DaemonError.self) {
            try Daemon.Options(sources: sources, host: "127.0.0.1", tlsCertificate: "/nonexistent.pem").checkTransport()
        }
        try Daemon.Options(sources: sources, host: "0.0.0.0", insecureHTTP: true).checkTransport()
        // The CLI says why and exits 64 without listening.
        let (status, output) = try await run([
            "timeout", "30", try builtRatchet(), "daemon", "--config", fixture.path + "/ratchet.toml", "--host", "0.0.0.0", "--port", "0",
        ])
        #expect(status == 64, "\(output)")
        #expect(output.contains("refusing plain HTTP on 0.0.0.0") && output.contains("--tls-cert"), "\(output)")
    }

    /// The UI refuses an approval from a reviewer who never loaded the change's diff; once
    /// they have, the time from opening the page to the decision is recorded and shows in the
    /// review depth next to the queue.
    @Test func approvingInTheUINeedsTheDiffLoadedAndRecordsTheTime() async throws {
        let (fixture, id) = try await HTTPTests.heldLoop()
        defer { fixture.remove() }
        try await withDaemon(configs: [fixture.path + "/ratchet.toml"], pollInterval: 30) { daemon, port in
            let (cookie, csrf) = try await browserSession(port, token: try personalToken(daemon, "ada"))
            let blind = try await http(
                "POST", port, "/candidates/\(id)/act?loop=tiny", cookie: cookie, headers: [Self.origin(port)],
                form: formEncode([("csrf", csrf), ("action", "approve")]))
            #expect(blind.status == 409)
            #expect(
                blind.body.contains("has not loaded candidate \(id)&#39;s diff") || blind.body.contains("has not loaded candidate \(id)"),
                "\(blind.body)")
            let store = try #require(daemon.state.entry(named: "tiny")?.store)
            #expect(try store.approvals(candidate: id).isEmpty)

            let page = try await http("GET", port, "/candidates/\(id)?loop=tiny", cookie: cookie)
            let view = String(try #require(page.body.firstMatch(of: /name="view" value="([0-9]+)"/)?.1))
            try await Task.sleep(for: .milliseconds(1100))
            let approved = try await http(
                "POST", port, "/candidates/\(id)/act?loop=tiny", cookie: cookie, headers: [Self.origin(port)],
                form: formEncode([("csrf", csrf), ("view", view), ("action", "approve")]))
            #expect(approved.status == 303, "\(approved.body)")
            let approval = try #require(try store.approvals(candidate: id).first)
            #expect((approval.reviewSeconds ?? 0) >= 1)
            let audited = try #require(try daemon.state.entry(named: "tiny")?.audit.entries(loop: "tiny").last { $0.kind == "approval" })
            #expect(Int(audited.fields["review_seconds"] ?? "") ?? 0 >= 1)

            let depth = try #require(
                try await http("GET", port, "/api/review-depth", token: try personalToken(daemon, "vera", role: .viewer)).json as? [[String: Any]])
            let ada = try #require(depth.first { $0["reviewer"] as? String == "ada" })
            #expect(ada["reviewed"] as? Int == 1 && ada["timed"] as? Int == 1)
            #expect((ada["medianSecondsPerLine"] as? Double ?? 0) > 0)
            let queue = try await http("GET", port, "/", cookie: cookie)
            #expect(queue.body.contains("id=\"review-depth\""))
            // The morning report shows the same, next to what needs attention.
            let entry = try #require(daemon.state.entry(named: "tiny"))
            let report = try MorningReport.build(
                sources: [
                    ReportSource(loop: "tiny", store: entry.store, audit: entry.audit, stateDirectory: entry.stateDirectory, config: entry.config)
                ],
                since: Date().addingTimeInterval(-3600), until: Date().addingTimeInterval(60), baseURL: nil)
            #expect(report.reviewDepth.map(\.reviewer) == ["ada"])
            #expect(report.reviewDepth.first?.reviewed == 1 && report.reviewDepth.first?.medianSecondsPerLine != nil)
            #expect(report.markdown().contains("## Review depth"))
            #expect(report.markdown().contains("| ada | 1 | "))
            #expect(report.html().contains("id=\"review-depth\""))
        }
    }

    /// More than 5 approvals in a minute: the API refuses without `confirm_burst` (code
    /// `burst`), the UI asks to confirm, and a confirmed burst approval is flagged in the audit.
    @Test func aBurstOfApprovalsNeedsConfirmationAndIsFlagged() async throws {
        let (fixture, id) = try await HTTPTests.heldLoop()
        defer { fixture.remove() }
        let workspace = try Workspace(configPath: fixture.path + "/ratchet.toml")
        let parent = try #require(try workspace.store.candidate(id: id)?.parentCommit)
        let earlier = try workspace.store.insertCandidate(
            CandidateRecord(loop: "tiny", sequence: 0, proposer: "p", source: "s", title: "earlier", parentCommit: parent))
        let other = try #require(earlier.id)
        for _ in 0..<5 {
            _ = try workspace.store.add(
                ApprovalRecord(candidateId: other, loop: "tiny", decision: .approved, actor: "ada", note: "earlier, in a hurry"))
        }
        try await withDaemon(configs: [fixture.path + "/ratchet.toml"], pollInterval: 30) { daemon, port in
            let token = try personalToken(daemon, "ada")
            let refused = try await http("POST", port, "/api/candidates/\(id)/approve", token: token, json: ["reviewed": "true"])
            #expect(refused.status == 409)
            #expect((refused.json as? [String: String])?["code"] == "burst", "\(refused.body)")

            let (cookie, csrf) = try await browserSession(port, token: token, page: "/candidates/\(id)?loop=tiny")
            let asked = try await http(
                "POST", port, "/candidates/\(id)/act?loop=tiny", cookie: cookie, headers: [Self.origin(port)],
                form: formEncode([("csrf", csrf), ("action", "approve"), ("note", "sure")]))
            #expect(asked.status == 409)
            #expect(asked.body.contains("id=\"confirm-burst\"") && asked.body.contains("name=\"confirm_burst\" value=\"1\""), "\(asked.body)")
            #expect(asked.body.contains("name=\"note\" value=\"sure\""))
            let confirmed = try await http(
                "POST", port, "/candidates/\(id)/act?loop=tiny", cookie: cookie, headers: [Self.origin(port)],
                form: formEncode([("csrf", csrf), ("action", "approve"), ("note", "sure"), ("confirm_burst", "1")]))
            #expect(confirmed.status == 303, "\(confirmed.body)")
            let audited = try #require(try daemon.state.entry(named: "tiny")?.audit.entries(loop: "tiny").last { $0.kind == "approval" })
            #expect(audited.fields["burst"] == "yes")
            #expect(try daemon.state.entry(named: "tiny")?.store.approvals(candidate: id).first?.burst == true)
        }
    }
}
