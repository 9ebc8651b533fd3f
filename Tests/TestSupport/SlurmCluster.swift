import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Why the test cluster could not start: the daemon, what went wrong, and the end of its log.
public struct SlurmClusterError: Error, CustomStringConvertible {
    public var daemon: String
    public var message: String
    public var logTail: String

    public init(daemon: String, message: String, logTail: String = "") {
        self.daemon = daemon
        self.message = message
        self.logTail = logTail
    }

    /// slurmctld or slurmd lost the race for its port to another program: start again elsewhere.
    var portTaken: Bool { logTail.contains("Address already in use") }

    public var description: String {
        logTail.isEmpty ? "\(daemon): \(message)" : "\(daemon): \(message)\n--- end of its log ---\n\(logTail)"
    }
}

/// A real single-node Slurm cluster for tests: munged, slurmctld and slurmd, as root, all in
/// one fresh folder under /tmp with their own munge key, socket, ports, state and logs.
///
/// Clusters do not share anything, so several (in one test process or many) run side by side:
/// each has its own folder, munge socket and free ports, and its node is this host under its
/// short name, reached at 127.0.0.1. Clients need only `environment` (`SLURM_CONF`).
///
/// The daemons run in the foreground as children of the test process. `stop()` shuts them
/// down and removes the folder. If the test process dies first, a watchdog (a shell in its own
/// process group, reading a pipe only this process holds open) sees the pipe close and kills
/// every process whose environment carries this cluster's `SLURM_CONF` (the daemons,
/// slurmstepd and the jobs), then removes the folder. Nothing outlives the test process.
public final class SlurmCluster: Sendable {
    /// The cluster of the running suite (see `.slurmCluster`).
    @TaskLocal public static var current: SlurmCluster?

    public let folder: String
    public let configPath: String
    /// The node: this host's short name.
    public let nodeName: String
    /// The only partition, the default one.
    public let partition = "debug"
    public let controllerPort: Int
    public let nodePort: Int
    /// Seconds from the start of `start` until the node was idle.
    public var startSeconds: Double { startDuration.withLock { $0 } }
    private let startDuration = Mutex<Double>(0)

    /// What a client needs: `SLURM_CONF`.
    public var environment: [String: String] { ["SLURM_CONF": configPath] }

    private let processes: Mutex<Processes>

    private struct Daemon {
        let name: String
        let pid: pid_t
        let log: String
    }

    private struct Processes {
        var daemons: [Daemon] = []
        var watchdog: pid_t?
        /// Our end of the watchdog's pipe; closing it (or dying) releases the watchdog.
        var watchdogPipe: Int32 = -1
        var stopped = false
    }

    private init(folder: String, nodeName: String, ports: [Int]) {
        self.folder = folder
        configPath = folder + "/slurm.conf"
        self.nodeName = nodeName
        controllerPort = ports[0]
        nodePort = ports[1]
        processes = Mutex(Processes())
    }

    /// Starts a cluster and waits until its node is idle.
    /// - Throws: `SlurmClusterError` naming the daemon that failed, with the end of its log;
    ///   whatever had started is stopped again.
    public static func start(timeout: Duration = .seconds(30)) async throws -> SlurmCluster {
        try await offPool { try startBlocking(timeout: timeout) }
    }

    /// Stops every process of the cluster and removes its folder. Safe to call twice.
    public func stop() async {
        _ = try? await offPool { self.stopBlocking() }
    }

    // MARK: Start

    static func startBlocking(timeout: Duration) throws -> SlurmCluster {
        guard getuid() == 0 else {
            throw SlurmClusterError(daemon: "slurm test cluster", message: "must run as root (SlurmUser=root; munged and slurmd need it)")
        }
        let tools = try Tools()
        // Ports are picked free but only taken when the daemons bind them: on a clash, start over.
        var attempt = 1
        while true {
            do {
                return try launch(tools, timeout: timeout)
            } catch let error as SlurmClusterError where error.portTaken && attempt < 3 {
                attempt += 1
            }
        }
    }

    private static func launch(_ tools: Tools, timeout: Duration) throws -> SlurmCluster {
        let clock = ContinuousClock()
        let began = clock.now
        let ports = try freePorts(2)
        var template = Array("/tmp/ratchet-slurm-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else {
            throw SlurmClusterError(daemon: "slurm test cluster", message: "cannot create a folder under /tmp: \(String(cString: strerror(errno)))")
        }
        let folder = String(cString: made)
        // munged refuses a socket in a folder that not everyone can traverse.
        chmod(folder, 0o755)
        let cluster = SlurmCluster(folder: folder, nodeName: shortHostName(), ports: ports)
        do {
            try cluster.launchDaemons(tools, deadline: began + timeout)
        } catch {
            cluster.stopBlocking()
            throw error
        }
        let elapsed = clock.now - began
        cluster.startDuration.withLock { $0 = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18 }
        return cluster
    }

