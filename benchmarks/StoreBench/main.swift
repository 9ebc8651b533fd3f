import Foundation
import Store

#if canImport(Glibc)
    import Glibc
#endif

// ratchet-bench-store: the read-only verbs, the review UI's queue page and /api/loops against
// a store of a long-lived loop (100 000 candidates of a model-driven loop) and a small one
// (1 000), timed as a user runs them: the release `ratchet` binary, one process per command
// (wall time and peak RSS from wait4), and a real daemon on 127.0.0.1. See benchmarks/README.md.
// Usage: ratchet-bench-store [--sizes 1000,100000] [--runs 5] [--ratchet PATH] [--dir DIR] [--in-process-only]

struct Options {
    var sizes = [1000, 100_000]
    var runs = 5
    var ratchet: String?
    /// Keep the stores here and reuse the ones already made.
    var directory: String?
    /// Only the in-process store reads (no `ratchet` process, no daemon).
    var inProcessOnly = false

    init(_ arguments: [String]) throws {
        var index = 1
        func value() throws -> String {
            index += 1
            guard index < arguments.count else { throw BenchError("\(arguments[index - 1]) needs a value") }
            return arguments[index]
        }
        while index < arguments.count {
            switch arguments[index] {
            case "--sizes": sizes = try value().split(separator: ",").compactMap { Int($0) }.filter { $0 > 0 }
            case "--runs": runs = max(1, Int(try value()) ?? 5)
            case "--ratchet": ratchet = try value()
            case "--dir": directory = try value()
            case "--in-process-only": inProcessOnly = true
            case "--help", "-h":
                print("usage: ratchet-bench-store [--sizes 1000,100000] [--runs 5] [--ratchet PATH] [--dir DIR] [--in-process-only]")
                exit(0)
            default: throw BenchError("unknown argument \(arguments[index])")
            }
            index += 1
        }
        if sizes.isEmpty { throw BenchError("--sizes needs at least one size") }
    }
}

/// One command's figures: median wall time and the largest peak RSS over the timed runs.
struct Figure {
    var milliseconds: Double?
    var megabytes: Double?
    var note: String?
}

struct SizeResult {
    var size: Int
    var storeMegabytes = 0.0
    var generateSeconds = 0.0
    var figures: [String: Figure] = [:]
}

/// The commands timed, in table order: key, label, arguments after `ratchet`.
let commands: [(key: String, label: String, arguments: [String])] = [
    ("status", "ratchet status", ["status"]),
    ("status_json", "ratchet status --json", ["status", "--json"]),
    ("log", "ratchet log", ["log"]),
    ("log_limit_50", "ratchet log --limit 50", ["log", "--limit", "50"]),
    ("log_since_24h", "ratchet log --since 24h", ["log", "--since", "24h"]),
    ("log_json", "ratchet log --json (all)", ["log", "--json"]),
    ("review", "ratchet review", ["review"]),
    ("report", "ratchet report (24h, md)", ["report"]),
]
let pages: [(key: String, label: String, path: String)] = [("queue_page", "GET / (queue page)", "/"), ("api_loops", "GET /api/loops", "/api/loops")]

func ratchetBinary(_ options: Options) throws -> String {
    if let path = options.ratchet { return path }
    let beside = (CommandLine.arguments[0] as NSString).deletingLastPathComponent + "/ratchet"
    guard FileManager.default.isExecutableFile(atPath: beside) else {
        throw BenchError("no ratchet binary beside this benchmark (\(beside)); build it (swift build -c release --product ratchet) or pass --ratchet")
    }
    return beside
}

