import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

// ratchet-bench-git: the git cost of one candidate (reset + 2-file diff + commit) through
// Ratchet's Git layer versus the git CLI. See benchmarks/README.md.

/// Creates the temporary folder every repository, slot and worktree lives in.
func makeTemporaryRoot() throws -> String {
    let base = ProcessInfo.processInfo.environment["TMPDIR"].flatMap { $0.isEmpty ? nil : $0 } ?? "/tmp"
    var template = Array((base + "/ratchet-bench-git-XXXXXX").utf8CString)
    guard let made = mkdtemp(&template) else {
        throw BenchError("cannot create a temporary folder under \(base): \(String(cString: strerror(errno)))")
    }
    return String(cString: made)
}

/// Removes the temporary folder, with `rm -rf` (fast on 100k files) or Foundation as a fallback.
func removeTemporaryRoot(_ root: String, runner: CommandRunner) {
    progress("removing \(root)")
    do {
        try runner.run(["rm", "-rf", root])
    } catch {
        do {
            try FileManager.default.removeItem(atPath: root)
        } catch {
            progress("warning: could not remove \(root): \(error)")
        }
    }
}

/// Runs every size, prints the report, and cleans up; returns the exit status.
func runBenchmark(_ options: Options) -> Int32 {
    let root: String
    do {
        root = try makeTemporaryRoot()
    } catch {
        progress("ratchet-bench-git: \(error)")
        return 1
    }
    let runner = CommandRunner(logPath: root + "/command.log")
    progress("ratchet-bench-git: sizes \(options.sizes.map(String.init).joined(separator: ", ")) in \(root)")
    var status: Int32 = 0
    do {
        var results: [SizeResult] = []
        for size in options.sizes {
            let sizeRoot = root + "/\(size)"
            try FileManager.default.createDirectory(atPath: sizeRoot, withIntermediateDirectories: true)
            let benchmark = SizeBenchmark(size: size, options: options, root: sizeRoot, runner: runner)
            results.append(try benchmark.run())
            // Free the disk space of this size before the next one.
            if !options.keep { try runner.run(["rm", "-rf", sizeRoot]) }
        }
        // Missed targets are reported as FAIL in the output; only errors exit non-zero.
        Report(results: results).print()
    } catch {
        progress("ratchet-bench-git: \(error)")
        status = 1
    }
    if options.keep {
        progress("kept \(root)")
    } else {
        removeTemporaryRoot(root, runner: runner)
    }
    return status
}

do {
    guard let options = try Options.parse(Array(CommandLine.arguments.dropFirst())) else {
        print(Options.usage)
        exit(0)
    }
    exit(runBenchmark(options))
} catch {
    progress("ratchet-bench-git: \(error)")
    exit(2)
}
