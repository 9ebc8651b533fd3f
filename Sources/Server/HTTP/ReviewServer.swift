import Core
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import Report
import Store

/// The HTTP API, the review web UI and `/metrics`, over the daemon's loops (Hummingbird 2).
///
/// JSON API (bearer token): `GET /api/loops`, `GET /api/loops/{loop}/candidates?outcome=`,
/// `GET /api/candidates/{id}`, `GET /api/audit`; `POST /api/loops/{loop}/pause|resume`,
/// `POST /api/candidates/{id}/approve|reject|rollback`, `POST /api/loops/{loop}/promote?to=`,
/// each with a JSON body `{"as": "...", "note"/"reason": "..."}`.
/// Pages (session cookie from `/login?token=`): `/`, `/loops/{loop}`, `/candidates/{id}`,
/// `/audit`; their forms POST with a CSRF token and a same-origin check.
public struct ReviewServer: Sendable {
    let state: DaemonState
    let auth: Authenticator
    let actions: Actions
    let logger: Logger

    public init(state: DaemonState, token: AccessToken, logger: Logger) {
        self.state = state
        self.auth = Authenticator(token: token)
        self.actions = Actions(state: state)
        self.logger = logger
    }

    /// The server as a service, listening on `host:port` (port 0: any free port, reported to `onRunning`).
    public func application(host: String, port: Int, onRunning: (@Sendable (Int) -> Void)? = nil) -> some ApplicationProtocol {
        Application(
            router: router(), configuration: ApplicationConfiguration(address: .hostname(host, port: port), serverName: "ratchet"),
            onServerRunning: { channel in
                if let port = channel.localAddress?.port { onRunning?(port) }
            }, logger: logger)
    }

    static let maxBody = 1 << 20

