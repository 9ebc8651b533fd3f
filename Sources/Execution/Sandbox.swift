import Foundation

/// How a command is contained, beyond its own process group and time limit.
public struct Sandbox: Sendable, Equatable {
    /// Path of `bwrap` when commands run in bubblewrap: no network, the slot the only
    /// writable place, a private /tmp (also HOME), their own PID namespace.
    public var bubblewrap: String?
    /// Resource limits applied with `prlimit` in every mode.
    public var cpuSeconds: Int?
    public var memoryBytes: Int?
    public var processes: Int?
    public var fileBytes: Int?
    /// Folders made visible read-only inside the sandbox even when they lie under its private
    /// /tmp (the state folder, so a validate command can read the best code's slot).
    public var readOnly: [String] = []

    public init(bubblewrap: String? = nil, cpuSeconds: Int? = nil, memoryBytes: Int? = nil, processes: Int? = nil, fileBytes: Int? = nil) {
        self.bubblewrap = bubblewrap
        self.cpuSeconds = cpuSeconds
        self.memoryBytes = memoryBytes
        self.processes = processes
        self.fileBytes = fileBytes
    }

    /// No containment beyond the process group.
    public static let none = Sandbox()

    /// The `bwrap` on PATH (or in /usr/bin), if installed and able to create namespaces here.
    public static func findBubblewrap() -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        let candidates = path.split(separator: ":").map { "\($0)/bwrap" } + ["/usr/bin/bwrap"]
        guard let found = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else { return nil }
        // Namespaces can be disabled (containers, sysctls): try one.
        let probe = CommandRunner(sandbox: .none)
        let result = try? probe.runBlocking(
            "'\(found)' --die-with-parent --unshare-net --unshare-pid --ro-bind / / --dev /dev --proc /proc true", in: "/", timeout: 10)
        return result?.succeeded == true ? found : nil
    }

    /// The argument vector that runs `command` in `directory` under this sandbox.
    func argv(command: String, directory: String) -> [String] {
        var argv: [String] = []
        var limits: [String] = []
        if let cpuSeconds { limits.append("--cpu=\(cpuSeconds)") }
        if let memoryBytes { limits.append("--as=\(memoryBytes)") }
        if let processes { limits.append("--nproc=\(processes)") }
        if let fileBytes { limits.append("--fsize=\(fileBytes)") }
        if !limits.isEmpty, let prlimit = ["/usr/bin/prlimit", "/bin/prlimit"].first(where: { FileManager.default.isExecutableFile(atPath: $0) }) {
            argv += [prlimit] + limits + ["--"]
        }
        if let bubblewrap {
            argv += [
                bubblewrap, "--die-with-parent", "--unshare-net", "--unshare-pid", "--unshare-ipc", "--unshare-uts",
                "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp",
            ]
            for path in readOnly where path.hasPrefix("/tmp/") || path == "/tmp" {
                argv += ["--ro-bind-try", path, path]
            }
            argv += [
                "--bind", directory, directory, "--chdir", directory, "--setenv", "HOME", "/tmp", "--setenv", "TMPDIR", "/tmp",
            ]
        }
        return argv + ["/bin/sh", "-c", command]
    }
}

/// What a running command should be doing, polled about every 20 ms while it runs.
public enum CommandControl: Sendable {
    case run
    /// Stop the process group (SIGSTOP) until the control says `run` again; the time limit
    /// does not count while paused.
    case pause
    /// Kill the process group now.
    case stop
}
