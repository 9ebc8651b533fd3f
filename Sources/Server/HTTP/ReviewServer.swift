import Core
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import Logging
import NIOCore
import Report
import Store

/// The HTTP API, the review web UI and `/metrics`, over the daemon's loops (Hummingbird 2).
///
/// Every request is made by someone: a personal token as a bearer header (the API,
/// `/metrics`), or a browser session opened with one at `/login`. What they may do is their
/// token's role; what they do is recorded under the token's name and id.
///
/// JSON API: `GET /api/loops`, `GET /api/loops/{loop}/candidates?outcome=`,
/// `GET /api/candidates/{id}`, `GET /api/audit`, `GET /api/whoami`;
/// `POST /api/loops/{loop}/pause|resume`, `POST /api/candidates/{id}/approve|reject|rollback`,
/// `POST /api/loops/{loop}/promote?to=`, each with a JSON body (`note`/`reason`; approve
/// needs `"reviewed": true`). Pages: `/`, `/loops/{loop}`, `/candidates/{id}`, `/audit`;
/// their forms POST with a CSRF token and a same-origin check.
public struct ReviewServer: Sendable {
    let state: DaemonState
    let auth: Authenticator
    let actions: Actions
    let logger: Logger
    let tls: TLSConfiguration?

    public init(state: DaemonState, access: AccessStore, tls: TLSConfiguration? = nil, logger: Logger) {
        self.state = state
        self.auth = Authenticator(access: access, secure: tls != nil)
        self.actions = Actions(state: state)
        self.logger = logger
        self.tls = tls
    }

    /// The server as a service, listening on `host:port` (port 0: any free port, reported to
    /// `onRunning`); HTTPS when made with a TLS configuration.
    /// - Throws: when the TLS configuration cannot be used.
    public func application(host: String, port: Int, onRunning: (@Sendable (Int) -> Void)? = nil) throws -> some ApplicationProtocol {
        let server: HTTPServerBuilder = try tls.map { try .tls(.http1(), tlsConfiguration: $0) } ?? .http1()
        return Application(
            router: router(), server: server,
            configuration: ApplicationConfiguration(address: .hostname(host, port: port), serverName: "ratchet"),
            onServerRunning: { channel in
                if let port = channel.localAddress?.port { onRunning?(port) }
            }, logger: logger)
    }

    static let maxBody = 1 << 20

