#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Why a real command could not be timed.
enum SpawnError: Error, CustomStringConvertible {
    case spawnFailed(errno: Int32)
    case waitFailed(errno: Int32)
    case failed(status: Int32)

    var description: String {
        switch self {
        case .spawnFailed(let code): "posix_spawn of /bin/sh failed: \(String(cString: strerror(code)))"
        case .waitFailed(let code): "waitpid failed: \(String(cString: strerror(code)))"
        case .failed(let status): "/bin/sh did not exit cleanly (wait status \(status))"
        }
    }
}

/// Runs `/bin/sh -c script` and returns its wall time in seconds, measured
/// with CLOCK_MONOTONIC around posix_spawn and waitpid.
func timeShell(_ script: String) throws(SpawnError) -> Double {
    let arguments = ["/bin/sh", "-c", script]
    let environment = ["PATH=/usr/bin:/bin", "LC_ALL=C"]
    var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
    var envp: [UnsafeMutablePointer<CChar>?] = environment.map { strdup($0) } + [nil]
    defer {
        for pointer in argv { free(pointer) }
        for pointer in envp { free(pointer) }
    }
    var start = timespec()
    var end = timespec()
    var pid: pid_t = 0
    clock_gettime(CLOCK_MONOTONIC, &start)
    let spawned = posix_spawn(&pid, "/bin/sh", nil, nil, &argv, &envp)
    guard spawned == 0 else { throw .spawnFailed(errno: spawned) }
    var status: Int32 = 0
    while waitpid(pid, &status, 0) == -1 {
        guard errno == EINTR else { throw .waitFailed(errno: errno) }
    }
    clock_gettime(CLOCK_MONOTONIC, &end)
    // WIFEXITED && WEXITSTATUS == 0, spelled out because the macros are not imported.
    guard status & 0x7f == 0, (status >> 8) & 0xff == 0 else {
        throw .failed(status: status)
    }
    return Double(end.tv_sec - start.tv_sec) + Double(end.tv_nsec - start.tv_nsec) / 1e9
}

/// Monotonic seconds, for timing the benchmark itself.
func monotonicSeconds() -> Double {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
}