    private func launchDaemons(_ tools: Tools, deadline: ContinuousClock.Instant) throws {
        let fm = FileManager.default
        for sub in ["state", "spool"] { try fm.createDirectory(atPath: folder + "/" + sub, withIntermediateDirectories: true) }
        var generator = SystemRandomNumberGenerator()
        let key = Data((0..<1024).map { _ in UInt8.random(in: 0...255, using: &generator) })
        guard fm.createFile(atPath: folder + "/munge.key", contents: key, attributes: [.posixPermissions: 0o400]) else {
            throw SlurmClusterError(daemon: "munged", message: "cannot write its key to \(folder)/munge.key")
        }
        try startWatchdog()

        let socket = folder + "/munge.sock"
        try startDaemon(
            "munged", tools.munged,
            ["-F", "--socket=\(socket)", "--pid-file=\(folder)/munged.pid", "--key-file=\(folder)/munge.key", "--seed-file=\(folder)/munge.seed"])
        while !fm.fileExists(atPath: socket) {
            try checkDaemonsRun()
            guard ContinuousClock.now < deadline else {
                throw SlurmClusterError(daemon: "munged", message: "no socket at \(socket) in time", logTail: Self.tail(folder + "/munged.log"))
            }
            usleep(20_000)
        }

        let hardware = try nodeHardware(tools)
        try configuration(hardware: hardware, socket: socket).write(toFile: configPath, atomically: true, encoding: .utf8)
        try startDaemon("slurmctld", tools.slurmctld, ["-D", "-f", configPath])
        try startDaemon("slurmd", tools.slurmd, ["-D", "-f", configPath, "-N", nodeName])

        var said = ""
        while true {
            try checkDaemonsRun()
            let (status, output) = try runTool(tools.sinfo, ["-h", "-n", nodeName, "-o", "%T"], timeout: 5)
            said = output.trimmingCharacters(in: .whitespacesAndNewlines)
            if status == 0 && said == "idle" { return }
            guard ContinuousClock.now < deadline else {
                let controllerUp = status == 0
                throw SlurmClusterError(
                    daemon: controllerUp ? "slurmd" : "slurmctld",
                    message: controllerUp
                        ? "node \(nodeName) is not idle in time (sinfo: '\(said)')" : "slurmctld does not answer sinfo in time (sinfo: '\(said)')",
                    logTail: Self.tail(folder + (controllerUp ? "/slurmd.log" : "/slurmctld.log")))
            }
            usleep(100_000)
        }
    }

    /// The node's CPUs, topology and memory as slurmd itself measures them (`slurmd -C`).
    private func nodeHardware(_ tools: Tools) throws -> String {
        let (status, output) = try runTool(tools.slurmd, ["-C"], timeout: 10)
        guard status == 0, let line = output.split(separator: "\n").first(where: { $0.hasPrefix("NodeName=") }) else {
            throw SlurmClusterError(daemon: "slurmd", message: "`slurmd -C` did not describe this node (exit \(status))", logTail: output)
        }
        return line.split(separator: " ").filter { !$0.hasPrefix("NodeName=") }.joined(separator: " ")
    }

    private func configuration(hardware: String, socket: String) -> String {
        """
        # A single-node test cluster (Tests/TestSupport/SlurmCluster.swift); docs/scale.md explains it.
        ClusterName=ratchet\(controllerPort)
        SlurmctldHost=\(nodeName)(127.0.0.1)
        SlurmctldPort=\(controllerPort)
        SlurmdPort=\(nodePort)
        SlurmUser=root
        SlurmdUser=root
        AuthType=auth/munge
        CredType=cred/munge
        AuthInfo=socket=\(socket)
        StateSaveLocation=\(folder)/state
        SlurmdSpoolDir=\(folder)/spool
        SlurmctldPidFile=\(folder)/slurmctld.pid
        SlurmdPidFile=\(folder)/slurmd.pid
        # No systemd, no cgroups: track processes by parentage, bind no tasks, gather nothing.
        ProctrackType=proctrack/linuxproc
        TaskPlugin=task/none
        JobAcctGatherType=jobacct_gather/none
        AccountingStorageType=accounting_storage/none
        MpiDefault=none
        SelectType=select/cons_tres
        SelectTypeParameters=CR_Core
        # Start batch jobs at the next scheduling pass (about a second) instead of batching them.
        SchedulerParameters=batch_sched_delay=0
        # Finished jobs stay visible to `scontrol show job` for a day.
        MinJobAge=86400
        KillWait=2
        ReturnToService=2
        MailProg=/bin/true
        NodeName=\(nodeName) NodeAddr=127.0.0.1 \(hardware) State=UNKNOWN
        PartitionName=\(partition) Nodes=\(nodeName) Default=YES MaxTime=INFINITE State=UP

        """
    }

