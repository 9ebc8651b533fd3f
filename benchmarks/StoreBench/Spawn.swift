import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A step of the benchmark that could not run.
struct BenchError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

func progress(_ text: String) {
    FileHandle.standardError.write(Data((text + "\n").utf8))
}

func monotonic() -> Double {
    var time = timespec()
    clock_gettime(CLOCK_MONOTONIC, &time)
    return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
}

/// One finished process: its exit status, wall time and peak resident memory as `wait4`
/// reports it (which includes this process's own peak: see `gnuTime`).
struct Finished {
    var status: Int32
    var milliseconds: Double
    var maxRSSMegabytes: Double
}

/// A child started with `posix_spawn`, its standard output and error going to files.
struct Child {
    let pid: pid_t
    let started: Double

    /// Starts `arguments[0]` (a path).
    static func spawn(_ arguments: [String], stdout: String, stderr: String) throws -> Child {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, stdout, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_addopen(&actions, 2, stderr, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        let argv = arguments.map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        let environment = ProcessInfo.processInfo.environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { environment.forEach { free($0) } }
        var pid: pid_t = 0
        let started = monotonic()
        let result = posix_spawn(&pid, arguments[0], &actions, nil, argv, environment)
        guard result == 0 else { throw BenchError("cannot start \(arguments[0]): \(String(cString: strerror(result)))") }
        return Child(pid: pid, started: started)
    }

    /// Waits for the child; wall time from spawn to exit.
    func wait() -> Finished {
        var status: Int32 = 0
        var usage = rusage()
        while wait4(pid, &status, 0, &usage) < 0 && errno == EINTR {}
        let elapsed = (monotonic() - started) * 1000
        let exit = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        return Finished(status: exit, milliseconds: elapsed, maxRSSMegabytes: Double(usage.ru_maxrss) / 1024)
    }
}

/// Runs a command to its end.
func runCommand(_ arguments: [String], stdout: String = "/dev/null", stderr: String) throws -> Finished {
    try Child.spawn(arguments, stdout: stdout, stderr: stderr).wait()
}

/// A plain HTTP/1.1 GET on 127.0.0.1 with `Connection: close`, read to the end (at most
/// 512 MB, 120 s); returns the status code, the body's size and the time taken.
func httpGet(port: Int, path: String, bearer: String) throws -> (status: Int, bytes: Int, milliseconds: Double) {
    let started = monotonic()
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw BenchError("socket: \(String(cString: strerror(errno)))") }
    defer { close(fd) }
    var timeout = timeval(tv_sec: 120, tv_usec: 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = in_port_t(UInt16(port).bigEndian)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    let connected = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard connected == 0 else { throw BenchError("connect to port \(port): \(String(cString: strerror(errno)))") }
    let request = "GET \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nAuthorization: Bearer \(bearer)\r\nConnection: close\r\n\r\n"
    _ = request.withCString { send(fd, $0, strlen($0), 0) }
    var received: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 1 << 16)
    while received.count < 512 << 20 {
        let n = recv(fd, &buffer, buffer.count, 0)
        if n < 0 && errno == EINTR { continue }
        guard n > 0 else {
            if n < 0 { throw BenchError("GET \(path): \(String(cString: strerror(errno)))") }
            break
        }
        received += buffer[0..<n]
    }
    let elapsed = (monotonic() - started) * 1000
    let head = String(decoding: received.prefix(64), as: UTF8.self)
    let code = head.split(separator: " ").dropFirst().first.flatMap { Int($0) } ?? 0
    var bodyStart = 0
    for index in 0..<max(0, received.count - 3)
    where received[index] == 13 && received[index + 1] == 10 && received[index + 2] == 13 && received[index + 3] == 10 {
        bodyStart = index + 4
        break
    }
    return (code, received.count - bodyStart, elapsed)
}