/// A git repository with one commit, and a loop config whose schedule window is closed now
/// (so the daemon only serves, it does not run the loop).
func makeWorkspace(_ folder: String) throws -> String {
    try FileManager.default.createDirectory(atPath: folder + "/src", withIntermediateDirectories: true)
    try "int main(void) { return 0; }\n".write(toFile: folder + "/src/f0.c", atomically: true, encoding: .utf8)
    let opening = Calendar.current.date(byAdding: .hour, value: 12, to: Date()) ?? Date()
    let parts = Calendar.current.dateComponents([.hour, .minute], from: opening)
    let (hour, minute) = (parts.hour ?? 0, parts.minute ?? 0)
    let window = String(format: "%02d:%02d-%02d:%02d", hour, minute, minute == 59 ? (hour + 1) % 24 : hour, (minute + 1) % 60)
    try """
    [loop]
    name = "bench"
    base = "main"
    scope = ["src/**"]
    state_dir = "state"

    [commands.bench]
    run = "true"

    [metric]
    source = "wall_time"
    direction = "lower"
    min_effect = 0.03

    [proposer]
    kind = ["patches"]

    [proposer.patches]
    dir = "patches"

    [budget]
    iterations = 1000000
    plateau = 100000
    accepts_since_review = 50

    [schedule]
    windows = ["\(window)"]
    """.write(toFile: folder + "/ratchet.toml", atomically: true, encoding: .utf8)
    try FileManager.default.createDirectory(atPath: folder + "/patches", withIntermediateDirectories: true)
    let git = ["/usr/bin/env", "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1", "git", "-C", folder]
    let identity = ["-c", "user.name=Bench", "-c", "user.email=bench@example.com"]
    for arguments in [["init", "-q", "-b", "main"], ["add", "-A"], identity + ["commit", "-q", "-m", "bench"]] {
        let done = try runCommand(git + arguments, stderr: folder + "/git.err")
        guard done.status == 0 else { throw BenchError("git \(arguments.joined(separator: " ")) failed in \(folder)") }
    }
    guard try runCommand(git + ["rev-parse", "HEAD"], stdout: folder + "/head", stderr: folder + "/git.err").status == 0 else {
        throw BenchError("git rev-parse HEAD failed in \(folder)")
    }
    return (try String(contentsOfFile: folder + "/head", encoding: .utf8)).trimmingCharacters(in: .whitespacesAndNewlines)
}

func fileSize(_ path: String) -> Double {
    ((try? FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)?.doubleValue) ?? 0
}

/// Peak RSS is read by `/usr/bin/time` (GNU time), which runs the command as its own child:
/// a child spawned from this process (`posix_spawn` shares its memory until `exec`) would
/// report this process's peak as its own in `wait4`.
let gnuTime = "/usr/bin/time"