    /// Starts a daemon in the foreground (our child), its output to `<name>.log`.
    private func startDaemon(_ name: String, _ path: String, _ arguments: [String]) throws {
        let log = folder + "/\(name).log"
        let pid = try Self.spawn(path, arguments, environment: daemonEnvironment, output: log)
        processes.withLock { $0.daemons.append(Daemon(name: name, pid: pid, log: log)) }
    }

    /// Every daemon and its descendants carry `SLURM_CONF=<this cluster's>`, which is how
    /// `stop()` and the watchdog find them all.
    private var daemonEnvironment: [String: String] {
        ["SLURM_CONF": configPath, "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL": "C"]
    }

    private func checkDaemonsRun() throws {
        for daemon in processes.withLock({ $0.daemons }) {
            guard let status = Self.exitStatus(daemon.pid) else { continue }
            throw SlurmClusterError(daemon: daemon.name, message: "exited during start-up (\(Self.describe(status)))", logTail: Self.tail(daemon.log))
        }
    }

    /// A shell in its own process group that waits for our end of a pipe to close, then kills
    /// what is left of the cluster and removes its folder.
    private func startWatchdog() throws {
        var fds: [Int32] = [-1, -1]
        guard pipe(&fds) == 0 else { throw SlurmClusterError(daemon: "watchdog", message: "pipe: \(String(cString: strerror(errno)))") }
        // Close-on-exec: no other child of this process may hold the pipe open.
        _ = fcntl(fds[0], F_SETFD, FD_CLOEXEC)
        _ = fcntl(fds[1], F_SETFD, FD_CLOEXEC)
        let script = """
            cat >/dev/null
            for pass in 1 2 3 4 5 6 7 8 9 10; do
                pids=$(grep -lzxF "SLURM_CONF=$1" /proc/[0-9]*/environ 2>/dev/null | cut -d/ -f3)
                [ -z "$pids" ] && break
                kill -9 $pids 2>/dev/null
                sleep 0.2
            done
            rm -rf "$2"
            """
        let pid: pid_t
        do {
            pid = try Self.spawn(
                "/bin/sh", ["-c", script, "ratchet-slurm-watchdog", configPath, folder], environment: ["PATH": "/usr/bin:/bin"],
                output: nil, input: fds[0], ownGroup: true)
        } catch {
            close(fds[0])
            close(fds[1])
            throw error
        }
        close(fds[0])
        processes.withLock {
            $0.watchdog = pid
            $0.watchdogPipe = fds[1]
        }
    }

    // MARK: Stop

    func stopBlocking() {
        let taken: Processes? = processes.withLock { state in
            guard !state.stopped else { return nil }
            let taken = state
            state = Processes(stopped: true)
            return taken
        }
        guard let taken else { return }
        let munged = taken.daemons.filter { $0.name == "munged" }.map(\.pid)
        let slurmDaemons = taken.daemons.filter { $0.name != "munged" }.map(\.pid)
        var shutDown = false
        if let scontrol = Tools.find("scontrol"), let controller = taken.daemons.first(where: { $0.name == "slurmctld" }),
            Self.exitStatus(controller.pid) == nil
        {
            // slurmctld stops itself and tells slurmd to stop.
            shutDown = (try? runTool(scontrol, ["shutdown"], timeout: 5))?.status == 0
        }
        if !shutDown {
            for pid in slurmDaemons where Self.exitStatus(pid) == nil { kill(pid, SIGTERM) }
        }
        for pid in slurmDaemons { Self.finish(pid, within: 5) }
        // Jobs and their slurmstepd outlive slurmd; munged goes after them.
        let marker = "SLURM_CONF=\(configPath)"
        Self.sweep(marker: marker, keeping: munged)
        for pid in munged {
            if Self.exitStatus(pid) == nil { kill(pid, SIGTERM) }
            Self.finish(pid, within: 2)
        }
        Self.sweep(marker: marker, keeping: [])
        Self.reapExitedSteps()
        try? FileManager.default.removeItem(atPath: folder)
        if taken.watchdogPipe >= 0 { close(taken.watchdogPipe) }
        if let watchdog = taken.watchdog { Self.finish(watchdog, within: 5) }
    }

