import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix

/// One scripted answer of the test model server.
struct ScriptedReply: Sendable {
    var status: Int = 200
    var headers: [String: String] = [:]
    var body: String
    /// Seconds before the answer is written.
    var delay: Double = 0
    /// Announce more bytes than are sent, then close the connection: a body cut off.
    var truncate = false
    /// Held until the server has received this many requests (for at most 20 s).
    var untilRequests: Int?

    /// A Chat Completions answer whose message is `content`.
    static func openAI(_ content: String, promptTokens: Int = 1200, completionTokens: Int = 300, finish: String = "stop") -> ScriptedReply {
        ScriptedReply(
            body: json([
                "id": "chatcmpl-test", "object": "chat.completion",
                "choices": [["index": 0, "message": ["role": "assistant", "content": content], "finish_reason": finish]],
                "usage": ["prompt_tokens": promptTokens, "completion_tokens": completionTokens],
            ]))
    }

    /// A Messages answer whose text is `content`.
    static func anthropic(_ content: String, inputTokens: Int = 900, outputTokens: Int = 250, stop: String = "end_turn") -> ScriptedReply {
        ScriptedReply(
            body: json([
                "id": "msg_test", "type": "message", "role": "assistant",
                "content": [["type": "text", "text": content]],
                "stop_reason": stop,
                "usage": ["input_tokens": inputTokens, "output_tokens": outputTokens],
            ]))
    }

    static func json(_ object: [String: Any]) -> String {
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data()
        return String(decoding: data, as: UTF8.self)
    }
}

/// A request the server received.
struct RecordedRequest: Sendable {
    var method: String
    var uri: String
    /// Header names lowercased.
    var headers: [String: String]
    var body: String
    /// When the request had arrived whole.
    var received = Date()

    var json: [String: Any]? {
        (try? JSONSerialization.jsonObject(with: Data(body.utf8))) as? [String: Any]
    }

    /// The text of every message (and the system prompt), joined.
    var promptText: String {
        guard let json else { return "" }
        var parts: [String] = []
        if let system = json["system"] as? String { parts.append(system) }
        for message in json["messages"] as? [[String: Any]] ?? [] {
            if let content = message["content"] as? String { parts.append(content) }
        }
        return parts.joined(separator: "\n")
    }
}

/// A small HTTP server on 127.0.0.1 (ephemeral port) that answers each request with the next
/// scripted reply, whatever the path, and records what it was sent. It speaks enough of both
/// the OpenAI and the Anthropic protocols for the adapters: the script decides the bodies.
final class ModelServer: @unchecked Sendable {
    private let lock = NSLock()
    private var script: [ScriptedReply]
    private var recorded: [RecordedRequest] = []
    private var sent: [Date] = []
    private let group: MultiThreadedEventLoopGroup
    private var channel: (any Channel)?
    private(set) var port = 0

    private init(script: [ScriptedReply]) {
        self.script = script
        group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    }

    var baseURL: String { "http://127.0.0.1:\(port)" }

    var requests: [RecordedRequest] { lock.withLock { recorded } }

    /// When each reply was written, in order.
    var replies: [Date] { lock.withLock { sent } }

    func replied() { lock.withLock { sent.append(Date()) } }

    /// Records `request` and returns the next reply (a 500 once the script is used up).
    func next(_ request: RecordedRequest) -> ScriptedReply {
        lock.withLock {
            recorded.append(request)
            return script.isEmpty ? ScriptedReply(status: 500, body: #"{"error":{"message":"script exhausted"}}"#) : script.removeFirst()
        }
    }

    /// Runs `body` with a started server, and stops the server afterwards whatever happens.
    static func with<R>(_ script: [ScriptedReply], _ body: (ModelServer) async throws -> R) async throws -> R {
        let server = ModelServer(script: script)
        do {
            try await server.start()
            let result = try await body(server)
            await server.stop()
            return result
        } catch {
            await server.stop()
            throw error
        }
    }

    private func start() async throws {
        let server = self
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(ModelServerHandler(server: server))
                }
            }
        let channel = try await bootstrap.bind(host: "127.0.0.1", port: 0).get()
        self.channel = channel
        port = channel.localAddress?.port ?? 0
    }

    private func stop() async {
        try? await channel?.close()
        // Closes the connections still open (a reply still being delayed) too.
        try? await group.shutdownGracefully()
    }
}

final class ModelServerHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    let server: ModelServer
    var head: HTTPRequestHead?
    var body: [UInt8] = []

    init(server: ModelServer) { self.server = server }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            self.head = head
            body = []
        case .body(var buffer):
            body += buffer.readBytes(length: buffer.readableBytes) ?? []
        case .end:
            guard let head else { return }
            var headers: [String: String] = [:]
            for (name, value) in head.headers { headers[name.lowercased()] = value }
            let request = RecordedRequest(method: head.method.rawValue, uri: head.uri, headers: headers, body: String(decoding: body, as: UTF8.self))
            let reply = server.next(request)
            if let count = reply.untilRequests {
                let deadline = NIODeadline.now() + .seconds(20)
                let loop = context.eventLoop.assumeIsolated()
                func poll() {
                    if server.requests.count >= count || NIODeadline.now() >= deadline {
                        respond(context, reply)
                    } else {
                        loop.scheduleTask(in: .milliseconds(10)) { poll() }
                    }
                }
                poll()
            } else if reply.delay > 0 {
                context.eventLoop.assumeIsolated().scheduleTask(in: .milliseconds(Int64(reply.delay * 1000))) {
                    self.respond(context, reply)
                }
            } else {
                respond(context, reply)
            }
        }
    }

    func respond(_ context: ChannelHandlerContext, _ reply: ScriptedReply) {
        guard context.channel.isActive else { return }
        server.replied()
        let bytes = Array(reply.body.utf8)
        var headers = HTTPHeaders()
        headers.add(name: "content-type", value: "application/json")
        headers.add(name: "content-length", value: String(reply.truncate ? bytes.count + 500 : bytes.count))
        for (name, value) in reply.headers { headers.add(name: name, value: value) }
        let head = HTTPResponseHead(version: .http1_1, status: HTTPResponseStatus(statusCode: reply.status), headers: headers)
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(bytes: bytes)))), promise: nil)
        if reply.truncate {
            context.flush()
            context.close(promise: nil)
        } else {
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        }
    }
}
