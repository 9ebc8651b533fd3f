import Foundation

/// How a command is contained, beyond its own process group and time limit.
public struct Sandbox: Sendable {
    /// Path of `bwrap` when commands run in bubblewrap: no network, the slot the only
    /// writable place, a private /tmp (also HOME), their own PID namespace.
    public var bubblewrap: String?
    /// Resource limits applied with `prlimit` in every mode.
    public var cpuSeconds: Int?
    public var memoryBytes: Int?
    public var processes: Int?
    public var fileBytes: Int?
    /// Folders made visible read-only inside the sandbox even when they lie under its private
    /// /tmp (the state folder, so a validate command can read the best code's slot) or inside
    /// a `hidden` folder.
    public var readOnly: [String] = []
    /// Files bound read-only over paths inside the command's folder (source, target): the
    /// evaluator's files, sealed from the best commit, so nothing the command runs can change
    /// them. Applied after the folder's own writable bind.
    public var sealed: [(source: String, target: String)] = []
    /// Folders hidden behind an empty, private tmpfs (a proposer must not reach the
    /// repository, the state folder or the user's home).
    public var hidden: [String] = []
    /// Keep the network (agent CLIs call their APIs); off by default.
    public var network = false
    /// Where the command's folder appears inside bubblewrap: every slot at the same path, so
    /// both arms of a pair run from one path and a bias cannot come from the path (its
    /// length moves the stack; a build can embed it). `nil`: the folder's own path.
    public var mountPoint: String?
    /// Cores the command is pinned to (`taskset`), or `nil` for any.
    public var cpus: [Int]?
    /// `ratchet-timer`, which times the command from inside the sandbox: the sandbox's
    /// start-up stays out of `wallSeconds`. `nil`: the command is timed from outside.
    public var timer: String?

    /// Where `ratchet-timer` is bound inside bubblewrap.
    static let timerInside = "/tmp/.ratchet-timer"

    /// The fixed path of every loop command's folder inside bubblewrap.
    public static let slotMountPoint = "/tmp/ratchet-slot"

    /// The path a command sees for `directory`.
    public func path(of directory: String) -> String {
        bubblewrap != nil ? (mountPoint ?? directory) : directory
    }

    /// `ratchet-timer` beside the running executable (`ratchet`, or the test bundle in the
    /// same build folder), or `$RATCHET_TIMER`.
    public static func findTimer() -> String? {
        let fm = FileManager.default
        if let named = ProcessInfo.processInfo.environment["RATCHET_TIMER"], !named.isEmpty {
            return fm.isExecutableFile(atPath: named) ? named : nil
        }
        guard let executable = try? fm.destinationOfSymbolicLink(atPath: "/proc/self/exe") else { return nil }
        let folder = (executable as NSString).deletingLastPathComponent
        for candidate in [folder + "/ratchet-timer", folder + "/../libexec/ratchet/ratchet-timer"] where fm.isExecutableFile(atPath: candidate) {
            return (candidate as NSString).standardizingPath
        }
        return nil
    }

    public init(bubblewrap: String? = nil, cpuSeconds: Int? = nil, memoryBytes: Int? = nil, processes: Int? = nil, fileBytes: Int? = nil) {
        self.bubblewrap = bubblewrap
        self.cpuSeconds = cpuSeconds
        self.memoryBytes = memoryBytes
        self.processes = processes
        self.fileBytes = fileBytes
    }

    /// The descriptor `ratchet-timer` writes its line to.
    static let timingDescriptor: Int32 = 3

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
        // Pinned to its cores (`[parallel] cpus_per_measurement`) before anything starts: the
        // sandbox, the timer and the command inherit the affinity.
        if let cpus, !cpus.isEmpty,
            let taskset = ["/usr/bin/taskset", "/bin/taskset"].first(where: { FileManager.default.isExecutableFile(atPath: $0) })
        {
            argv += [taskset, "--cpu-list", cpus.map(String.init).joined(separator: ",")]
        }
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
                bubblewrap, "--die-with-parent", "--unshare-pid", "--unshare-ipc", "--unshare-uts",
            ]
            if !network { argv.append("--unshare-net") }
            argv += ["--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp"]
            for path in readOnly where path.hasPrefix("/tmp/") || path == "/tmp" {
                argv += ["--ro-bind-try", path, path]
            }
            for path in hidden { argv += ["--tmpfs", path] }
            // Read-only folders inside a hidden one show through it.
            for path in readOnly where hidden.contains(where: { path == $0 || path.hasPrefix($0 + "/") }) {
                argv += ["--ro-bind-try", path, path]
            }
            let inside = mountPoint ?? directory
            argv += ["--bind", directory, inside]
            for file in sealed {
                let target = file.target.hasPrefix(directory + "/") ? inside + file.target.dropFirst(directory.count) : file.target
                argv += ["--ro-bind", file.source, target]
            }
            argv += ["--chdir", inside, "--setenv", "HOME", "/tmp", "--setenv", "TMPDIR", "/tmp"]
            if mountPoint != nil { argv += ["--setenv", "RATCHET_SLOT", inside] }
            // The timer's own folder may be hidden (a build under /tmp): bind it in by itself.
            if let timer { argv += ["--ro-bind", timer, Self.timerInside, Self.timerInside, String(Self.timingDescriptor)] }
        } else if let timer {
            argv += [timer, String(Self.timingDescriptor)]
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
