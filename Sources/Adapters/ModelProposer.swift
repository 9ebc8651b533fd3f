import AsyncHTTPClient
import Core
import Foundation
import Git
import NIOCore
import NIOHTTP1

/// Asks a chat model for a change: an OpenAI-compatible Chat Completions endpoint
/// (`POST {base_url}/chat/completions`) or the Anthropic Messages API
/// (`POST {base_url}/v1/messages`).
///
/// Each proposal sends one prompt (`PromptBuilder`) and reads the diff from the reply
/// (`ReplyParser`). Answers 429 and 5xx, and connections that fail, are retried with
/// exponential backoff (honouring `Retry-After` in seconds) up to `max_retries` times; other
/// 4xx answers are not retried. Failures are `ProposerError`s naming the endpoint; those the
/// loop cannot get past by trying again (no API key, a 4xx, an endpoint that cannot be
/// reached) have no `source`, so the runner moves on to its next proposer, and the rest
/// carry a fresh source so the candidate is rejected and the loop goes on.
///
/// Requests go through one `HTTPClient`: by default `ModelProposer.sharedClient`, made once per
/// process and kept for its life (like `HTTPClient.shared`), or one the caller owns and shuts down.
public struct ModelProposer: Proposer {
    /// Lanes ask a model at once; it is told what is in flight.
    public var proposesConcurrently: Bool { true }

    /// Which wire protocol the endpoint speaks.
    public enum API: String, Sendable {
        case openAI = "openai"
        case anthropic
    }

    public let api: API
    public let spec: ModelSpec
    /// The first retry's delay in seconds when the server sends no `Retry-After`; it doubles
    /// with each retry.
    public var retryBaseDelay: Double
    /// No single wait between retries is longer than this, whatever `Retry-After` says.
    public var maxRetryDelay: Double
    let client: HTTPClient
    let environment: [String: String]

    public var kind: String { api.rawValue }

    /// A reply larger than this is refused.
    static let maxResponseBytes = 16 << 20
    static let anthropicVersion = "2023-06-01"

    /// How the model client is set up: no idle-read limit (a model may think for minutes before
    /// its first byte; `timeout` bounds each request instead), a 10 s connect limit, and no
    /// silent reconnect loop inside the client, so a refused connection fails at once and is
    /// retried by the proposer's own policy (`max_retries`).
    public static var clientConfiguration: HTTPClient.Configuration {
        var configuration = HTTPClient.Configuration(timeout: .init(connect: .seconds(10), read: nil))
        configuration.connectionPool.retryConnectionEstablishment = false
        return configuration
    }

