import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// A request that cannot be done, as an HTTP status and a message for the user. The API
/// answers it as `{"error": message, "code": code}`; `ErrorPages` renders it for pages.
struct RequestFailure: HTTPResponseError, Sendable {
    var status: HTTPResponse.Status
    var message: String
    /// A machine-readable reason where a client can do something about it (`burst`).
    var code: String?
    var headers: HTTPFields = [:]

    init(_ status: HTTPResponse.Status, _ message: String, code: String? = nil, headers: HTTPFields = [:]) {
        self.status = status
        self.message = message
        self.code = code
        self.headers = headers
    }

    struct Body: Encodable {
        var error: String
        var code: String?
    }

    func response(from request: Request, context: some RequestContext) throws -> Response {
        var response = try JSONResponseEncoder().encode(Body(error: message, code: code), from: request, context: context)
        response.status = status
        response.headers.append(contentsOf: headers)
        return response
    }
}

/// JSON answers: sorted keys, ISO 8601 dates, never cached.
struct JSONResponseEncoder: ResponseEncoder {
    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return encoder
    }()

    func encode(_ value: some Encodable, from request: Request, context: some RequestContext) throws -> Response {
        let data = try Self.encoder.encode(value)
        return Response(
            status: .ok, headers: [.contentType: "application/json; charset=utf-8", .cacheControl: "no-store"],
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: data)))
    }
}

/// JSON request bodies: an empty body is an empty object, so a body whose fields are all
/// optional may be left out.
struct JSONBodyDecoder: RequestDecoder {
    func decode<T: Decodable>(_ type: T.Type, from request: Request, context: some RequestContext) async throws -> T {
        let buffer: ByteBuffer
        do {
            buffer = try await request.body.collect(upTo: context.maxUploadSize)
        } catch is NIOTooManyBytesError {
            throw RequestFailure(.contentTooLarge, "the body is larger than \(context.maxUploadSize) bytes")
        }
        do {
            return try JSONDecoder().decode(T.self, from: buffer.readableBytes == 0 ? Data("{}".utf8) : Data(buffer.readableBytesView))
        } catch DecodingError.dataCorrupted {
            throw Self.notAnObject
        } catch DecodingError.typeMismatch(_, let context) where context.codingPath.isEmpty {
            throw Self.notAnObject
        }
    }

    static let notAnObject = RequestFailure(.badRequest, "the body must be a JSON object, e.g. {\"reviewed\": true, \"note\": \"looks right\"}")
}

/// An HTML page of the review UI, with the headers every page carries.
struct HTMLPage: ResponseGenerator {
    var html: String
    var status: HTTPResponse.Status = .ok

    static let headers: HTTPFields = [
        .contentType: "text/html; charset=utf-8", .cacheControl: "no-store",
        .contentSecurityPolicy:
            "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        .xContentTypeOptions: "nosniff", .referrerPolicy: "same-origin",
    ]

    var response: Response { Response(status: status, headers: Self.headers, body: ResponseBody(byteBuffer: ByteBuffer(string: html))) }

    func response(from request: Request, context: some RequestContext) -> Response { response }
}

/// 303 See Other to `location` (a path on this site), with extra headers.
struct Redirect: ResponseGenerator {
    var location: String
    var headers: HTTPFields = [:]

    var response: Response {
        var headers: HTTPFields = [.location: location, .cacheControl: "no-store"]
        headers.append(contentsOf: self.headers)
        return Response(status: .seeOther, headers: headers)
    }

    func response(from request: Request, context: some RequestContext) -> Response { response }
}

/// A plain-text answer (`/metrics`).
struct PlainText: ResponseGenerator {
    var text: String
    var contentType = "text/plain; charset=utf-8"

    func response(from request: Request, context: some RequestContext) -> Response {
        Response(
            status: .ok, headers: [.contentType: contentType, .cacheControl: "no-store"], body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
    }
}

extension HTTPField.Name {
    static let referrerPolicy = HTTPField.Name("Referrer-Policy") ?? .cacheControl
    static let xContentTypeOptions = HTTPField.Name("X-Content-Type-Options") ?? .cacheControl
    static let secFetchSite = HTTPField.Name("Sec-Fetch-Site")
}
