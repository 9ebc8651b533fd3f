import AsyncHTTPClient
import Core
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import Server
import ServiceLifecycle
import Store
import TestSupport
import Testing

/// A quiet logger for daemons under test (warnings and errors still show).
func testLogger(_ label: String = "ratchet-test") -> Logger {
    var logger = Logger(label: label)
    logger.logLevel = .warning
    return logger
}

/// Waits until `condition` holds, polling every 50 ms, for at most `seconds`.
@discardableResult
func eventually(_ seconds: Double = 10, _ condition: () throws -> Bool) async rethrows -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if try condition() { return true }
        try? await Task.sleep(for: .milliseconds(50))
    }
    return try condition()
}

/// Runs a daemon over `configs` on a free 127.0.0.1 port for the duration of `body`, then
/// shuts it down gracefully and waits for it to finish.
func withDaemon<T: Sendable>(
    configs: [String], loops: String? = nil, pollInterval: TimeInterval = 1, tls: (certificate: String, key: String)? = nil,
    _ body: @Sendable (Daemon, Int) async throws -> T
) async throws -> T {
    let (daemon, problems) = try Daemon.make(
        Daemon.Options(
            sources: LoopSources(configPaths: configs, loopsDirectory: loops), port: 0, pollInterval: pollInterval, tlsCertificate: tls?.certificate,
            tlsKey: tls?.key), logger: testLogger(),
        signals: false)
    #expect(problems.isEmpty, "\(problems)")
    return try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask { try await daemon.run() }
        let port = await eventually(30) { daemon.boundPort.port != nil } ? daemon.boundPort.port ?? 0 : 0
        do {
            #expect(port > 0, "the server did not start")
            let result = try await body(daemon, port)
            await daemon.group.triggerGracefulShutdown()
            try await group.waitForAll()
            return result
        } catch {
            await daemon.group.triggerGracefulShutdown()
            try? await group.waitForAll()
            throw error
        }
    }
}

/// A plain HTTP exchange against 127.0.0.1 that does not follow redirects.
struct HTTPReply: Sendable {
    var status: Int
    var headers: [(String, String)]
    var body: String

    func header(_ name: String) -> String? { headers.first { $0.0.lowercased() == name.lowercased() }?.1 }

    var json: Any? { try? JSONSerialization.jsonObject(with: Data(body.utf8)) }
}

let httpClient = HTTPClient(eventLoopGroupProvider: .singleton, configuration: HTTPClient.Configuration(redirectConfiguration: .disallow))

/// A personal token for `name` in the daemon's token store (as `ratchet token add` makes it).
func personalToken(_ daemon: Daemon, _ name: String, role: Role = .reviewer) throws -> String {
    try daemon.access.add(name: name, role: role, by: Actor.typed("test")).secret
}

/// A browser session of `token`: the cookie (`name=value`) and the CSRF token of `page`.
func browserSession(_ port: Int, token: String, page: String = "/") async throws -> (cookie: String, csrf: String) {
    let login = try await http("GET", port, "/login?token=\(token)")
    let cookie = String(try #require(login.header("Set-Cookie")).split(separator: ";")[0])
    let body = try await http("GET", port, page, cookie: cookie).body
    let csrf = String(try #require(body.firstMatch(of: /name="csrf" value="([0-9a-f]+)"/)?.1))
    return (cookie, csrf)
}

func http(
    _ method: String, _ port: Int, _ path: String, token: String? = nil, cookie: String? = nil, headers extra: [(String, String)] = [],
    json: [String: String]? = nil, form: String? = nil, body: String? = nil, scheme: String = "http", client: HTTPClient = httpClient
) async throws -> HTTPReply {
    var request = HTTPClientRequest(url: "\(scheme)://127.0.0.1:\(port)\(path)")
    request.method = HTTPMethod(rawValue: method)
    if let token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
    if let cookie { request.headers.add(name: "Cookie", value: cookie) }
    for (name, value) in extra { request.headers.add(name: name, value: value) }
    if let json {
        request.headers.add(name: "Content-Type", value: "application/json")
        request.body = .bytes(ByteBuffer(bytes: try JSONSerialization.data(withJSONObject: json)))
    } else if let form {
        request.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
        request.body = .bytes(ByteBuffer(string: form))
    } else if let body {
        request.headers.add(name: "Content-Type", value: "application/json")
        request.body = .bytes(ByteBuffer(string: body))
    }
    let response = try await client.execute(request, timeout: .seconds(30))
    let body = try await response.body.collect(upTo: 16 << 20)
    return HTTPReply(status: Int(response.status.code), headers: response.headers.map { ($0.name, $0.value) }, body: String(buffer: body))
}

/// `application/x-www-form-urlencoded` of `fields`.
func formEncode(_ fields: [(String, String)]) -> String {
    var allowed = CharacterSet.alphanumerics
    allowed.insert(charactersIn: "-._~")
    return fields.map { "\($0.0)=\($0.1.addingPercentEncoding(withAllowedCharacters: allowed) ?? "")" }.joined(separator: "&")
}

/// The `ratchet` binary built beside this test bundle (any scratch path).
func builtRatchet() throws -> String {
    let bundle = URL(fileURLWithPath: CommandLine.arguments.first ?? "").deletingLastPathComponent()
    for candidate in [bundle.appendingPathComponent("ratchet").path] + ((try? ratchetBinary()).map { [$0] } ?? []) {
        if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
    }
    throw MissingBinary()
}

struct MissingBinary: Error, CustomStringConvertible {
    var description: String { "the ratchet binary is not next to the test bundle; build it first: swift build --build-tests" }
}

/// A schedule window `[now + from, now + to]` in local time, as `HH:MM:SS-HH:MM:SS`.
func windowFromNow(_ from: Double, _ to: Double) -> String {
    timedWindow(from, to).text
}

/// A window `[now + from, now + to]` (whole seconds) as text, and when it opens and closes.
func timedWindow(_ from: Double, _ to: Double) -> (text: String, opens: Date, closes: Date) {
    let now = Date()
    let opens = Date(timeIntervalSince1970: (now.timeIntervalSince1970 + from).rounded(.up))
    let closes = Date(timeIntervalSince1970: (now.timeIntervalSince1970 + to).rounded(.up))
    let formatter = DateFormatter()
    formatter.locale = Locale(identifier: "en_US_POSIX")
    formatter.dateFormat = "HH:mm:ss"
    return ("\(formatter.string(from: opens))-\(formatter.string(from: closes))", opens, closes)
}
