import CSpawn
import Core
import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Runs user commands: `/bin/sh -c` in a folder, in a new process group, with a time limit
/// that kills the whole group (children included), a controlled environment, and output
/// captured up to a cap.
public struct CommandRunner: Sendable {
    /// Bytes kept per stream; past this the middle is dropped.
    public var outputCap: Int
    /// The environment every command gets (plus per-call additions).
    public var environment: [String: String]
    public var sandbox: Sandbox

    public init(outputCap: Int = 256 * 1024, environment: [String: String]? = nil, sandbox: Sandbox = .none) {
        _ = Self.subreaper
        self.outputCap = outputCap
        self.environment = environment ?? Self.defaultEnvironment()
        self.sandbox = sandbox
    }

    /// Pids of the commands running in this process, so that orphans re-parented to us
    /// (daemons that left their process group) can be told apart and killed.
    private static let running = Mutex<Set<pid_t>>([])

    /// A marker every command's environment carries (and its descendants inherit), so that
    /// orphans re-parented to this process can be recognised as ours.
    static let marker = "RATCHET_COMMAND_OF=\(getpid())-\(UInt64.random(in: 0...UInt64.max))"

    /// Kills and reaps processes re-parented to this one that a command left behind after
    /// leaving its process group (a daemon that called `setsid`): children of ours, not a
    /// running command, whose environment carries this process's marker.
    static func sweepOrphans() {
        // Killing an orphan re-parents its own children to us: sweep until a pass finds none.
        for _ in 0..<50 {
            if sweepOnce() == 0 { return }
            usleep(2000)
        }
    }