    /// The client model proposers use unless given another: one per process, on the shared
    /// event loop group, never shut down (it lives as long as the process, as `HTTPClient.shared` does).
    public static let sharedClient = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: clientConfiguration)

    /// - Parameters:
    ///   - client: the HTTP client to send through: `sharedClient` unless the caller owns one
    ///     (made with `clientConfiguration`, and shut down by the caller after the loop).
    ///   - environment: where `api_key_env` is looked up (the process environment by default).
    public init(
        api: API, spec: ModelSpec, client: HTTPClient = ModelProposer.sharedClient,
        environment: [String: String] = ProcessInfo.processInfo.environment,
        retryBaseDelay: Double = 1, maxRetryDelay: Double = 60
    ) {
        self.api = api
        self.spec = spec
        self.client = client
        self.environment = environment
        self.retryBaseDelay = retryBaseDelay
        self.maxRetryDelay = maxRetryDelay
    }

    /// The URL requests are sent to.
    public var endpoint: String {
        var base = spec.baseURL
        while base.hasSuffix("/") { base.removeLast() }
        return api == .openAI ? base + "/chat/completions" : base + "/v1/messages"
    }

    /// How errors name the endpoint: `openai endpoint https://…/chat/completions`.
    var place: String { "\(kind) endpoint \(endpoint)" }

    public func propose(_ context: ProposalContext, repository: Repository, scratch: Slot?) async throws(ProposerError) -> Proposal? {
        let key = try apiKey()
        let redactor = Redactor(secrets: key.map { [$0] } ?? [])
        let prompt = try PromptBuilder(spec.prompt).build(context, repository: repository)
        let promptText = redactor.redact(prompt.text)
        // A failure after a request was sent is a rejected candidate under a fresh name.
        let failure = "\(kind):failed:\(UUID().uuidString.prefix(8).lowercased())"

        let response = try await send(requestBody(prompt), key: key, redactor: redactor, promptText: promptText, failureSource: failure)
        let reply: ModelReply
        do {
            reply = try decode(response)
        } catch {
            throw ProposerError(
                source: failure, "\(place): \(error.message)",
                transcript: Transcript(prompt: promptText, response: redactor.redact(String(decoding: response.prefix(64 << 10), as: UTF8.self))))
        }
        let usage = Usage(
            inputTokens: reply.inputTokens, outputTokens: reply.outputTokens,
            cost: (Double(reply.inputTokens) * spec.priceInputPerMTok + Double(reply.outputTokens) * spec.priceOutputPerMTok) / 1e6
        )
        let transcript = Transcript(prompt: promptText, response: redactor.redact(reply.text))
        guard !reply.text.allSatisfy(\.isWhitespace) else {
            throw ProposerError(source: failure, "\(place): the model returned an empty reply", usage: usage, transcript: transcript)
        }
        let diff: String
        do {
            diff = try ReplyParser.validatedDiff(from: reply.text, repository: repository)
        } catch {
            var message = "\(place) (\(spec.model)): \(error.message)"
            if reply.truncated {
                message += "; the reply was cut off at max_output_tokens = \(spec.maxOutputTokens): raise it in [proposer.\(kind)]"
            }
            throw ProposerError(source: failure, message, usage: usage, transcript: transcript)
        }
        let source = "\(kind):\(stableHash(diff))"
        if context.tried.contains(source) {
            throw ProposerError(
                source: source, "\(spec.model) proposed a change that was already tried (\(source))", usage: usage, transcript: transcript)
        }
        let title = ReplyParser.title(from: reply.text) ?? "\(spec.model): \(Self.touchedFiles(diff))"
        return Proposal(source: source, title: title, diff: diff, usage: usage, transcript: transcript)
    }

    /// The key from `api_key_env`, or `nil` when the config says to send none.
    /// - Throws: `ProposerError` naming the variable when it is unset or empty.
    func apiKey() throws(ProposerError) -> String? {
        guard let name = spec.apiKeyEnv else { return nil }
        guard let value = environment[name]?.trimmedWhitespace, !value.isEmpty else {
            throw ProposerError(
                "\(kind) proposer: the environment variable \(name) (api_key_env in [proposer.\(kind)]) is not set; "
                    + "export it with the API key, or set api_key_env = \"\" for an endpoint that needs none")
        }
        return value
    }

    static func touchedFiles(_ diff: String) -> String {
        let paths = diff.split(separator: "\n").filter { $0.hasPrefix("+++ b/") }.map { String($0.dropFirst(6)) }
        return paths.isEmpty ? "change" : "edit " + paths.prefix(3).joined(separator: ", ") + (paths.count > 3 ? ", …" : "")
    }

    // MARK: Sending

    /// The outcome of one HTTP attempt.
    enum Attempt: Sendable {
        case response(status: Int, headers: HTTPHeaders, body: [UInt8])
        case timedOut
        /// No response arrived: the connection could not be made or broke before the head.
        case connectionFailed(String)
        /// The head arrived but the body broke off.
        case bodyFailed(String)
        case cancelled
    }

    func makeRequest(_ body: [UInt8], key: String?) -> HTTPClientRequest {
        var request = HTTPClientRequest(url: endpoint)
        request.method = .POST
        request.headers.add(name: "content-type", value: "application/json")
        request.headers.add(name: "accept", value: "application/json")
        request.headers.add(name: "user-agent", value: "ratchet")
        switch api {
        case .openAI:
            if let key { request.headers.add(name: "authorization", value: "Bearer \(key)") }
        case .anthropic:
            if let key { request.headers.add(name: "x-api-key", value: key) }
            request.headers.add(name: "anthropic-version", value: Self.anthropicVersion)
        }
        request.body = .bytes(body)
        return request
    }

    /// One request, bounded by `spec.timeout` from the first byte sent to the last received.
    func attempt(_ request: HTTPClientRequest) async -> Attempt {
        let client = self.client
        let timeout = spec.timeout
        let limit = Self.maxResponseBytes
        do {
            return try await withThrowingTaskGroup(of: Attempt.self) { group in
                group.addTask {
                    let response: HTTPClientResponse
                    do {
                        // The client's own deadline is a backstop; the sleeping task below decides.
                        response = try await client.execute(request, timeout: .milliseconds(Int64((timeout + 5) * 1000)))
                    } catch {
                        if Task.isCancelled { return .cancelled }
                        if let error = error as? HTTPClientError, error == .deadlineExceeded { return .timedOut }
                        return .connectionFailed(String(describing: error))
                    }
                    do {
                        let buffer = try await response.body.collect(upTo: limit)
                        return .response(status: Int(response.status.code), headers: response.headers, body: Array(buffer.readableBytesView))
                    } catch {
                        if Task.isCancelled { return .cancelled }
                        if error is NIOTooManyBytesError { return .bodyFailed("the response is larger than \(limit) bytes") }
                        return .bodyFailed(String(describing: error))
                    }
                }
                group.addTask {
                    try await Task.sleep(for: .milliseconds(Int64(timeout * 1000)))
                    return .timedOut
                }
                let first = try await group.next() ?? .timedOut
                group.cancelAll()
                return first
            }
        } catch {
            // Only the sleep throws, and only when this task is cancelled.
            return .cancelled
        }
    }

    /// The seconds a `Retry-After` header asks for, when it is a number.
    static func retryAfter(_ headers: HTTPHeaders) -> Double? {
        guard let value = headers.first(name: "retry-after"), let seconds = Double(value.trimmed(of: " ")), seconds >= 0 else { return nil }
        return seconds
    }

    /// Sends `body`, retrying 429, 5xx and failed connections, and returns a 2xx body.
    /// - Throws: `ProposerError` naming the endpoint and what happened.
    func send(_ body: [UInt8], key: String?, redactor: Redactor, promptText: String, failureSource: String) async throws(ProposerError) -> [UInt8] {
        let request = makeRequest(body, key: key)
        var attempts = 0
        while true {
            attempts += 1
            let result = await attempt(request)
            let retriesLeft = attempts <= spec.maxRetries
            var wait = retryBaseDelay * pow(2, Double(attempts - 1))
            let failure: ProposerError
            switch result {
            case .response(let status, _, let bytes) where (200..<300).contains(status):
                return bytes
            case .response(let status, let headers, let bytes):
                let excerpt = redactor.redact(Self.errorExcerpt(bytes))
                let transcript = Transcript(prompt: promptText, response: redactor.redact(String(decoding: bytes.prefix(64 << 10), as: UTF8.self)))
                let tries = attempts > 1 ? " after \(attempts) attempts" : ""
                if status == 429 || (500..<600).contains(status) {
                    failure = ProposerError(source: failureSource, "\(place): HTTP \(status)\(tries): \(excerpt)", transcript: transcript)
                    if let asked = Self.retryAfter(headers) { wait = asked }
                } else {
                    // Another 4xx: the request itself is wrong (key, model name, size); trying again will not help.
                    throw ProposerError("\(place): HTTP \(status): \(excerpt)", transcript: transcript)
                }
            case .timedOut:
                throw ProposerError(
                    source: failureSource,
                    "\(place): no complete reply within the timeout of \(Self.seconds(spec.timeout)) (raise timeout in [proposer.\(kind)])",
                    transcript: Transcript(prompt: promptText, response: ""))
            case .connectionFailed(let reason):
                let tries = attempts > 1 ? " (\(attempts) attempts)" : ""
                // An endpoint that cannot be reached stops this proposer rather than burning candidates.
                failure = ProposerError("\(place): cannot connect\(tries): \(redactor.redact(reason))")
            case .bodyFailed(let reason):
                throw ProposerError(
                    source: failureSource, "\(place): the response was cut off: \(redactor.redact(reason))",
                    transcript: Transcript(prompt: promptText, response: ""))
            case .cancelled:
                throw ProposerError("\(place): cancelled")
            }
            guard retriesLeft else { throw failure }
            do {
                try await Task.sleep(for: .milliseconds(Int64(min(wait, maxRetryDelay) * 1000)))
            } catch {
                throw ProposerError("\(place): cancelled while waiting to retry (\(failure.message))")
            }
        }
    }

    static func seconds(_ value: Double) -> String {
        value == value.rounded() ? "\(Int(value)) s" : String(format: "%.1f s", value)
    }
}