/// Times `ratchet <arguments>` in `folder`: one untimed run through `/usr/bin/time` (output
/// kept, must succeed; its peak RSS), `runs` timed runs with the output thrown away, and one
/// more run for the peak RSS.
func timeCommand(_ ratchet: String, _ arguments: [String], in folder: String, runs: Int, label: String) throws -> Figure {
    let arguments = arguments + ["--config", folder + "/ratchet.toml"]
    let measured = [gnuTime, "-f", "%M", "-o", folder + "/rss.txt", ratchet] + arguments
    func rss() -> Double {
        (Double((try? String(contentsOfFile: folder + "/rss.txt", encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? "") ?? .nan)
            / 1024
    }
    let warm = try runCommand(measured, stdout: folder + "/out.txt", stderr: folder + "/err.txt")
    guard warm.status == 0 else {
        let error = (try? String(contentsOfFile: folder + "/err.txt", encoding: .utf8)) ?? ""
        progress("  \(label): exit \(warm.status): \(error.prefix(200).trimmingCharacters(in: .whitespacesAndNewlines))")
        return Figure(note: "exit \(warm.status)")
    }
    var peak = rss()
    var times: [Double] = []
    for _ in 0..<runs {
        times.append(try runCommand([ratchet] + arguments, stderr: "/dev/null").milliseconds)
    }
    _ = try runCommand(measured, stderr: "/dev/null")
    peak = max(peak, rss())
    let median = times.sorted()[times.count / 2]
    progress(String(format: "  %@: %.1f ms, %.1f MB (output %.0f KB)", label, median, peak, fileSize(folder + "/out.txt") / 1024))
    return Figure(milliseconds: median, megabytes: peak)
}

/// Starts the daemon on a free port, fetches each page once untimed and `runs` times timed,
/// and stops it; the peak RSS is the daemon's over its whole life.
func timePages(_ ratchet: String, in folder: String, runs: Int) throws -> [String: Figure] {
    let config = folder + "/ratchet.toml"
    let token = try runCommand(
        [ratchet, "token", "add", "bench", "--role", "viewer", "--config", config], stdout: folder + "/token", stderr: folder + "/token.err")
    guard token.status == 0 else {
        throw BenchError("ratchet token add failed: \((try? String(contentsOfFile: folder + "/token.err", encoding: .utf8)) ?? "")")
    }
    let secret = try String(contentsOfFile: folder + "/token", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
    let daemon = try Child.spawn(
        [ratchet, "daemon", "--port", "0", "--config", config], stdout: folder + "/daemon.out", stderr: folder + "/daemon.err")
    var port: Int?
    let deadline = monotonic() + 120
    while port == nil && monotonic() < deadline {
        let log = (try? String(contentsOfFile: folder + "/daemon.err", encoding: .utf8)) ?? ""
        if let range = log.range(of: "http://127.0.0.1:") {
            port = Int(log[range.upperBound...].prefix { $0.isNumber })
        }
        if port == nil { usleep(20_000) }
    }
    guard let port else {
        kill(daemon.pid, SIGKILL)
        _ = daemon.wait()
        throw BenchError(
            "the daemon did not report its port within 120 s: \((try? String(contentsOfFile: folder + "/daemon.err", encoding: .utf8)) ?? "")")
    }
    var figures: [String: Figure] = [:]
    var times: [String: [Double]] = [:]
    var failures: [String: String] = [:]
    for page in pages {
        let first = try httpGet(port: port, path: page.path, bearer: secret)
        if first.status != 200 { failures[page.key] = "HTTP \(first.status)" }
    }
    // The pages take turns, so both see the same daemon.
    for _ in 0..<runs {
        for page in pages where failures[page.key] == nil {
            times[page.key, default: []].append(try httpGet(port: port, path: page.path, bearer: secret).milliseconds)
        }
    }
    // The daemon's own peak (VmHWM of its memory since exec; see `gnuTime` on wait4).
    let status = (try? String(contentsOfFile: "/proc/\(daemon.pid)/status", encoding: .utf8)) ?? ""
    let peak = status.split(separator: "\n").first { $0.hasPrefix("VmHWM:") }.flatMap { Double($0.split(separator: " ").dropFirst().first ?? "") }
    kill(daemon.pid, SIGTERM)
    var stopped = daemon.wait()
    stopped.maxRSSMegabytes = (peak ?? .nan) / 1024
    for page in pages {
        if let failure = failures[page.key] {
            figures[page.key] = Figure(megabytes: stopped.maxRSSMegabytes, note: failure)
        } else {
            let sorted = (times[page.key] ?? [.nan]).sorted()
            figures[page.key] = Figure(milliseconds: sorted[sorted.count / 2], megabytes: stopped.maxRSSMegabytes)
        }
        progress(String(format: "  %@: %.1f ms (daemon peak %.1f MB)", page.label, figures[page.key]?.milliseconds ?? .nan, stopped.maxRSSMegabytes))
    }
    return figures
}

func measure(size: Int, root: String, ratchet: String, options: Options) throws -> SizeResult {
    let folder = root + "/\(size)"
    let storePath = folder + "/state/ratchet.sqlite"
    var result = SizeResult(size: size)
    if !FileManager.default.fileExists(atPath: storePath) {
        try? FileManager.default.removeItem(atPath: folder)
        let head = try makeWorkspace(folder)
        try FileManager.default.createDirectory(atPath: folder + "/state", withIntermediateDirectories: true)
        progress("[\(size)] generating the store through the Store API")
        let started = monotonic()
        do {
            let store = try Store(path: storePath)
            try Generator(store: store, loop: "bench", count: size, parentCommit: head).run { n in
                progress(String(format: "[\(size)]   %d candidates (%.0f s)", n, monotonic() - started))
            }
        }
        result.generateSeconds = monotonic() - started
    } else {
        progress("[\(size)] reusing \(storePath)")
    }
    // Every process that opened the store is gone: fold the WAL in before measuring the size.
    do {
        let store = try Store(path: storePath)
        _ = try store.loops()
    }
    result.storeMegabytes = (fileSize(storePath) + fileSize(storePath + "-wal")) / 1_048_576
    progress(
        String(format: "[\(size)] store %.1f MB (%.0f bytes per candidate)", result.storeMegabytes, result.storeMegabytes * 1_048_576 / Double(size)))
    if !options.inProcessOnly {
        for command in commands {
            result.figures[command.key] = try timeCommand(ratchet, command.arguments, in: folder, runs: options.runs, label: command.label)
        }
        for (key, figure) in try timePages(ratchet, in: folder, runs: options.runs) { result.figures[key] = figure }
    }
    let store = try Store(path: storePath)
    for (key, time) in try LoopWork.all(store: store, loop: "bench", reps: options.runs) {
        result.figures[key] = Figure(milliseconds: time)
        progress(String(format: "  %@: %.2f ms", key, time))
    }
    return result
}

func report(_ results: [SizeResult]) {
    func cell(_ figure: Figure?, _ keyPath: KeyPath<Figure, Double?>, _ format: String) -> String {
        guard let figure else { return "–" }
        if let value = figure[keyPath: keyPath] { return String(format: format, value) }
        return figure.note ?? "–"
    }
    func pad(_ text: String, _ width: Int) -> String { text.count >= width ? text + " " : text + String(repeating: " ", count: width - text.count) }
    print("")
    print("Store reads at scale: the release `ratchet` binary per command (median of the timed runs; peak RSS over them), the daemon's pages")
    print("")
    var header = pad("", 34)
    for result in results { header += pad("\(result.size): ms", 14) + pad("MB", 9) }
    if results.count > 1 { header += "ms ratio" }
    print(header)
    let rows = commands.map { ($0.key, $0.label) } + pages.map { ($0.key, $0.label) } + LoopWork.keys.map { ($0, "in-process: " + $0) }
    for (key, label) in rows {
        var line = pad(label, 34)
        for result in results {
            line += pad(cell(result.figures[key], \.milliseconds, "%.1f"), 14) + pad(cell(result.figures[key], \.megabytes, "%.1f"), 9)
        }
        if results.count > 1, let first = results.first?.figures[key]?.milliseconds, let last = results.last?.figures[key]?.milliseconds, first > 0 {
            line += String(format: "%.2fx", last / first)
        }
        print(line)
    }
    print("")
    for result in results {
        print(
            String(
                format: "%d candidates: store %.1f MB, %.0f bytes per candidate%@", result.size, result.storeMegabytes,
                result.storeMegabytes * 1_048_576 / Double(result.size),
                result.generateSeconds > 0 ? String(format: ", generated in %.0f s", result.generateSeconds) : ""))
    }
    if let large = results.last {
        print("")
        print("targets at \(large.size) candidates: ≤ 50 ms and ≤ 60 MB for status, review, the queue page and /api/loops; ≤ 50 ms for log pages")
        let checks: [(String, Bool)] = [
            ("status", true), ("review", true), ("queue_page", true), ("api_loops", true), ("log", false), ("log_limit_50", false),
            ("log_since_24h", false),
        ]
        for (key, memory) in checks {
            let figure = large.figures[key]
            let ok = (figure?.milliseconds ?? .infinity) <= 50 && (!memory || (figure?.megabytes ?? .infinity) <= 60)
            print("  \(ok ? "PASS" : "FAIL") \(key)")
        }
    }
    var json: [String] = []
    for result in results {
        var fields: [String] = [
            String(format: "\"store_mb\": %.2f", result.storeMegabytes),
            String(format: "\"bytes_per_candidate\": %.0f", result.storeMegabytes * 1_048_576 / Double(result.size)),
        ]
        for key in result.figures.keys.sorted() {
            let figure = result.figures[key]
            fields.append("\"\(key)_ms\": " + (figure?.milliseconds.map { String(format: "%.2f", $0) } ?? "null"))
            if figure?.megabytes != nil || figure?.note != nil {
                fields.append("\"\(key)_mb\": " + (figure?.megabytes.map { String(format: "%.1f", $0) } ?? "null"))
            }
        }
        json.append("\"\(result.size)\": {" + fields.joined(separator: ", ") + "}")
    }
    if results.count > 1, let first = results.first, let last = results.last {
        for key in first.figures.keys.sorted() {
            guard let a = first.figures[key]?.milliseconds, let b = last.figures[key]?.milliseconds, a > 0 else { continue }
            json.append(String(format: "\"ratio_%@_ms_%d_over_%d\": %.2f", key, last.size, first.size, b / a))
        }
    }
    print("{" + json.joined(separator: ", ") + "}")
}

do {
    let options = try Options(CommandLine.arguments)
    let ratchet = options.inProcessOnly ? "" : try ratchetBinary(options)
    let root: String
    if let directory = options.directory {
        root = directory
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
    } else {
        let base = ProcessInfo.processInfo.environment["TMPDIR"].flatMap { $0.isEmpty ? nil : $0 } ?? "/tmp"
        var template = Array((base + "/ratchet-bench-store-XXXXXX").utf8CString)
        guard let made = mkdtemp(&template) else { throw BenchError("cannot create a folder under \(base)") }
        root = String(cString: made)
    }
    defer { if options.directory == nil { try? FileManager.default.removeItem(atPath: root) } }
    progress(
        "ratchet-bench-store: \(ratchet), sizes \(options.sizes.map(String.init).joined(separator: ", ")), \(options.runs) timed runs each, in \(root)"
    )
    var results: [SizeResult] = []
    for size in options.sizes.sorted() {
        results.append(try measure(size: size, root: root, ratchet: ratchet, options: options))
    }
    report(results)
} catch {
    progress("ratchet-bench-store: \(error)")
    exit(1)
}
