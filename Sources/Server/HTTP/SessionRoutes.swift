import Core
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import Store

/// Browser sessions: `/login` opens one with a personal token (the link `ratchet token add`
/// prints, or the login form), `/logout` ends it. Failed tokens count against the address.
struct SessionRoutes: Sendable {
    let auth: Authenticator

    var collection: RouteCollection<ReviewContext> {
        let routes = RouteCollection(context: ReviewContext.self)
        routes.get("login", use: loginLink)
        routes.post("login", use: loginForm)
        routes.post("logout", use: logout)
        return routes
    }

    /// The token link's query, or the login form.
    struct Login: Decodable {
        var token: String?
        var next: String?
    }

    struct LogoutForm: Decodable {
        var csrf: String?
    }

    /// `GET /login?token=…` opens a session at once; without a token it shows the login form.
    @Sendable func loginLink(_ request: Request, context: ReviewContext) throws -> Response {
        let query = (try? request.query(as: Login.self, context: context)) ?? Login()
        guard let token = query.token else { return HTMLPage(html: Pages.loginNeeded(next: Self.localPath(query.next))).response }
        return startSession(secret: token, next: query.next, context: context)
    }

    /// `POST /login` from the login form, from this site only.
    @Sendable func loginForm(_ request: Request, context: ReviewContext) async throws -> Response {
        guard let form = try? await request.decodeForm(as: Login.self, context: context) else {
            return HTMLPage(html: Pages.loginNeeded(problem: "the form cannot be read"), status: .badRequest).response
        }
        guard Authenticator.sameOrigin(request) else {
            return HTMLPage(html: Pages.loginNeeded(problem: "cross-site login refused"), status: .forbidden).response
        }
        return startSession(secret: form.token ?? "", next: form.next, context: context)
    }

    @Sendable func logout(_ request: Request, context: ReviewContext) async throws -> Redirect {
        let form = try await request.decodeForm(as: LogoutForm.self, context: context)
        let session = try context.formSession(request, csrf: form.csrf)
        auth.end(session.id)
        context.logger.info("browser session ended (logout)", metadata: ["as": "\(context.principal?.name ?? "-")"])
        return Redirect(location: "/login", headers: [.setCookie: auth.clearingCookie().description])
    }

    func startSession(secret: String, next: String?, context: ReviewContext) -> Response {
        if let wait = auth.limiter.blocked(context.address) {
            return AuthMiddleware.tooManyPage(wait)
        }
        guard let record = auth.token(secret: secret.trimmingCharacters(in: .whitespacesAndNewlines)) else {
            auth.limiter.fail(context.address)
            context.logger.warning("refused a login with an unknown or revoked token", metadata: ["address": "\(context.address)"])
            let page = Pages.loginNeeded(next: Self.localPath(next), problem: "that token is unknown or was revoked")
            return HTMLPage(html: page, status: .unauthorized).response
        }
        let session = auth.createSession(record)
        context.logger.info("browser session started", metadata: ["as": "\(record.name)", "token": "\(record.id ?? 0)"])
        return Redirect(location: Self.localPath(next), headers: [.setCookie: auth.cookie(session).description]).response
    }

    /// Only local paths: never an open redirect.
    static func localPath(_ next: String?) -> String {
        guard let next, next.hasPrefix("/"), !next.hasPrefix("//"), !next.contains("\\") else { return "/" }
        return next
    }
}