    func router() -> Router<ReviewContext> {
        let router = Router(context: ReviewContext.self)
        router.addMiddleware { AuthMiddleware(auth: auth) }
        let server = self

        // MARK: JSON API
        router.get("/api/loops") { _, _ in server.loopsJSON() }
        router.get("/api/whoami") { _, context in
            server.respond {
                let principal = try context.require(.view)
                return Responses.json(["name": principal.name, "role": principal.role.rawValue, "token_id": String(principal.tokenID)])
            }
        }
        router.get("/api/loops/:loop/candidates") { request, context in
            server.candidatesJSON(loop: context.parameters.get("loop") ?? "", outcome: server.query(request)["outcome"])
        }
        router.get("/api/candidates/:id") { request, context in
            server.respond {
                let id = try server.candidateID(context)
                let (entry, record) = try server.actions.locate(id, loop: server.query(request)["loop"])
                return Responses.json(try server.read { try CandidateDetail.load(entry, record) })
            }
        }
        router.get("/api/audit") { request, _ in server.auditJSON(server.query(request)) }
        router.get("/api/review-depth") { _, _ in server.respond { Responses.json(try server.reviewDepth()) } }
        for verb in ["pause", "resume", "promote"] {
            router.post(RouterPath("/api/loops/:loop/\(verb)")) { request, context in
                let body = await server.jsonBody(request)
                return await server.respondAsync {
                    let principal = try context.require(verb == "promote" ? .promote : .pause)
                    let loop = context.parameters.get("loop") ?? ""
                    let fields = try body.get()
                    let actor = server.actor(principal, claimed: fields.text("as"))
                    let message: String
                    switch verb {
                    case "pause": message = try server.actions.pause(loop, actor: actor, note: fields.text("note") ?? fields.text("reason"))
                    case "resume": message = try server.actions.resume(loop, actor: actor)
                    default: message = try await server.actions.promote(loop, to: server.query(request)["to"] ?? fields.text("to"), actor: actor)
                    }
                    server.logger.notice("\(message)", metadata: ["via": "api", "token": "\(principal.tokenID)"])
                    return Responses.json(["ok": "true", "message": message])
                }
            }
        }
        for verb in ["approve", "reject", "rollback"] {
            router.post(RouterPath("/api/candidates/:id/\(verb)")) { request, context in
                let body = await server.jsonBody(request)
                return server.respond {
                    let principal = try context.require(.review)
                    let id = try server.candidateID(context)
                    let fields = try body.get()
                    let actor = server.actor(principal, claimed: fields.text("as"))
                    let loop = server.query(request)["loop"] ?? fields.text("loop")
                    let note = fields.text("note") ?? fields.text("reason")
                    var reply: [String: String] = ["ok": "true"]
                    switch verb {
                    case "approve":
                        guard fields.text("reviewed") == "1" || fields.text("reviewed") == "true" else {
                            throw RequestFailure(
                                .badRequest, "say that you reviewed the change: send \"reviewed\": true (it is recorded with your approval)")
                        }
                        let confirm = fields.text("confirm_burst") == "1" || fields.text("confirm_burst") == "true"
                        let (message, tally) = try server.actions.approve(
                            id, loop: loop, actor: actor, note: note, evidence: Actions.Evidence(reviewed: true, confirmBurst: confirm))
                        reply["message"] = message
                        reply["approved"] = tally.isMet ? "true" : "false"
                        reply["approvals"] = "\(tally.counted.count)/\(tally.required.count)"
                    case "reject": reply["message"] = try server.actions.reject(id, loop: loop, actor: actor, reason: note)
                    default: reply["message"] = try server.actions.rollback(id, loop: loop, actor: actor, reason: note)
                    }
                    server.logger.notice("\(reply["message"] ?? "")", metadata: ["via": "api", "token": "\(principal.tokenID)"])
                    return Responses.json(reply)
                }
            }
        }
        router.get("/metrics") { _, _ in
            Responses.text(Metrics.render(server.state), contentType: "text/plain; version=0.0.4; charset=utf-8")
        }

        // MARK: Browser
        router.get("/login") { request, context in server.login(request, context: context) }
        router.post("/login") { request, context in
            let form = await server.formBody(request)
            return server.loginForm(request, context: context, form: form)
        }
        router.post("/logout") { request, context in
            let form = await server.formBody(request)
            return server.respondHTML(request, context) {
                let (session, _) = try server.checkForm(request, context, form)
                server.auth.end(session.id)
                server.logger.info("browser session ended (logout)", metadata: ["as": "\(context.principal?.name ?? "-")"])
                return Responses.redirect("/login", headers: [.setCookie: server.auth.clearCookieHeader()])
            }
        }
        router.get("/") { request, context in server.queuePage(request, context) }
        router.get("/loops/:loop") { request, context in
            server.respondHTML(request, context) {
                let entry = try server.actions.entry(context.parameters.get("loop") ?? "")
                let outcome = server.query(request)["outcome"]
                let candidates = try server.read { try entry.store.candidateRows(loop: entry.name, CandidateQuery(outcome: outcome)) }
                return Responses.html(Pages.loop(entry, candidates: candidates, outcome: outcome, viewer: server.viewer(context)))
            }
        }
        router.get("/candidates/:id") { request, context in
            server.respondHTML(request, context) {
                let id = try server.candidateID(context)
                let query = server.query(request)
                let (entry, record) = try server.actions.locate(id, loop: query["loop"])
                let detail = try server.read { try CandidateDetail.load(entry, record) }
                // A reviewer who opens a change waiting for review has loaded its diff: recorded,
                // and the form names this view so the decision knows how long it took.
                var view: Int64?
                if let principal = context.principal, context.session != nil, principal.role.allows(.review),
                    record.outcome == Outcome.accepted.rawValue, record.review == "pending" || record.review == nil
                {
                    view = try server.read { try entry.store.recordView(candidate: id, loop: entry.name, actor: principal.actor).id }
                }
                return Responses.html(
                    Pages.candidate(entry, detail, record: record, viewer: server.viewer(context), done: query["done"], view: view))
            }
        }
        router.get("/audit") { request, context in
            server.respondHTML(request, context) {
                let entries = try server.recentAudit(loop: server.query(request)["loop"], limit: 200)
                return Responses.html(Pages.audit(entries, viewer: server.viewer(context)))
            }
        }
        router.post("/candidates/:id/act") { request, context in
            let form = await server.formBody(request)
            return server.respondHTML(request, context, form: form) {
                let (_, fields) = try server.checkForm(request, context, form)
                let principal = try context.require(.review)
                let actor = principal.actor
                let id = try server.candidateID(context)
                let loop = server.query(request)["loop"] ?? fields["loop"]
                let note = fields["note"]
                let done: String
                switch fields["action"] ?? "" {
                case "approve":
                    let evidence = Actions.Evidence(view: fields["view"].flatMap { Int64($0) }, requireView: true, confirmBurst: fields["confirm_burst"] == "1")
                    let (_, tally) = try server.actions.approve(id, loop: loop, actor: actor, note: note, evidence: evidence)
                    done = tally.isMet ? "approved" : "approval_recorded"
                case "reject":
                    _ = try server.actions.reject(id, loop: loop, actor: actor, reason: note)
                    done = "rejected"
                case "rollback":
                    _ = try server.actions.rollback(id, loop: loop, actor: actor, reason: note)
                    done = "rolled_back"
                default:
                    throw RequestFailure(.badRequest, "unknown action '\(fields["action"] ?? "")'; use approve, reject or rollback")
                }
                server.logger.notice("candidate \(id) \(done) by \(actor.name)", metadata: ["via": "ui", "token": "\(principal.tokenID)"])
                let (entry, _) = try server.actions.locate(id, loop: loop)
                return Responses.redirect("/candidates/\(id)?loop=\(entry.name)&done=\(done)")
            }
        }
        router.post("/loops/:loop/act") { request, context in
            let form = await server.formBody(request)
            return server.respondHTML(request, context) {
                let (_, fields) = try server.checkForm(request, context, form)
                let actor = try context.require(.pause).actor
                let loop = context.parameters.get("loop") ?? ""
                let done: String
                switch fields["action"] ?? "" {
                case "pause":
                    _ = try server.actions.pause(loop, actor: actor, note: fields["note"])
                    done = "paused"
                case "resume":
                    _ = try server.actions.resume(loop, actor: actor)
                    done = "resumed"
                default:
                    throw RequestFailure(.badRequest, "unknown action '\(fields["action"] ?? "")'; use pause or resume")
                }
                return Responses.redirect("/?done=\(done)")
            }
        }
        return router
    }