    /// One pass of `sweepOrphans`; returns how many processes it killed.
    private static func sweepOnce() -> Int {
        let me = getpid()
        let needle = Array(marker.utf8)
        return running.withLock { active in
            var killed = 0
            guard let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return 0 }
            for name in entries {
                guard let pid = pid_t(name), pid != me, !active.contains(pid),
                    let stat = try? String(contentsOfFile: "/proc/\(name)/stat", encoding: .utf8),
                    let close = stat.lastIndex(of: ")")
                else { continue }
                // Fields after the command name: state, ppid, pgrp, …
                let fields = stat[stat.index(after: close)...].split(separator: " ")
                guard fields.count > 2, pid_t(fields[1]) == me, let group = pid_t(fields[2]), !active.contains(group),
                    let environ = FileManager.default.contents(atPath: "/proc/\(name)/environ"),
                    environ.split(separator: 0).contains(where: { Array($0) == needle })
                else { continue }
                kill(pid, SIGKILL)
                var status: Int32 = 0
                waitpid(pid, &status, 0)
                killed += 1
            }
            return killed
        }
    }

    /// Kills the process group of every command running in this process (for a forced exit).
    public static func killAllRunning() {
        for group in running.withLock({ Array($0) }) { kill(-group, SIGKILL) }
    }

    /// Orphans of killed commands come back to this process to be reaped (Linux).
    private static let subreaper: Bool = ratchet_become_subreaper() == 0

    /// Kills every process in `group` and reaps those that are this process's children,
    /// waiting briefly until none is left.
    public static func killGroup(_ group: Int32) {
        kill(-group, SIGKILL)
        var status: Int32 = 0
        for _ in 0..<250 {
            while waitpid(-group, &status, WNOHANG) > 0 {}
            if kill(-group, 0) != 0 { return }
            usleep(2000)
        }
    }

    /// A small, predictable environment: the caller's PATH, HOME, USER, TMPDIR and locale.
    public static func defaultEnvironment() -> [String: String] {
        let inherited = ProcessInfo.processInfo.environment
        var env: [String: String] = ["LC_ALL": "C.UTF-8", "LANG": "C.UTF-8"]
        for key in ["PATH", "HOME", "USER", "LOGNAME", "TMPDIR", "TZ", "TERM"] {
            if let value = inherited[key] { env[key] = value }
        }
        if env["PATH"] == nil { env["PATH"] = "/usr/local/bin:/usr/bin:/bin" }
        return env
    }

    /// Runs `command` and waits for it on a dedicated thread, so the cooperative pool stays free.
    /// `standardInput` is the path of a file the command reads as its standard input
    /// (`/dev/null` when `nil`).
    public func run(
        _ command: String,
        in directory: String,
        timeout: Double,
        environment extra: [String: String] = [:],
        standardInput: String? = nil,
        control: @escaping @Sendable () -> CommandControl = { .run },
        started: @escaping @Sendable (Int32) -> Void = { _ in }
    ) async throws(ExecutionError) -> CommandResult {
        let runner = self
        let result: Result<CommandResult, ExecutionError> = await withCheckedContinuation { continuation in
            let thread = Thread {
                do throws(ExecutionError) {
                    continuation.resume(
                        returning: .success(
                            try runner.runBlocking(
                                command, in: directory, timeout: timeout, environment: extra, standardInput: standardInput,
                                control: control, started: started)))
                } catch {
                    continuation.resume(returning: .failure(error))
                }
            }
            thread.start()
        }
        return try result.get()
    }

    /// Runs `command` on the calling thread.
    public func runBlocking(
        _ command: String,
        in directory: String,
        timeout: Double,
        environment extra: [String: String] = [:],
        standardInput: String? = nil,
        control: @Sendable () -> CommandControl = { .run },
        started: @Sendable (Int32) -> Void = { _ in }
    ) throws(ExecutionError) -> CommandResult {
        var info = stat()
        guard stat(directory, &info) == 0, (info.st_mode & S_IFMT) == S_IFDIR else {
            throw ExecutionError(command: command, message: "working folder '\(directory)' does not exist")
        }
        if let standardInput, access(standardInput, R_OK) != 0 {
            throw ExecutionError(command: command, message: "standard input file '\(standardInput)' is not readable")
        }
        var outPipe: [Int32] = [-1, -1]
        var errPipe: [Int32] = [-1, -1]
        guard ratchet_pipe_cloexec(&outPipe) == 0 else {
            throw ExecutionError(command: command, message: "pipe: \(String(cString: strerror(errno)))")
        }
        guard ratchet_pipe_cloexec(&errPipe) == 0 else {
            close(outPipe[0]); close(outPipe[1])
            throw ExecutionError(command: command, message: "pipe: \(String(cString: strerror(errno)))")
        }

        // `ratchet-timer` writes the command's own timing to descriptor 3.
        var timingPipe: [Int32] = [-1, -1]
        if sandbox.timer != nil, ratchet_pipe_cloexec(&timingPipe) != 0 {
            close(outPipe[0]); close(outPipe[1]); close(errPipe[0]); close(errPipe[1])
            throw ExecutionError(command: command, message: "pipe: \(String(cString: strerror(errno)))")
        }
        defer { if timingPipe[0] >= 0 { close(timingPipe[0]) } }

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, standardInput ?? "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, outPipe[1], 1)
        posix_spawn_file_actions_adddup2(&actions, errPipe[1], 2)
        if timingPipe[1] >= 0 { posix_spawn_file_actions_adddup2(&actions, timingPipe[1], Sandbox.timingDescriptor) }
        ratchet_spawn_addchdir(&actions, directory)

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        // A new process group (pgid = child's pid) so a timeout can kill every descendant;
        // default signal dispositions and an empty mask whatever Ratchet itself blocks.
        var defaults = sigset_t()
        sigfillset(&defaults)
        var empty = sigset_t()
        sigemptyset(&empty)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setsigmask(&attributes, &empty)
        posix_spawnattr_setpgroup(&attributes, 0)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))

        var env = environment
        for (key, value) in extra { env[key] = value }
        let argv = sandbox.argv(command: command, directory: directory)
        let envp = env.map { "\($0.key)=\($0.value)" } + [Self.marker]

        let start = ContinuousClock.now
        var pid: pid_t = 0
        let spawnResult = Self.running.withLock { active in
            let rc = withCStrings(argv) { cArgv in
                withCStrings(envp) { cEnv in
                    posix_spawn(&pid, argv[0], &actions, &attributes, cArgv, cEnv)
                }
            }
            if rc == 0 { active.insert(pid) }
            return rc
        }
        close(outPipe[1])
        close(errPipe[1])
        if timingPipe[1] >= 0 {
            close(timingPipe[1])
            timingPipe[1] = -1
        }
        guard spawnResult == 0 else {
            close(outPipe[0]); close(errPipe[0])
            throw ExecutionError(command: command, message: "spawn: \(String(cString: strerror(spawnResult)))")
        }
        let group = pid
        started(group)
        defer {
            Self.running.withLock { _ = $0.remove(pid) }
            Self.sweepOrphans()
        }

        var stdoutBuffer = CappedBuffer(cap: outputCap)
        var stderrBuffer = CappedBuffer(cap: outputCap)
        var open = [outPipe[0], errPipe[0]]
        var status: Int32 = 0
        var reaped = false
        var usage = rusage()
        var timedOut = false
        var stopped = false
        var wasPaused = false
        var pausedAt: ContinuousClock.Instant?
        var end = start
        var deadline = start + .milliseconds(Int64(timeout * 1000))
        var drainDeadline: ContinuousClock.Instant?
        var chunk = [UInt8](repeating: 0, count: 65536)
        // This loop turns every few tens of milliseconds; a much longer gap means Ratchet
        // itself was frozen (a Slurm job suspended with all its processes, a stopped
        // terminal job, a suspended machine): the command was too, and its time is spoiled.
        var lastTurn = ContinuousClock.now

        while true {
            if !reaped {
                let turn = ContinuousClock.now
                if turn - lastTurn > .milliseconds(400) { wasPaused = true }
                lastTurn = turn
            }
            if !reaped && !timedOut && !stopped {
                switch control() {
                case .stop:
                    stopped = true
                    if pausedAt != nil { kill(-group, SIGCONT) }
                    kill(-group, SIGKILL)
                case .pause:
                    if pausedAt == nil {
                        kill(-group, SIGSTOP)
                        pausedAt = ContinuousClock.now
                        wasPaused = true
                    }
                case .run:
                    if let since = pausedAt {
                        // The time spent stopped does not count against the limit.
                        deadline = deadline + (ContinuousClock.now - since)
                        pausedAt = nil
                        kill(-group, SIGCONT)
                    }
                }
            }
            let now = ContinuousClock.now
            if !reaped && !timedOut && !stopped && pausedAt == nil && now >= deadline {
                timedOut = true
                kill(-group, SIGKILL)
            }
            if !reaped {
                let waited = wait4(pid, &status, WNOHANG, &usage)
                if waited == pid {
                    reaped = true
                    end = ContinuousClock.now
                    // Whatever the command left running in its group goes too, and so does
                    // anything it detached from the group (it would hold the pipes open).
                    Self.killGroup(group)
                    Self.sweepOrphans()
                    drainDeadline = ContinuousClock.now + .seconds(1)
                }
            }
            if reaped && open.isEmpty { break }
            if let drainDeadline, ContinuousClock.now >= drainDeadline { break }
            if open.isEmpty {
                // Pipes closed but the child is still exiting: wait for it without spinning.
                if !timedOut && pausedAt == nil {
                    let remaining = deadline - ContinuousClock.now
                    let ms = max(1, min(50, remaining.components.seconds * 1000 + remaining.components.attoseconds / 1_000_000_000_000_000))
                    usleep(UInt32(ms) * 1000)
                } else {
                    usleep(5000)
                }
                continue
            }
            var fds = open.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
            let ready = poll(&fds, nfds_t(fds.count), 20)
            if ready < 0 && errno != EINTR { break }
            for descriptor in fds where descriptor.revents != 0 {
                let n = chunk.withUnsafeMutableBytes { read(descriptor.fd, $0.baseAddress, $0.count) }
                if n > 0 {
                    if descriptor.fd == outPipe[0] {
                        stdoutBuffer.append(chunk[0..<n])
                    } else {
                        stderrBuffer.append(chunk[0..<n])
                    }
                } else if n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN) {
                    close(descriptor.fd)
                    open.removeAll { $0 == descriptor.fd }
                }
            }
        }
        for fd in open { close(fd) }
        if !reaped {
            // The drain window ended with the child still running (it cannot: killed above),
            // or the loop broke on an error: make sure it is gone and reaped.
            kill(-group, SIGKILL)
            while wait4(pid, &status, 0, &usage) < 0 && errno == EINTR {}
            Self.killGroup(group)
            end = ContinuousClock.now
        }
        let elapsed = end - start
        var seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        var cpu =
            Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6 + Double(usage.ru_stime.tv_sec) + Double(usage.ru_stime.tv_usec)
            / 1e6
        var peak = Int(usage.ru_maxrss) * 1024
        if timingPipe[0] >= 0, !timedOut, !stopped, let timing = Self.readTiming(timingPipe[0]) {
            // Timed inside the sandbox: the command alone, not the sandbox's start-up.
            seconds = timing.wall
            cpu = timing.cpu
            peak = timing.peakBytes
        }
        let exited = (status & 0x7f) == 0
        return CommandResult(
            exitStatus: exited ? (status >> 8) & 0xff : nil,
            signal: exited ? nil : status & 0x7f,
            timedOut: timedOut,
            wallSeconds: seconds,
            output: stdoutBuffer.text,
            errorOutput: stderrBuffer.text,
            droppedBytes: stdoutBuffer.dropped + stderrBuffer.dropped,
            processGroup: group,
            wasPaused: wasPaused,
            stopped: stopped,
            peakMemoryBytes: peak,
            cpuSeconds: cpu
        )
    }

    /// The line `ratchet-timer` wrote (`<wall ns> <user us> <system us> <peak KiB>`), read
    /// once the command is gone (waiting at most 200 ms for it), or `nil`.
    static func readTiming(_ fd: Int32) -> (wall: Double, cpu: Double, peakBytes: Int)? {
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 256)
        let deadline = ContinuousClock.now + .milliseconds(200)
        while bytes.count < 4096 {
            var descriptor = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            if poll(&descriptor, 1, 20) <= 0 {
                if ContinuousClock.now >= deadline { break }
                continue
            }
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            bytes += chunk[0..<n]
        }
        let fields = String(decoding: bytes, as: UTF8.self).split(whereSeparator: { $0 == " " || $0 == "\n" }).compactMap { Double($0) }
        guard fields.count == 4, fields[0] >= 0 else { return nil }
        return (fields[0] / 1e9, (fields[1] + fields[2]) / 1e6, Int(fields[3]) * 1024)
    }
}

func withCStrings<R>(_ strings: [String], _ body: (UnsafePointer<UnsafeMutablePointer<CChar>?>) -> R) -> R {
    // posix_spawn's argv/envp are `char *const[]`, ending in a null pointer.
    let vector = UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>.allocate(capacity: strings.count + 1)
    for (index, string) in strings.enumerated() { (vector + index).initialize(to: strdup(string)) }
    (vector + strings.count).initialize(to: nil)
    defer {
        for index in 0..<strings.count { free(vector[index]) }
        vector.deinitialize(count: strings.count + 1)
        vector.deallocate()
    }
    return body(UnsafePointer(vector))
}
