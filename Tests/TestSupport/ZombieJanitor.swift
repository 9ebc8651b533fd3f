import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Reaps zombie children of the test process that nobody waits for: orphans of commands,
/// re-parented here because `CommandRunner` makes the process a child subreaper (inner
/// bubblewrap processes, a browser's helpers). Swift Testing's exit tests watch their child
/// with `waitid(P_ALL, WNOWAIT)`, which keeps returning the first zombie it finds: one that is
/// not an exit test's spins its monitor thread at 100 % and the exit test never ends. Zombies
/// of this executable (an exit test's own child) and those younger than `age` seconds (a
/// status someone is about to collect) are left alone.
public enum ZombieJanitor {
    /// Runs `body` with the janitor sweeping every 200 ms.
    public static func sweeping<R>(_ body: () async throws -> R) async rethrows -> R {
        let janitor = Task.detached {
            while !Task.isCancelled {
                reap()
                try? await Task.sleep(for: .milliseconds(200))
            }
        }
        defer { janitor.cancel() }
        return try await body()
    }

    /// One sweep; returns how many zombies it reaped.
    @discardableResult
    public static func reap(age: Double = 2) -> Int {
        let me = getpid()
        guard let uptime = (try? String(contentsOfFile: "/proc/uptime", encoding: .utf8))?.split(separator: " ").first.flatMap({ Double($0) }),
            let mine = comm(me), let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc")
        else { return 0 }
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        var reaped = 0
        for name in entries {
            guard let pid = pid_t(name), pid != me, let stat = try? String(contentsOfFile: "/proc/\(name)/stat", encoding: .utf8),
                let close = stat.lastIndex(of: ")")
            else { continue }
            // Fields after the name: state (3), ppid (4), … starttime (22).
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            guard fields.count > 19, fields[0] == "Z", pid_t(fields[1]) == me, let start = Double(fields[19]),
                uptime - start / ticks >= age, comm(pid) != mine
            else { continue }
            var status: Int32 = 0
            if waitpid(pid, &status, WNOHANG) == pid { reaped += 1 }
        }
        return reaped
    }

    private static func comm(_ pid: pid_t) -> String? {
        (try? String(contentsOfFile: "/proc/\(pid)/comm", encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