    func router() -> Router<BasicRequestContext> {
        let router = Router()
        router.addMiddleware { AuthMiddleware(auth: auth) }
        let server = self

        // MARK: JSON API
        router.get("/api/loops") { _, _ in server.loopsJSON() }
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
        for verb in ["pause", "resume", "promote"] {
            router.post(RouterPath("/api/loops/:loop/\(verb)")) { request, context in
                let body = await server.jsonBody(request)
                return await server.respondAsync {
                    let loop = context.parameters.get("loop") ?? ""
                    let fields = try body.get()
                    let message: String
                    switch verb {
                    case "pause": message = try server.actions.pause(loop, actor: fields.text("as"), note: fields.text("note") ?? fields.text("reason"))
                    case "resume": message = try server.actions.resume(loop, actor: fields.text("as"))
                    default: message = try await server.actions.promote(loop, to: server.query(request)["to"] ?? fields.text("to"), actor: fields.text("as"))
                    }
                    server.logger.notice("\(message)", metadata: ["via": "api"])
                    return Responses.json(["ok": "true", "message": message])
                }
            }
        }
        for verb in ["approve", "reject", "rollback"] {
            router.post(RouterPath("/api/candidates/:id/\(verb)")) { request, context in
                let body = await server.jsonBody(request)
                return server.respond {
                    let id = try server.candidateID(context)
                    let fields = try body.get()
                    let loop = server.query(request)["loop"] ?? fields.text("loop")
                    let note = fields.text("note") ?? fields.text("reason")
                    let message: String
                    switch verb {
                    case "approve": message = try server.actions.approve(id, loop: loop, actor: fields.text("as"), note: note)
                    case "reject": message = try server.actions.reject(id, loop: loop, actor: fields.text("as"), reason: note)
                    default: message = try server.actions.rollback(id, loop: loop, actor: fields.text("as"), reason: note)
                    }
                    server.logger.notice("\(message)", metadata: ["via": "api"])
                    return Responses.json(["ok": "true", "message": message])
                }
            }
        }
        router.get("/metrics") { _, _ in
            Responses.text(Metrics.render(server.state), contentType: "text/plain; version=0.0.4; charset=utf-8")
        }

        // MARK: Browser
        router.get("/login") { request, _ in server.login(request) }
        router.get("/") { request, _ in server.queuePage(request) }
        router.get("/loops/:loop") { request, context in
            server.respondHTML(request) {
                let entry = try server.actions.entry(context.parameters.get("loop") ?? "")
                let outcome = server.query(request)["outcome"]
                var candidates = try server.read { try entry.store.candidates(loop: entry.name) }
                if let outcome { candidates = candidates.filter { $0.outcome == outcome } }
                return Responses.html(Pages.loop(entry, candidates: candidates, outcome: outcome, session: server.auth.session(request)))
            }
        }
        router.get("/candidates/:id") { request, context in
            server.respondHTML(request) {
                let id = try server.candidateID(context)
                let query = server.query(request)
                let (entry, record) = try server.actions.locate(id, loop: query["loop"])
                let detail = try server.read { try CandidateDetail.load(entry, record) }
                return Responses.html(Pages.candidate(entry, detail, record: record, session: server.auth.session(request), done: query["done"]))
            }
        }
        router.get("/audit") { request, _ in
            server.respondHTML(request) {
                let entries = try server.recentAudit(loop: server.query(request)["loop"], limit: 200)
                return Responses.html(Pages.audit(entries, session: server.auth.session(request)))
            }
        }
        router.post("/candidates/:id/act") { request, context in
            let form = await server.formBody(request)
            return server.respondHTML(request) {
                let (session, fields) = try server.checkForm(request, form)
                let id = try server.candidateID(context)
                let loop = server.query(request)["loop"] ?? fields["loop"]
                let who = server.identity(fields["as"], session: session)
                let note = fields["note"]
                let done: String
                switch fields["action"] ?? "" {
                case "approve":
                    _ = try server.actions.approve(id, loop: loop, actor: who, note: note)
                    done = "approved"
                case "reject":
                    _ = try server.actions.reject(id, loop: loop, actor: who, reason: note)
                    done = "rejected"
                case "rollback":
                    _ = try server.actions.rollback(id, loop: loop, actor: who, reason: note)
                    done = "rolled_back"
                default:
                    throw RequestFailure(.badRequest, "unknown action '\(fields["action"] ?? "")'; use approve, reject or rollback")
                }
                server.auth.remember(identity: who, for: session.id)
                server.logger.notice("candidate \(id) \(done) by \(who)", metadata: ["via": "ui"])
                let (entry, _) = try server.actions.locate(id, loop: loop)
                return Responses.redirect("/candidates/\(id)?loop=\(entry.name)&done=\(done)")
            }
        }
        router.post("/loops/:loop/act") { request, context in
            let form = await server.formBody(request)
            return server.respondHTML(request) {
                let (session, fields) = try server.checkForm(request, form)
                let loop = context.parameters.get("loop") ?? ""
                let who = server.identity(fields["as"], session: session)
                let done: String
                switch fields["action"] ?? "" {
                case "pause":
                    _ = try server.actions.pause(loop, actor: who, note: fields["note"])
                    done = "paused"
                case "resume":
                    _ = try server.actions.resume(loop, actor: who)
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

    func candidateID(_ context: BasicRequestContext) throws(RequestFailure) -> Int64 {
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

    /// Runs `body`, turning its error into an HTML error page with the right status.
    func respondHTML(_ request: Request, _ body: () throws -> Response) -> Response {
        do {
            return try body()
        } catch {
            let error = Actions.failure(error)
            let title = error.status == .forbidden ? "Refused" : error.status == .notFound ? "Not found" : "Could not do that"
            return Responses.html(Pages.message(title, error.message, back: "/", session: auth.session(request)), status: error.status)
        }
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
            return .failure(RequestFailure(.badRequest, "the body must be a JSON object, e.g. {\"as\": \"Ada\", \"note\": \"looks right\"}"))
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
    func checkForm(_ request: Request, _ form: Result<[String: String], RequestFailure>) throws(RequestFailure) -> (Session, [String: String]) {
        let fields = try form.get()
        guard let session = auth.session(request) else {
            throw RequestFailure(.forbidden, "no session: open the login link `ratchet token` prints, then try again")
        }
        guard Authenticator.sameOrigin(request) else {
            throw RequestFailure(.forbidden, "cross-site form refused: the request's Origin is not this server")
        }
        guard let csrf = fields["csrf"], AccessToken.constantTimeEqual(csrf, session.csrf) else {
            throw RequestFailure(.forbidden, "the form's CSRF token is missing or stale: reload the page and try again")
        }
        return (session, fields)
    }

    func identity(_ given: String?, session: Session) -> String {
        let trimmed = (given ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        if !trimmed.isEmpty { return trimmed }
        return session.identity ?? "web session \(session.id.prefix(8))"
    }

    func login(_ request: Request) -> Response {
        let query = query(request)
        guard let token = query["token"], auth.token.matches(token) else {
            logger.warning("refused a login with a wrong token")
            return Responses.html(Pages.loginNeeded(), status: .unauthorized)
        }
        let session = auth.createSession(identity: query["as"].flatMap { try? Actions.identity($0) })
        // Only local paths: never an open redirect.
        var next = query["next"] ?? "/"
        if !next.hasPrefix("/") || next.hasPrefix("//") || next.contains("\\") { next = "/" }
        logger.info("browser session started", metadata: ["as": "\(session.identity ?? "-")"])
        return Responses.redirect(next, headers: [.setCookie: Authenticator.cookieHeader(session)])
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
            var candidates = try read { try entry.store.candidates(loop: entry.name) }
            if let outcome { candidates = candidates.filter { $0.outcome == outcome || (outcome == "running" && $0.outcome == nil) } }
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

    func auditJSON(_ query: [String: String]) -> Response {
        respond {
            let limit = min(max(Int(query["limit"] ?? "") ?? 200, 1), 10_000)
            return Responses.json(try recentAudit(loop: query["loop"], limit: limit))
        }
    }

    func queuePage(_ request: Request) -> Response {
        respondHTML(request) {
            var rows: [Pages.LoopRow] = []
            for entry in state.catalog.loops {
                let status = try read { try LoopStatus.load(entry, phase: state.control(entry.name).phase) }
                rows.append(Pages.LoopRow(entry: entry, status: status, candidates: try read { try entry.store.candidates(loop: entry.name) }))
            }
            return Responses.html(Pages.queue(rows: rows, problems: state.catalog.problems, session: auth.session(request), done: query(request)["done"]))
        }
    }
}