    /// The wait status of our child `pid` once it has exited (reaping it), `nil` while it runs;
    /// -1 when it is no longer our child (reaped already).
    private static func exitStatus(_ pid: pid_t) -> Int32? {
        var status: Int32 = 0
        let waited = waitpid(pid, &status, WNOHANG)
        if waited == 0 { return nil }
        return waited == pid ? status : -1
    }

    /// Waits up to `seconds` for our child `pid` to exit, then kills it; either way it is
    /// reaped. Returns its wait status (-1 when it was reaped already).
    @discardableResult
    private static func finish(_ pid: pid_t, within seconds: Double) -> Int32 {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if let status = exitStatus(pid) { return status }
            usleep(20_000)
        }
        if let status = exitStatus(pid) { return status }
        kill(pid, SIGKILL)
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 {
            if errno != EINTR { return -1 }
        }
        return status
    }

    static func describe(_ status: Int32) -> String {
        if status < 0 { return "status unknown" }
        return status & 0x7f == 0 ? "exit \((status >> 8) & 0xff)" : "killed by signal \(status & 0x7f)"
    }

    /// Kills every process whose environment holds `marker` (but `keeping`), reaping those that
    /// are our children, until none is left.
    private static func sweep(marker: String, keeping: [pid_t]) {
        let me = getpid()
        let needle = Array(marker.utf8)
        for _ in 0..<100 {
            var found = 0
            for entry in processTable() where entry.pid != me && !keeping.contains(entry.pid) && entry.state != "Z" {
                guard let environ = FileManager.default.contents(atPath: "/proc/\(entry.pid)/environ"),
                    environ.split(separator: 0).contains(where: { Array($0) == needle })
                else { continue }
                kill(entry.pid, SIGKILL)
                if entry.parent == me { waitpid(entry.pid, nil, 0) }
                found += 1
            }
            if found == 0 { return }
            usleep(20_000)
        }
    }

    /// slurmd starts each slurmstepd through a child that exits at once, so a slurmstepd is
    /// re-parented to this process when it is a subreaper (CommandRunner makes it one): reap
    /// those that have exited, or they stay zombies until the test process ends.
    private static func reapExitedSteps() {
        let me = getpid()
        for entry in processTable() where entry.parent == me && entry.state == "Z" && entry.name == "slurmstepd" {
            waitpid(entry.pid, nil, WNOHANG)
        }
    }

    private struct ProcessEntry {
        var pid: pid_t
        var name: String
        var state: String
        var parent: pid_t
    }

    private static func processTable() -> [ProcessEntry] {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return [] }
        return names.compactMap { name in
            guard let pid = pid_t(name), let stat = try? String(contentsOfFile: "/proc/\(name)/stat", encoding: .utf8),
                let open = stat.firstIndex(of: "("), let close = stat.lastIndex(of: ")")
            else { return nil }
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            guard fields.count > 1, let parent = pid_t(fields[1]) else { return nil }
            return ProcessEntry(pid: pid, name: String(stat[stat.index(after: open)..<close]), state: String(fields[0]), parent: parent)
        }
    }

    // MARK: Helpers

    /// Runs a short command with the cluster's environment; its output goes through a file in
    /// the cluster's folder (no pipe to fill), and it is killed after `timeout` seconds.
    private func runTool(_ path: String, _ arguments: [String], timeout: Double) throws -> (status: Int32, output: String) {
        let outputPath = folder + "/tool-\(UUID().uuidString.prefix(8)).out"
        defer { try? FileManager.default.removeItem(atPath: outputPath) }
        let pid = try Self.spawn(path, arguments, environment: daemonEnvironment, output: outputPath)
        let status = Self.finish(pid, within: timeout)
        let text = (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? ""
        return (status >= 0 && status & 0x7f == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f), text)
    }

    /// Starts `path` with `posix_spawn`: standard input from `input` (else /dev/null), output
    /// and errors appended to `output` (else /dev/null), every other descriptor of this
    /// process closed (a daemon must not hold another test's pipe open), default signal
    /// handling and an empty signal mask whatever thread it starts from.
    static func spawn(
        _ path: String, _ arguments: [String], environment: [String: String], output: String?, input: Int32? = nil, ownGroup: Bool = false
    ) throws -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        if let input {
            posix_spawn_file_actions_adddup2(&actions, input, 0)
        } else {
            posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        }
        posix_spawn_file_actions_addopen(&actions, 1, output ?? "/dev/null", O_WRONLY | O_CREAT | O_APPEND, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        let open = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd"))?.compactMap { Int32($0) } ?? []
        for fd in open where fd > 2 { posix_spawn_file_actions_addclose(&actions, fd) }

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var defaults = sigset_t()
        sigfillset(&defaults)
        var empty = sigset_t()
        sigemptyset(&empty)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setsigmask(&attributes, &empty)
        var flags = POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK
        if ownGroup {
            posix_spawnattr_setpgroup(&attributes, 0)
            flags |= POSIX_SPAWN_SETPGROUP
        }
        posix_spawnattr_setflags(&attributes, Int16(flags))

        let argv = [path] + arguments
        let envp = environment.map { "\($0.key)=\($0.value)" }
        var pid: pid_t = 0
        let result = withCStringArray(argv) { cArgv in
            withCStringArray(envp) { cEnv in posix_spawn(&pid, path, &actions, &attributes, cArgv, cEnv) }
        }
        guard result == 0 else {
            throw SlurmClusterError(
                daemon: (path as NSString).lastPathComponent, message: "cannot start \(path): \(String(cString: strerror(result)))")
        }
        return pid
    }

    /// The last lines of a log, without slurmd's harmless complaints about PMIx.
    static func tail(_ path: String, lines: Int = 20) -> String {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return "(no log at \(path))" }
        let kept = text.split(separator: "\n").filter { !$0.localizedCaseInsensitiveContains("pmix") }
        return kept.suffix(lines).joined(separator: "\n")
    }

    static func shortHostName() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count - 1) == 0 else { return "localhost" }
        let name = String(decoding: buffer.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return name.split(separator: ".").first.map(String.init) ?? "localhost"
    }

    /// `count` distinct TCP ports that are free right now (bound to port 0 together, then released).
    static func freePorts(_ count: Int) throws -> [Int] {
        var sockets: [Int32] = []
        defer { sockets.forEach { close($0) } }
        var ports: [Int] = []
        for _ in 0..<count {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            guard fd >= 0 else { throw SlurmClusterError(daemon: "slurm test cluster", message: "socket: \(String(cString: strerror(errno)))") }
            sockets.append(fd)
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            let bound = withUnsafeMutablePointer(to: &address) { pointer in
                pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { raw in
                    bind(fd, raw, length) == 0 && getsockname(fd, raw, &length) == 0
                }
            }
            guard bound else { throw SlurmClusterError(daemon: "slurm test cluster", message: "no free port: \(String(cString: strerror(errno)))") }
            ports.append(Int(UInt16(bigEndian: address.sin_port)))
        }
        return ports
    }

    /// The daemons and commands the cluster runs, found on PATH or in /usr/sbin.
    struct Tools {
        let munged: String
        let slurmctld: String
        let slurmd: String
        let sinfo: String

        init() throws {
            func need(_ name: String) throws -> String {
                guard let path = Tools.find(name) else {
                    throw SlurmClusterError(
                        daemon: name, message: "\(name) is not installed: run scripts/setup.sh --test (apt-get install slurm-wlm munge)")
                }
                return path
            }
            munged = try need("munged")
            slurmctld = try need("slurmctld")
            slurmd = try need("slurmd")
            sinfo = try need("sinfo")
            _ = try need("scontrol")
        }

        static func find(_ name: String) -> String? {
            let path = (ProcessInfo.processInfo.environment["PATH"] ?? "") + ":/usr/local/sbin:/usr/sbin:/sbin:/usr/bin"
            return path.split(separator: ":").map { "\($0)/\(name)" }.first { FileManager.default.isExecutableFile(atPath: $0) }
        }
    }
}

/// A NULL-terminated `char *[]` for posix_spawn, alive during `body`.
private func withCStringArray<R>(_ strings: [String], _ body: ([UnsafeMutablePointer<CChar>?]) -> R) -> R {
    let pointers: [UnsafeMutablePointer<CChar>?] = strings.map { strdup($0) } + [nil]
    defer { pointers.forEach { free($0) } }
    return body(pointers)
}
