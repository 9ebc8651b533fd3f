import Core
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import Store
import Synchronization

/// Who is making a request, established from a personal token (a bearer header, or the
/// browser session opened with it).
public struct Principal: Sendable, Equatable {
    public var tokenID: Int64
    public var name: String
    public var role: Role
    /// The browser session, when the request came with its cookie.
    public var sessionID: String?

    /// The actor recorded with what this principal does.
    var actor: Actor {
        Actor(
            name: name, auth: sessionID == nil ? .token : .session, id: "token \(tokenID)",
            details: sessionID.map { ["session": String($0.prefix(8))] } ?? [:])
    }
}

/// A browser session opened with a personal token: the cookie value, its CSRF token (a
/// hidden field every form must send back), and the token it stands for.
struct Session: Sendable {
    var id: String
    var csrf: String
    var tokenID: Int64
    var created: Date
    var lastSeen: Date

    var expires: Date { min(created.addingTimeInterval(Authenticator.lifetime), lastSeen.addingTimeInterval(Authenticator.idle)) }
}

/// Counts failed token attempts per address: past `limit` in `window`, that address is
/// refused (429) until the window has passed, valid token or not.
final class FailureLimiter: Sendable {
    let limit: Int
    let window: TimeInterval
    private let failures = Mutex<[String: [Date]]>([:])

    init(limit: Int = 10, window: TimeInterval = 300) {
        self.limit = limit
        self.window = window
    }

    /// Seconds until `address` may try again, or `nil` when it may now.
    func blocked(_ address: String, now: Date = Date()) -> Int? {
        failures.withLock { failures in
            let recent = (failures[address] ?? []).filter { now.timeIntervalSince($0) < window }
            failures[address] = recent.isEmpty ? nil : recent
            guard recent.count >= limit, let oldest = recent.first else { return nil }
            return max(1, Int((window - now.timeIntervalSince(oldest)).rounded(.up)))
        }
    }

    func fail(_ address: String, now: Date = Date()) {
        failures.withLock { failures in
            if failures.count > 10_000 { failures = failures.filter { ($0.value.last.map { now.timeIntervalSince($0) } ?? window) < window } }
            failures[address, default: []].append(now)
        }
    }
}

/// Who may use the server: API clients with a personal token as a bearer header, browsers
/// with a session cookie opened with one. Every request looks the token up in the store,
/// so a revoked token (and every session opened with it) is refused at once.
final class Authenticator: Sendable {
    static let cookieName = "ratchet_session"
    /// A session ends 12 hours after login, or after 2 hours without a request.
    static let lifetime: TimeInterval = 12 * 3600
    static let idle: TimeInterval = 2 * 3600
    static let maxSessions = 256

    let access: AccessStore
    /// Whether the server speaks TLS: cookies are then `Secure`.
    let secure: Bool
    let limiter = FailureLimiter()
    private let sessions = Mutex<[String: Session]>([:])

    init(access: AccessStore, secure: Bool) {
        self.access = access
        self.secure = secure
    }

    enum Outcome {
        case none
        case refused
        case principal(Principal)
    }

    /// The live token whose secret is `secret`.
    func token(secret: String) -> AccessTokenRecord? {
        guard !secret.isEmpty, secret.count <= 200, let record = try? access.store.liveToken(secret: secret) else { return nil }
        access.store.touchToken(record)
        return record
    }

    /// The principal of `Authorization: Bearer <token>`: `.none` without the header,
    /// `.refused` when the token is unknown or revoked.
    func bearer(_ request: Request) -> Outcome {
        guard let header = request.headers[.authorization] else { return .none }
        let parts = header.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else { return .refused }
        guard let record = token(secret: String(parts[1]).trimmingCharacters(in: .whitespaces)), let id = record.id else { return .refused }
        return .principal(Principal(tokenID: id, name: record.name, role: record.role, sessionID: nil))
    }

    /// The live session named by the request's cookie, and its principal. A session whose
    /// token was revoked, or that expired, is ended here.
    func session(_ request: Request) -> (Session, Principal)? {
        guard let id = request.cookies[Self.cookieName]?.value, !id.isEmpty else { return nil }
        let now = Date()
        guard
            let session = sessions.withLock({ sessions -> Session? in
                guard var session = sessions[id] else { return nil }
                guard session.expires > now else {
                    sessions[id] = nil
                    return nil
                }
                session.lastSeen = now
                sessions[id] = session
                return session
            })
        else { return nil }
        guard let record = try? access.store.token(id: session.tokenID), record.isLive else {
            end(session.id)
            return nil
        }
        return (session, Principal(tokenID: session.tokenID, name: record.name, role: record.role, sessionID: session.id))
    }

