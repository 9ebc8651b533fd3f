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
///
/// The routes are collections (`APIRoutes`, `PageRoutes`, `SessionRoutes`, `MetricsRoutes`)
/// behind `AuthMiddleware`; handlers throw `RequestFailure` (or Hummingbird's `HTTPError`),
/// which `ErrorPages` answers as JSON for the API and as an HTML page for the UI.
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

    /// The routes: authentication first, then error rendering, then the route collections.
    func router() -> Router<ReviewContext> {
        let router = Router(context: ReviewContext.self)
        router.add(middleware: AuthMiddleware(auth: auth))
        router.add(middleware: ErrorPages())
        router.addRoutes(APIRoutes(lookups: actions.lookups, actions: actions).collection, atPath: "/api")
        router.addRoutes(PageRoutes(lookups: actions.lookups, actions: actions).collection)
        router.addRoutes(SessionRoutes(auth: auth).collection)
        router.addRoutes(MetricsRoutes(state: state).collection)
        return router
    }
}