    // MARK: Helpers

    func query(_ request: Request) -> [String: String] {
        FormData.parse(request.uri.query ?? "")
    }

    func candidateID(_ context: ReviewContext) throws(RequestFailure) -> Int64 {
        guard let text = context.parameters.get("id"), let id = Int64(text), id > 0 else {
            throw RequestFailure(.badRequest, "a candidate id is a positive number")
        }
        return id
    }

    /// Store reads in handlers: a failure is a 500 naming the database.
    func read<T>(_ body: () throws -> T) throws(RequestFailure) -> T {
        do { return try body() } catch { throw Actions.failure(error) }
    }

    /// Runs `body`, turning its error into a JSON error response with the right status.
    func respond(_ body: () throws -> Response) -> Response {
        do { return try body() } catch { return Responses.failure(Actions.failure(error)) }
    }

    func respondAsync(_ body: () async throws -> Response) async -> Response {
        do { return try await body() } catch { return Responses.failure(Actions.failure(error)) }
    }

    /// Runs `body`, turning its error into an HTML error page with the right status; a burst
    /// of approvals gets a page that asks to confirm (re-posting `form` with `confirm_burst`).
    func respondHTML(
        _ request: Request, _ context: ReviewContext, form: Result<[String: String], RequestFailure>? = nil, _ body: () throws -> Response
    ) -> Response {
        do {
            return try body()
        } catch {
            let error = Actions.failure(error)
            if error.code == "burst", let fields = try? form?.get() {
                return Responses.html(
                    Pages.confirmBurst(error.message, action: request.uri.path + "?" + (request.uri.query ?? ""), fields: fields, viewer: viewer(context)),
                    status: error.status)
            }
            let title = error.status == .forbidden ? "Refused" : error.status == .notFound ? "Not found" : "Could not do that"
            return Responses.html(Pages.message(title, error.message, back: "/", viewer: viewer(context)), status: error.status)
        }
    }

