import Core
import HTTPTypes
import Hummingbird
import NIOCore
import Store

/// The request context of the review server: the caller's address (for rate limiting) and,
/// once `AuthMiddleware` has run, who the caller is. Bodies are JSON (an empty body is an
/// empty object) up to 1 MiB; answers are JSON that is never cached.
struct ReviewContext: RequestContext, RemoteAddressRequestContext {
    var coreContext: CoreRequestContextStorage
    let remoteAddress: SocketAddress?
    var principal: Principal?
    var session: Session?

    init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        remoteAddress = source.channel.remoteAddress
    }

    var maxUploadSize: Int { 1 << 20 }
    var requestDecoder: JSONBodyDecoder { JSONBodyDecoder() }
    var responseEncoder: JSONResponseEncoder { JSONResponseEncoder() }

    /// The address failed attempts are counted against.
    var address: String { remoteAddress?.ipAddress ?? "unknown" }

    /// Who looks at a page, for its header and forms.
    var viewer: Pages.Viewer? {
        principal.map { Pages.Viewer(name: $0.name, role: $0.role, csrf: session?.csrf) }
    }

    /// The principal, allowed `permission`.
    /// - Throws: `RequestFailure` 401 without one, 403 when the role does not allow it.
    func require(_ permission: Permission) throws(RequestFailure) -> Principal {
        guard let principal else { throw RequestFailure(.unauthorized, "log in with a personal token (`ratchet token add NAME`)") }
        guard principal.role.allows(permission) else {
            throw RequestFailure(
                .forbidden,
                "\(principal.name) is a \(principal.role.rawValue); to \(permission.rawValue) takes the \(permission.leastRole.rawValue) role "
                    + "(`ratchet token add NAME --role \(permission.leastRole.rawValue)`)")
        }
        return principal
    }

    /// The session a form was posted from. A form POST must come from a session, carry that
    /// session's CSRF token, and come from this site.
    /// - Throws: `RequestFailure` 403 when any of these is missing.
    func formSession(_ request: Request, csrf: String?) throws(RequestFailure) -> Session {
        guard let session else {
            throw RequestFailure(.forbidden, "no session: log in at /login with your personal token, then try again")
        }
        guard Authenticator.sameOrigin(request) else {
            throw RequestFailure(.forbidden, "cross-site form refused: the request's Origin is not this server")
        }
        guard let csrf, SharedTokenFile.constantTimeEqual(csrf, session.csrf) else {
            throw RequestFailure(.forbidden, "the form's CSRF token is missing or stale: reload the page and try again")
        }
        return session
    }

    /// The candidate id of the route (`:id`).
    /// - Throws: `RequestFailure` 400 when it is not a positive number.
    func candidateID() throws(RequestFailure) -> Int64 {
        guard let id = try? parameters.require("id", as: Int64.self), id > 0 else {
            throw RequestFailure(.badRequest, "a candidate id is a positive number")
        }
        return id
    }
}

/// Forms of the review UI: `application/x-www-form-urlencoded`, decoded with Hummingbird's
/// `URLEncodedFormDecoder`.
extension Request {
    func decodeForm<Form: Decodable>(as type: Form.Type, context: ReviewContext) async throws -> Form {
        do {
            return try await URLEncodedFormDecoder().decode(Form.self, from: self, context: context)
        } catch is NIOTooManyBytesError {
            throw RequestFailure(.contentTooLarge, "the form is larger than \(context.maxUploadSize) bytes")
        }
    }

    /// The query string decoded as `Query`.
    func query<Query: Decodable>(as type: Query.Type, context: ReviewContext) throws -> Query {
        try uri.decodeQuery(as: Query.self, context: context)
    }
}

/// An optional flag of a request body: JSON `true`/`false`, or the texts `true`, `1`, `yes`
/// (forms, and clients that send every value as a string).
struct Flag: Decodable, Sendable, Equatable {
    var isSet: Bool

    init(from decoder: any Decoder) throws {
        let value = try decoder.singleValueContainer()
        if let flag = try? value.decode(Bool.self) {
            isSet = flag
        } else if let number = try? value.decode(Int.self) {
            isSet = number != 0
        } else {
            isSet = ["true", "1", "yes", "on"].contains(try value.decode(String.self).lowercased())
        }
    }
}

extension Optional<Flag> {
    /// Whether the flag was sent and set.
    var isSet: Bool { self?.isSet ?? false }
}
