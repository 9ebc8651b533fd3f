import Foundation
import HTTPTypes
import Hummingbird
import Synchronization

/// A browser session made by `/login?token=…`: the cookie value, its CSRF token (a hidden
/// field every form must send back), and the name the reviewer signs with.
struct Session: Sendable {
    var id: String
    var csrf: String
    var identity: String?
    var expires: Date
}

/// Who may use the server: API clients with the bearer token, browsers with a session
/// cookie made from it.
final class Authenticator: Sendable {
    static let cookieName = "ratchet_session"
    static let lifetime: TimeInterval = 7 * 86_400
    static let maxSessions = 256

    let token: AccessToken
    private let sessions = Mutex<[String: Session]>([:])

    init(token: AccessToken) {
        self.token = token
    }

    /// Whether `request` carries `Authorization: Bearer <token>`.
    func hasBearer(_ request: Request) -> Bool {
        guard let header = request.headers[.authorization] else { return false }
        let parts = header.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else { return false }
        return token.matches(String(parts[1]).trimmingCharacters(in: .whitespaces))
    }

    /// The live session named by the request's cookie, if any.
    func session(_ request: Request) -> Session? {
        guard let id = Self.cookies(request)[Self.cookieName] else { return nil }
        return sessions.withLock { sessions in
            guard let session = sessions[id] else { return nil }
            if session.expires < Date() {
                sessions[id] = nil
                return nil
            }
            return session
        }
    }

    /// A new session (the oldest is dropped past `maxSessions`).
    func createSession(identity: String?) -> Session {
        let session = Session(id: AccessToken.random(), csrf: AccessToken.random(), identity: identity, expires: Date().addingTimeInterval(Self.lifetime))
        sessions.withLock { sessions in
            let now = Date()
            sessions = sessions.filter { $0.value.expires > now }
            if sessions.count >= Self.maxSessions, let oldest = sessions.min(by: { $0.value.expires < $1.value.expires }) {
                sessions[oldest.key] = nil
            }
            sessions[session.id] = session
        }
        return session
    }

    /// Remembers the name a reviewer signed an action with, to fill the next form.
    func remember(identity: String, for id: String) {
        sessions.withLock { $0[id]?.identity = identity }
    }

    /// `Set-Cookie` for `session`: HttpOnly, SameSite=Strict, the whole site.
    static func cookieHeader(_ session: Session) -> String {
        "\(cookieName)=\(session.id); Path=/; Max-Age=\(Int(lifetime)); HttpOnly; SameSite=Strict"
    }

    static func cookies(_ request: Request) -> [String: String] {
        var result: [String: String] = [:]
        for header in request.headers[values: .cookie] {
            for pair in header.split(separator: ";") {
                let parts = pair.split(separator: "=", maxSplits: 1)
                guard parts.count == 2 else { continue }
                result[parts[0].trimmingCharacters(in: .whitespaces)] = parts[1].trimmingCharacters(in: .whitespaces)
            }
        }
        return result
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

/// Refuses requests without credentials: `/api/*` and `/metrics` want the bearer token,
/// pages a session cookie (or the bearer token). `/login` is open.
struct AuthMiddleware: RouterMiddleware {
    typealias Context = BasicRequestContext
    let auth: Authenticator

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let path = request.uri.path
        if path == "/login" || path == "/favicon.ico" { return try await next(request, context) }
        if path.hasPrefix("/api/") || path == "/api" || path == "/metrics" {
            guard auth.hasBearer(request) else {
                var response = Responses.json(
                    ["error": "unauthorized: send the header `Authorization: Bearer <token>`; `ratchet token` prints the token"], status: .unauthorized)
                response.headers[.wwwAuthenticate] = "Bearer realm=\"ratchet\""
                return response
            }
            return try await next(request, context)
        }
        guard auth.session(request) != nil || auth.hasBearer(request) else {
            return Responses.html(Pages.loginNeeded(), status: .unauthorized)
        }
        return try await next(request, context)
    }
}