    /// Who looks at a page, for its header and forms.
    func viewer(_ context: ReviewContext) -> Pages.Viewer? {
        context.principal.map { Pages.Viewer(name: $0.name, role: $0.role, csrf: context.session?.csrf) }
    }

    /// The actor of an API request: the token's name and id; a name sent in `as` (no longer
    /// needed) is kept beside it when it differs.
    func actor(_ principal: Principal, claimed: String?) -> Actor {
        var actor = principal.actor
        let claimed = (claimed ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        if !claimed.isEmpty, claimed != principal.name { actor.details["as_given"] = String(claimed.prefix(200)) }
        return actor
    }

    /// A JSON object body as strings (an empty body is an empty object).
    struct Fields: Sendable {
        var values: [String: String]
        func text(_ key: String) -> String? { values[key] }
    }

    func jsonBody(_ request: Request) async -> Result<Fields, RequestFailure> {
        var request = request
        let buffer: ByteBuffer
        do {
            buffer = try await request.collectBody(upTo: Self.maxBody)
        } catch {
            return .failure(RequestFailure(.contentTooLarge, "the body is larger than \(Self.maxBody) bytes"))
        }
        guard buffer.readableBytes > 0 else { return .success(Fields(values: [:])) }
        guard let object = try? JSONSerialization.jsonObject(with: Data(buffer.readableBytesView)) as? [String: Any] else {
            return .failure(RequestFailure(.badRequest, "the body must be a JSON object, e.g. {\"reviewed\": true, \"note\": \"looks right\"}"))
        }
        var values: [String: String] = [:]
        for (key, value) in object {
            if let text = value as? String { values[key] = text } else if let number = value as? NSNumber { values[key] = number.stringValue }
        }
        return .success(Fields(values: values))
    }

    func formBody(_ request: Request) async -> Result<[String: String], RequestFailure> {
        var request = request
        do {
            let buffer = try await request.collectBody(upTo: Self.maxBody)
            return .success(FormData.parse(String(buffer: buffer)))
        } catch {
            return .failure(RequestFailure(.contentTooLarge, "the form is larger than \(Self.maxBody) bytes"))
        }
    }

    /// A form POST must come from a session, carry that session's CSRF token, and come from
    /// this site.
    func checkForm(
        _ request: Request, _ context: ReviewContext, _ form: Result<[String: String], RequestFailure>
    ) throws(RequestFailure) -> (Session, [String: String]) {
        let fields = try form.get()
        guard let session = context.session else {
            throw RequestFailure(.forbidden, "no session: log in at /login with your personal token, then try again")
        }
        guard Authenticator.sameOrigin(request) else {
            throw RequestFailure(.forbidden, "cross-site form refused: the request's Origin is not this server")
        }
        guard let csrf = fields["csrf"], SharedTokenFile.constantTimeEqual(csrf, session.csrf) else {
            throw RequestFailure(.forbidden, "the form's CSRF token is missing or stale: reload the page and try again")
        }
        return (session, fields)
    }

    /// `GET /login?token=…` (the link `ratchet token add` prints) opens a session at once;
    /// without a token it shows the login form.
    func login(_ request: Request, context: ReviewContext) -> Response {
        let query = query(request)
        guard let token = query["token"] else { return Responses.html(Pages.loginNeeded(next: Self.localPath(query["next"]))) }
        return startSession(secret: token, next: query["next"], context: context)
    }

    /// `POST /login` from the login form.
    func loginForm(_ request: Request, context: ReviewContext, form: Result<[String: String], RequestFailure>) -> Response {
        guard let fields = try? form.get() else { return Responses.html(Pages.loginNeeded(problem: "the form is too large"), status: .badRequest) }
        guard Authenticator.sameOrigin(request) else {
            return Responses.html(Pages.loginNeeded(problem: "cross-site login refused"), status: .forbidden)
        }
        return startSession(secret: fields["token"] ?? "", next: fields["next"], context: context)
    }

    func startSession(secret: String, next: String?, context: ReviewContext) -> Response {
        if let wait = auth.limiter.blocked(context.address) { return AuthMiddleware.tooMany(wait, api: false) }
        guard let record = auth.token(secret: secret.trimmingCharacters(in: .whitespacesAndNewlines)) else {
            auth.limiter.fail(context.address)
            logger.warning("refused a login with an unknown or revoked token", metadata: ["address": "\(context.address)"])
            return Responses.html(
                Pages.loginNeeded(next: Self.localPath(next), problem: "that token is unknown or was revoked"), status: .unauthorized)
        }
        let session = auth.createSession(record)
        logger.info("browser session started", metadata: ["as": "\(record.name)", "token": "\(record.id ?? 0)"])
        return Responses.redirect(Self.localPath(next), headers: [.setCookie: auth.cookieHeader(session)])
    }

    /// Only local paths: never an open redirect.
    static func localPath(_ next: String?) -> String {
        guard let next, next.hasPrefix("/"), !next.hasPrefix("//"), !next.contains("\\") else { return "/" }
        return next
    }

    func loopsJSON() -> Response {
        respond {
            var result: [LoopStatus] = []
            for entry in state.catalog.loops {
                result.append(try read { try LoopStatus.load(entry, phase: state.control(entry.name).phase) })
            }
            return Responses.json(result)
        }
    }

    func candidatesJSON(loop: String, outcome: String?) -> Response {
        respond {
            let entry = try actions.entry(loop)
            // `running`: the candidates without an outcome yet.
            let query = outcome == "running" ? CandidateQuery(unfinished: true) : CandidateQuery(outcome: outcome)
            let candidates = try read { try entry.store.candidateRows(loop: entry.name, query) }
            return Responses.json(candidates.map(CandidateSummary.init))
        }
    }

    func recentAudit(loop: String?, limit: Int) throws(RequestFailure) -> [AuditEntry] {
        var seen = Set<String>()
        var entries: [AuditEntry] = []
        for entry in state.catalog.loops where seen.insert(entry.store.path).inserted {
            entries += try read { try entry.audit.recent(limit: limit, loop: loop) }
        }
        return Array(entries.sorted { $0.time != $1.time ? $0.time < $1.time : $0.seq < $1.seq }.suffix(limit))
    }

    /// Review depth per reviewer over the last 24 hours, over every store of the daemon.
    func reviewDepth(hours: Double = 24) throws(RequestFailure) -> [ReviewerDepth] {
        var seen = Set<String>()
        var decisions: [ReviewDecision] = []
        let since = Date().addingTimeInterval(-hours * 3600)
        for entry in state.catalog.loops where seen.insert(entry.store.path).inserted {
            decisions += try read { try entry.store.reviewDecisions(since: since) }
        }
        return ReviewerDepth.summarize(decisions)
    }

    func auditJSON(_ query: [String: String]) -> Response {
        respond {
            let limit = min(max(Int(query["limit"] ?? "") ?? 200, 1), 10_000)
            return Responses.json(try recentAudit(loop: query["loop"], limit: limit))
        }
    }

    func queuePage(_ request: Request, _ context: ReviewContext) -> Response {
        respondHTML(request, context) {
            var rows: [Pages.LoopRow] = []
            for entry in state.catalog.loops {
                let status = try read { try LoopStatus.load(entry, phase: state.control(entry.name).phase) }
                let pending = try read { try entry.store.pendingReview(loop: entry.name) }
                rows.append(
                    Pages.LoopRow(
                        entry: entry, status: status, pending: pending, diffs: try read { try entry.store.diffs(of: pending.compactMap(\.id)) },
                        recent: try read { try entry.store.candidateRows(loop: entry.name, CandidateQuery(newest: Pages.recentCount)) }))
            }
            return Responses.html(
                Pages.queue(rows: rows, problems: state.catalog.problems, depth: try reviewDepth(), viewer: viewer(context), done: query(request)["done"]))
        }
    }
}
