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
        var benchmarks: [SizeBenchmark] = []
        var candidates: [RatchetCandidates] = []
        // Untimed setup of every size first: repository, patches, filled slot.
        for size in options.sizes {
            let sizeRoot = root + "/\(size)"
            try FileManager.default.createDirectory(atPath: sizeRoot, withIntermediateDirectories: true)
            let benchmark = SizeBenchmark(size: size, options: options, root: sizeRoot, runner: runner)
            var result = SizeResult(size: size)
            candidates.append(try benchmark.prepare(into: &result))
            benchmarks.append(benchmark)
            results.append(result)
        }
        flushFileSystem()

        // Ratchet: the sizes take turns, candidate by candidate (each round starting with the
        // next size), so a file system that speeds up or slows down during the run weighs on
        // every size alike instead of on whichever size ran at that moment.
        progress("ratchet: \(options.warmup) warm-up + \(options.ratchetReps) timed candidates per size, sizes interleaved")
        for candidate in 0..<(options.warmup + options.ratchetReps) {
            for turn in candidates.indices {
                try candidates[(candidate + turn) % candidates.count].run(candidate: candidate)
            }
        }
        for index in candidates.indices {
            try candidates[index].finish(into: &results[index])
            progress("[\(results[index].size) files]   ratchet median \(format(results[index].ratchet?.median)) ms")
        }

        // The git CLI, one size at a time; each size's disk space is freed after its runs.
        for index in benchmarks.indices {
            try benchmarks[index].measureCLI(base: candidates[index].base, into: &results[index])
            if !options.keep { try runner.run(["rm", "-rf", benchmarks[index].root]) }
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
