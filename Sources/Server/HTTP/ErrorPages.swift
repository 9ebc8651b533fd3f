import Git
import HTTPTypes
import Hummingbird
import Logging
import Runner
import Store

/// Renders what a handler throws: `/api/*` and `/metrics` answer JSON
/// (`{"error": …, "code": …}`), pages an HTML page in the site's frame with the status.
/// Sits inside `AuthMiddleware`, so an error page still says who is signed in.
struct ErrorPages: RouterMiddleware {
    typealias Context = ReviewContext

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch {
            let failure = RequestFailure(error, path: request.uri.path)
            if failure.status.kind == .serverError {
                context.logger.error("\(request.method) \(request.uri.path): \(failure.message)")
            }
            guard !AuthMiddleware.isAPI(request.uri.path) else { return try failure.response(from: request, context: context) }
            var page = HTMLPage(html: Pages.message(failure.title, failure.message, back: "/", viewer: context.viewer), status: failure.status)
                .response
            page.headers.append(contentsOf: failure.headers)
            return page
        }
    }
}

extension RequestFailure {
    /// `error` as a status and a message: a store, repository or unexpected failure is a 500;
    /// a runner's refusal (already reviewed, locked, not approved) a 409; a request
    /// Hummingbird could not decode or route keeps its status.
    init(_ error: any Error, path: String = "") {
        switch error {
        case let error as RequestFailure: self = error
        case let error as RunnerError: self = Self.runner(error)
        case let error as HTTPError:
            self.init(error.status, error.body ?? Self.describe(error.status, path: path), headers: error.headers)
        case let error as any HTTPResponseError: self.init(error.status, Self.describe(error.status, path: path))
        case let error as DecodingError: self.init(.badRequest, "the request does not have the fields asked for: \(Self.describe(error))")
        case let error as URLEncodedFormError: self.init(.badRequest, "the form cannot be read: \(error)")
        case let error as StoreError: self.init(.internalServerError, error.description)
        case let error as GitError: self.init(.internalServerError, error.description)
        default: self.init(.internalServerError, "\(error)")
        }
    }

    static func runner(_ error: RunnerError) -> RequestFailure {
        switch error.kind {
        case .config, .invalidRequest: RequestFailure(.conflict, error.message)
        case .locked: RequestFailure(.conflict, error.message + " (a running loop holds its lock; pause or wait for it to stop)")
        default: RequestFailure(.internalServerError, error.message)
        }
    }

    static func describe(_ status: HTTPResponse.Status, path: String) -> String {
        switch status {
        case .notFound: "nothing at \(path); the queue is at /, the API under /api"
        case .methodNotAllowed: "\(path) does not take that method"
        case .contentTooLarge: "the body is too large"
        default: status.reasonPhrase
        }
    }

    static func describe(_ error: DecodingError) -> String {
        switch error {
        case .keyNotFound(let key, _): "'\(key.stringValue)' is missing"
        case .typeMismatch(let type, let context), .valueNotFound(let type, let context):
            "'\(context.codingPath.map(\.stringValue).joined(separator: "."))' is not a \(type)"
        case .dataCorrupted(let context): context.debugDescription
        @unknown default: "\(error)"
        }
    }

    /// The title of the error page.
    var title: String {
        switch status {
        case .forbidden: "Refused"
        case .notFound: "Not found"
        case .tooManyRequests: "Too many attempts"
        default: "Could not do that"
        }
    }
}
