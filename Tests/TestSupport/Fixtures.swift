import Foundation

/// A fresh temporary folder, removed when `remove()` is called.
public struct TemporaryFolder: Sendable {
    public let path: String

    public init(_ label: String = "ratchet") throws {
        let base = FileManager.default.temporaryDirectory.path
        let path = "\(base)/\(label)-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        self.path = path
    }

    public func remove() { try? FileManager.default.removeItem(atPath: path) }

    public func write(_ relative: String, _ text: String, executable: Bool = false) throws {
        let full = path + "/" + relative
        try FileManager.default.createDirectory(
            atPath: (full as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try text.write(toFile: full, atomically: false, encoding: .utf8)
        if executable { try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: full) }
    }

    public func read(_ relative: String) throws -> String {
        try String(contentsOfFile: path + "/" + relative, encoding: .utf8)
    }

    public func exists(_ relative: String) -> Bool {
        FileManager.default.fileExists(atPath: path + "/" + relative)
    }
}

public struct CommandFailure: Error, CustomStringConvertible {
    public let command: String
    public let status: Int32
    public let output: String
    public var description: String { "`\(command)` exited \(status): \(output)" }
}

/// Runs a program and returns its standard output; throws with the output on failure.
/// Tests use the real `git` CLI to build fixtures and as an independent oracle.
@discardableResult
public func runProgram(_ arguments: [String], in directory: String, environment: [String: String] = [:]) throws
    -> String
{
    let (status, output) = try runProgramStatus(arguments, in: directory, environment: environment)
    guard status == 0 else {
        throw CommandFailure(command: arguments.joined(separator: " "), status: status, output: output)
    }
    return output
}

/// Runs a program to its end (fixture git identity, no system git config); returns its exit
/// status and both streams together, whatever the status.
public func runProgramStatus(_ arguments: [String], in directory: String = "/", environment: [String: String] = [:]) throws
    -> (status: Int32, output: String)
{
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = arguments
    process.currentDirectoryURL = URL(fileURLWithPath: directory)
    var env = ProcessInfo.processInfo.environment
    env["GIT_AUTHOR_NAME"] = "Fixture"
    env["GIT_AUTHOR_EMAIL"] = "fixture@example.com"
    env["GIT_COMMITTER_NAME"] = "Fixture"
    env["GIT_COMMITTER_EMAIL"] = "fixture@example.com"
    env["GIT_CONFIG_NOSYSTEM"] = "1"
    for (key, value) in environment { env[key] = value }
    process.environment = env
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = pipe
    try process.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: data, as: UTF8.self))
}

/// A real git repository in a temporary folder, built with the git CLI.
public struct GitFixture: Sendable {
    public let folder: TemporaryFolder
    public var path: String { folder.path }

    /// Creates a repository on branch `main` with `files` committed.
    public init(files: [String: String], label: String = "repo") throws {
        folder = try TemporaryFolder(label)
        try git("init", "-q", "-b", "main")
        try git("config", "user.name", "Fixture")
        try git("config", "user.email", "fixture@example.com")
        try commit(files: files, message: "initial")
    }

    @discardableResult
    public func git(_ arguments: String...) throws -> String {
        try runProgram(["git"] + arguments, in: path)
    }

    /// Writes `files`, removes `deleting`, commits everything, and returns the new commit id.
    @discardableResult
    public func commit(files: [String: String], deleting: [String] = [], message: String) throws -> String {
        for (name, text) in files { try folder.write(name, text) }
        for name in deleting { try FileManager.default.removeItem(atPath: path + "/" + name) }
        try git("add", "-A")
        try git("commit", "-q", "--allow-empty", "-m", message)
        return try git("rev-parse", "HEAD").trimmingCharacters(in: .whitespacesAndNewlines)
    }

    public func remove() { folder.remove() }
}

/// The result of running a program to completion.
public struct ProgramResult: Sendable {
    public var status: Int32
    public var output: String
    public var errorOutput: String
}

/// The `ratchet` binary built next to the tests (`swift build --build-tests` builds it).
public func ratchetBinary(file: String = #filePath) throws -> String {
    var root = URL(fileURLWithPath: file)
    while root.path != "/" && !FileManager.default.fileExists(atPath: root.appendingPathComponent("Package.swift").path) {
        root.deleteLastPathComponent()
    }
    let candidates = [".build/debug/ratchet", ".build/x86_64-unknown-linux-gnu/debug/ratchet"].map { root.appendingPathComponent($0).path }
    guard let found = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
        throw CommandFailure(command: "locate ratchet", status: -1, output: "build it first: swift build (looked in \(candidates))")
    }
    return found
}

/// Runs blocking work (waiting for a child process) on a thread of its own. Blocking inside
/// a test would hold one of the few threads of Swift's cooperative pool (2 on a 2-core
/// machine) and stall every timer of the tests running beside it; the daemon's schedule
/// test missed a whole 3-second window that way.
public func offPool<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread { continuation.resume(with: Result { try body() }) }.start()
    }
}

/// Blocks until `ratchet status` in `directory` shows the loop running (at most 60 s): a
/// signal sent earlier would reach a process that has not installed its handlers yet.
public func waitUntilLoopRuns(in directory: String) {
    let deadline = Date().addingTimeInterval(60)
    while Date() < deadline {
        if let status = try? runRatchetBlocking(["status"], in: directory, interruptAfter: nil), status.output.contains(": RUNNING") { return }
        Thread.sleep(forTimeInterval: 0.05)
    }
}

/// `waitUntilLoopRuns` without blocking a cooperative thread.
public func loopRuns(in directory: String) async {
    _ = try? await offPool { waitUntilLoopRuns(in: directory) }
}

/// Waits for `process` to exit without blocking a cooperative thread.
public func waitForExit(_ process: Process) async {
    _ = try? await offPool { process.waitUntilExit() }
}

/// Runs the `ratchet` binary as a user would, capturing both streams separately.
public func runRatchet(_ arguments: [String], in directory: String, interruptAfter: Double? = nil) async throws -> ProgramResult {
    try await offPool { try runRatchetBlocking(arguments, in: directory, interruptAfter: interruptAfter) }
}

func runRatchetBlocking(_ arguments: [String], in directory: String, interruptAfter: Double?) throws -> ProgramResult {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: try ratchetBinary())
    process.arguments = arguments
    process.currentDirectoryURL = URL(fileURLWithPath: directory)
    let out = Pipe()
    let err = Pipe()
    process.standardOutput = out
    process.standardError = err
    try process.run()
    if let interruptAfter {
        // Signals sent before the loop runs would hit a process without its handlers yet.
        waitUntilLoopRuns(in: directory)
        Thread.sleep(forTimeInterval: interruptAfter)
        process.interrupt()
    }
    let outData = out.fileHandleForReading.readDataToEndOfFile()
    let errData = err.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return ProgramResult(
        status: process.terminationStatus, output: String(decoding: outData, as: UTF8.self),
        errorOutput: String(decoding: errData, as: UTF8.self))
}

/// Starts the `ratchet` binary in the background with its output discarded (for signal and
/// crash tests that stop it themselves).
public func launchRatchet(_ arguments: [String], in directory: String) throws -> Process {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: try ratchetBinary())
    process.arguments = arguments
    process.currentDirectoryURL = URL(fileURLWithPath: directory)
    process.standardOutput = FileHandle.nullDevice
    process.standardError = FileHandle.nullDevice
    try process.run()
    return process
}