    /// A new session for `token` (the oldest is dropped past `maxSessions`).
    func createSession(_ token: AccessTokenRecord) -> Session {
        let now = Date()
        let session = Session(id: SharedTokenFile.random(), csrf: SharedTokenFile.random(), tokenID: token.id ?? 0, created: now, lastSeen: now)
        sessions.withLock { sessions in
            sessions = sessions.filter { $0.value.expires > now }
            if sessions.count >= Self.maxSessions, let oldest = sessions.min(by: { $0.value.lastSeen < $1.value.lastSeen }) {
                sessions[oldest.key] = nil
            }
            sessions[session.id] = session
        }
        return session
    }

    /// Ends a session (logout).
    func end(_ id: String) {
        _ = sessions.withLock { $0.removeValue(forKey: id) }
    }

    /// The session cookie: HttpOnly, SameSite=Strict, the whole site; `Secure` under TLS.
    func cookie(_ session: Session) -> Cookie {
        Cookie(name: Self.cookieName, value: session.id, maxAge: Int(Self.lifetime), path: "/", secure: secure, httpOnly: true, sameSite: .strict)
    }

    /// The cookie that clears the session cookie.
    func clearingCookie() -> Cookie {
        Cookie(name: Self.cookieName, value: "", maxAge: 0, path: "/", secure: secure, httpOnly: true, sameSite: .strict)
    }

    /// Whether a form POST comes from this site: `Origin` (or, without it, `Referer`) must
    /// name the host the request was sent to; `Sec-Fetch-Site`, when sent, must be
    /// same-origin. A request with none of these headers (not a browser) passes here and is
    /// judged by its CSRF token alone.
    static func sameOrigin(_ request: Request) -> Bool {
        let host = request.head.authority ?? ""
        let allowed = ["http://\(host)", "https://\(host)"]
        if let name = HTTPField.Name.secFetchSite, let site = request.headers[name], site != "same-origin" && site != "none" {
            return false
        }
        if let origin = request.headers[.origin] {
            return allowed.contains(origin)
        }
        if let referer = request.headers[.referer] {
            return allowed.contains { referer == $0 || referer.hasPrefix($0 + "/") }
        }
        return true
    }
}

/// Establishes who is calling: `/api/*` and `/metrics` want a personal token as a bearer
/// header; pages a session cookie (or the bearer header). `/login` is open. Failed token
/// attempts are counted per address; past the limit the address gets 429 for a while.
struct AuthMiddleware: RouterMiddleware {
    typealias Context = ReviewContext
    let auth: Authenticator

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let path = request.uri.path
        if path == "/login" || path == "/favicon.ico" { return try await next(request, context) }
        let api = Self.isAPI(path)
        var context = context
        switch auth.bearer(request) {
        case .principal(let principal):
            if let wait = auth.limiter.blocked(context.address) { return try Self.tooMany(wait, api: api, request, context) }
            context.principal = principal
            return try await next(request, context)
        case .refused:
            if let wait = auth.limiter.blocked(context.address) { return try Self.tooMany(wait, api: api, request, context) }
            auth.limiter.fail(context.address)
            return try Self.unauthorized(api: api, revoked: true, request, context)
        case .none:
            if !api, let (session, principal) = auth.session(request) {
                context.principal = principal
                context.session = session
                return try await next(request, context)
            }
            return try Self.unauthorized(api: api, revoked: false, request, context)
        }
    }

    /// Whether `path` is answered in JSON (the API) or plain text (`/metrics`) rather than HTML.
    static func isAPI(_ path: String) -> Bool {
        path.hasPrefix("/api/") || path == "/api" || path == "/metrics"
    }

    static func unauthorized(api: Bool, revoked: Bool, _ request: Request, _ context: Context) throws -> Response {
        guard api else { return HTMLPage(html: Pages.loginNeeded(), status: .unauthorized).response }
        let message =
            revoked
            ? "unauthorized: the token is unknown or was revoked; ask for a new one (`ratchet token add NAME`)"
            : "unauthorized: send the header `Authorization: Bearer <token>` with a personal token (`ratchet token add NAME`)"
        return try RequestFailure(.unauthorized, message, headers: [.wwwAuthenticate: "Bearer realm=\"ratchet\""]).response(
            from: request, context: context)
    }

    static func tooMany(_ seconds: Int, api: Bool, _ request: Request, _ context: Context) throws -> Response {
        guard api else { return tooManyPage(seconds) }
        return try RequestFailure(.tooManyRequests, tooManyMessage(seconds), headers: [.retryAfter: String(seconds)]).response(
            from: request, context: context)
    }

    static func tooManyPage(_ seconds: Int) -> Response {
        var page = HTMLPage(html: Pages.message("Too many attempts", tooManyMessage(seconds), back: nil, viewer: nil), status: .tooManyRequests)
            .response
        page.headers[.retryAfter] = String(seconds)
        return page
    }

    static func tooManyMessage(_ seconds: Int) -> String {
        "too many failed token attempts from this address; try again in \(seconds) s"
    }
}
