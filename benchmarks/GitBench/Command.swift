import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A benchmark step that could not run; printed on stderr before the benchmark exits non-zero.
struct BenchError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// Runs external commands with `posix_spawnp`, capturing their combined output in a file so
/// a long output can never block the child, and timing each with `ContinuousClock`.
final class CommandRunner {
    private let logPath: String
    /// `KEY=value` strings for every child: the parent's environment with git isolated from
    /// the user's global and system configuration.
    private let environment: [String]

    init(logPath: String) {
        self.logPath = logPath
        var values = ProcessInfo.processInfo.environment
        // A caller running inside a git hook or another repository must not redirect git.
        for key in [
            "GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_OBJECT_DIRECTORY", "GIT_ALTERNATE_OBJECT_DIRECTORIES", "GIT_CEILING_DIRECTORIES",
        ] {
            values[key] = nil
        }
        values["GIT_CONFIG_NOSYSTEM"] = "1"
        values["GIT_CONFIG_GLOBAL"] = "/dev/null"
        values["GIT_TERMINAL_PROMPT"] = "0"
        values["GIT_AUTHOR_NAME"] = "Bench"
        values["GIT_AUTHOR_EMAIL"] = "bench@example.com"
        values["GIT_COMMITTER_NAME"] = "Bench"
        values["GIT_COMMITTER_EMAIL"] = "bench@example.com"
        values["LC_ALL"] = "C"
        environment = values.map { "\($0.key)=\($0.value)" }.sorted()
    }

    /// Runs `git -C <directory> <arguments>` and returns how long the process took.
    @discardableResult
    func git(_ arguments: [String], in directory: String, stdinPath: String = "/dev/null") throws -> Duration {
        try run(["git", "-C", directory] + arguments, stdinPath: stdinPath)
    }

    /// Runs `arguments` (the first is looked up on `PATH`) and returns how long the process
    /// took from spawn to exit.
    /// - Parameter stdinPath: a file fed to the child's standard input (`/dev/null` otherwise).
    /// - Throws: `BenchError` naming the command and quoting its output when it fails.
    @discardableResult
    func run(_ arguments: [String], stdinPath: String = "/dev/null") throws -> Duration {
        guard let program = arguments.first else { throw BenchError("empty command") }
        #if canImport(Darwin)
            var actions: posix_spawn_file_actions_t? = nil
        #else
            var actions = posix_spawn_file_actions_t()
        #endif
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, stdinPath, O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, logPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        let argv = arguments.map { strdup($0) } + [nil]
        let envp = environment.map { strdup($0) } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        var pid = pid_t()
        let clock = ContinuousClock()
        let start = clock.now
        let spawnResult = posix_spawnp(&pid, program, &actions, nil, argv, envp)
        guard spawnResult == 0 else {
            throw BenchError("cannot start `\(Self.display(arguments))`: \(String(cString: strerror(spawnResult)))")
        }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 {
            guard errno == EINTR else { throw BenchError("waitpid for `\(Self.display(arguments))` failed: \(String(cString: strerror(errno)))") }
        }
        let elapsed = clock.now - start
        // WIFEXITED / WEXITSTATUS are macros; decode the status word by hand.
        let exited = (status & 0x7f) == 0
        let code = (status >> 8) & 0xff
        guard exited && code == 0 else {
            let how = exited ? "exited with status \(code)" : "was killed by signal \(status & 0x7f)"
            throw BenchError(
                "command failed: `\(Self.display(arguments))` \(how)\n\(lastOutput())")
        }
        return elapsed
    }

    /// The output of the last command (truncated), for error reports.
    private func lastOutput() -> String {
        guard let data = FileManager.default.contents(atPath: logPath) else { return "(no output captured)" }
        let text = String(decoding: data, as: UTF8.self)
        return text.count > 4000 ? String(text.prefix(4000)) + "\n…(truncated)" : text
    }

    static func display(_ arguments: [String]) -> String {
        arguments.map { $0.contains(" ") ? "'\($0)'" : $0 }.joined(separator: " ")
    }
}

/// Progress and diagnostics go to stderr so stdout stays the report.
func progress(_ text: String) {
    FileHandle.standardError.write(Data((text + "\n").utf8))
}
