// `make bench-parallel`: candidates per hour with 1, 2 and 4 candidates in flight on one
// machine, on a workspace whose build and test dominate (3 s build, 1 s test, 50 ms bench);
// the same through the Slurm executor on a single-node cluster this benchmark starts; and
// A/A false accepts with two in flight. Drives the real release `ratchet` binary on real git
// repositories. Prints a table, then one JSON line.
import Core
import Foundation
import Store
import TestSupport

#if canImport(Glibc)
    import Glibc
#endif

let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
let ratchet = CommandLine.arguments.dropFirst().first ?? root + "/.build-bench/release/ratchet"
guard FileManager.default.isExecutableFile(atPath: ratchet) else {
    FileHandle.standardError.write(Data("no release ratchet at \(ratchet): run `make bench-parallel`\n".utf8))
    exit(2)
}
let quick = ProcessInfo.processInfo.environment["RATCHET_BENCH_QUICK"] != nil
let throughputCandidates = quick ? 6 : 20
let aaCandidates = quick ? 10 : 30

/// Runs `arguments` in `folder`; returns the exit status, standard output and the seconds it took.
@discardableResult
func run(_ arguments: [String], in folder: String, environment: [String: String] = [:]) throws -> (status: Int32, output: String, seconds: Double) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: arguments[0])
    process.arguments = Array(arguments.dropFirst())
    process.currentDirectoryURL = URL(fileURLWithPath: folder)
    process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
    let output = Pipe()
    process.standardOutput = output
    let errors = NSTemporaryDirectory() + "ratchet-bench-parallel-stderr-\(getpid()).txt"
    _ = FileManager.default.createFile(atPath: errors, contents: nil)
    process.standardError = FileHandle(forWritingAtPath: errors)
    let started = Date()
    try process.run()
    let data = output.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    let text = String(decoding: data, as: UTF8.self)
    if process.terminationStatus != 0, let failure = try? String(contentsOfFile: errors, encoding: .utf8) {
        FileHandle.standardError.write(Data("\(arguments.joined(separator: " ")) exited \(process.terminationStatus):\n\(text)\n\(failure)\n".utf8))
    }
    return (process.terminationStatus, text, Date().timeIntervalSince(started))
}

/// A workspace: `files`, committed on main in a fresh temporary git repository.
func workspace(_ files: [String: String]) throws -> GitFixture {
    try GitFixture(files: files, label: "bench-parallel")
}

func newFile(_ path: String, _ text: String) -> String {
    "diff --git a/\(path) b/\(path)\nnew file mode 100644\n--- /dev/null\n+++ b/\(path)\n@@ -0,0 +1 @@\n+\(text)\n"
}

/// The throughput workspace: every candidate adds `src/c<i>.txt` holding milliseconds the
/// bench sleeps on top of 50 ms: +20 (clearly worse) for most, -15 (better) for two of them.
func throughputWorkspace(extra: String) throws -> GitFixture {
    var files: [String: String] = [
        "build.sh": "sleep 3\n",
        "test.sh": "sleep 1\n",
        "bench.sh": "ms=50; for f in src/c*.txt; do [ -f \"$f\" ] && ms=$((ms + $(cat \"$f\"))); done; sleep $(printf '0.%03d' $ms)\n",
        "src/README": "candidates add files here\n",
        "ratchet.toml": """
        [loop]
        name = "bench"
        base = "main"
        scope = ["src/**"]
        [commands.build]
        run = "sh build.sh"
        [commands.test]
        run = "sh test.sh"
        [commands.bench]
        run = "sh bench.sh"
        [metric]
        source = "wall_time"
        direction = "lower"
        min_effect = 0.05
        min_pairs = 3
        max_pairs = 10
        warmup = 1
        [proposer]
        kind = "patches"
        [proposer.patches]
        dir = "patches"
        [parallel]
        lock_dir = "locks"
        \(extra)
        """,
        ".gitignore": "locks/\n",
    ]
    for index in 0..<throughputCandidates {
        let better = index == 2 || index == throughputCandidates - 3
        files[String(format: "patches/%02d.diff", index)] = newFile("src/c\(index).txt", better ? "-15" : "20")
    }
    return try workspace(files)
}

struct Measured {
    var label: String
    var candidates: Int
    var accepted: Int
    var seconds: Double
    var perHour: Double { Double(candidates) / seconds * 3600 }
}

func loopRun(_ folder: String, label: String, arguments: [String] = []) throws -> Measured {
    let result = try run([ratchet, "run", "--json"] + arguments, in: folder)
    guard result.status == 0, let summary = try JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [String: Any] else {
        throw NSError(domain: "ratchet run failed in \(folder): \(result.output)", code: Int(result.status))
    }
    let candidates = summary["candidates"] as? Int ?? 0
    return Measured(label: label, candidates: candidates, accepted: summary["accepted"] as? Int ?? 0, seconds: result.seconds)
}

var rows: [Measured] = []
var fixtures: [GitFixture] = []
defer { for fixture in fixtures { fixture.remove() } }

// Local throughput: N = 1, 2, 4 (measurements serialised, no build during one), and N = 2 with overlap_builds.
for (label, extra) in [
    ("local N=1", "candidates = 1"), ("local N=2", "candidates = 2"), ("local N=4", "candidates = 4"),
    ("local N=2 overlap_builds", "candidates = 2\noverlap_builds = true"),
] {
    let fixture = try throughputWorkspace(extra: extra)
    fixtures.append(fixture)
    let row = try loopRun(fixture.path, label: label)
    rows.append(row)
    print(String(format: "  %@: %.1f s", label, row.seconds))
}

// Slurm: the same workspace through a single-node cluster, with one and two jobs at once
// (`exclusive = false`, so the two share the node; the measurement lock keeps their
// measurements apart there).
var slurmRows: [Measured] = []
var slurmNote = ""
do {
    let cluster = try await SlurmCluster.start()
    defer { Task { await cluster.stop() } }
    for count in [1, 2] {
        let slurm = """
            candidates = \(count)
            [executor]
            kind = "slurm"
            partition = "\(cluster.partition)"
            exclusive = \(count == 1)
            slurm_conf = "\(cluster.configPath)"
            worker = "\(ratchet)"

            """
        let fixture = try throughputWorkspace(extra: slurm)
        fixtures.append(fixture)
        let row = try loopRun(fixture.path, label: "slurm N=\(count) (single node)")
        slurmRows.append(row)
        print(String(format: "  slurm N=%d: %.1f s", count, row.seconds))
    }
    await cluster.stop()
} catch {
    slurmNote = "slurm: \(error)"
    print(slurmNote)
}

// A/A: candidates that change nothing the bench can see, two in flight, a CPU-bound bench
// and a CPU-bound build of about a second; once with measurements serialised against builds
// (the default), once with `overlap_builds = true`, where one lane's build runs beside the
// other lane's measurement.
struct AARun {
    var label: String
    var run: Measured
    /// Standard deviation of ln(candidate / baseline) over every measured pair: the noise a
    /// decision has to see through.
    var spread: Double
    var pairsPerDecision: Double
    var rate: Double { run.candidates > 0 ? Double(run.accepted) / Double(run.candidates) : 0 }
    /// One-sided 95% upper bound on the rate (exact binomial; for 0 accepts, 1 - 0.05^(1/n)).
    var upper: Double { run.accepted == 0 ? 1 - pow(0.05, 1 / Double(max(run.candidates, 1))) : Double.nan }
}

@MainActor func aaRun(overlap: Bool) throws -> AARun {
    var files: [String: String] = [
        "bench.sh": "i=0; while [ $i -lt 6000 ]; do i=$((i+1)); done\n",
        "build.sh": "i=0; while [ $i -lt 150000 ]; do i=$((i+1)); done\n",
        "src/README": "notes\n",
        "ratchet.toml": """
        [loop]
        name = "aa"
        base = "main"
        scope = ["src/**"]
        [commands.build]
        run = "sh build.sh"
        [commands.bench]
        run = "sh bench.sh"
        [metric]
        source = "wall_time"
        direction = "lower"
        min_effect = 0.03
        confidence = 0.95
        min_pairs = 4
        max_pairs = 20
        warmup = 1
        [proposer]
        kind = "patches"
        [proposer.patches]
        dir = "patches"
        [parallel]
        candidates = 2
        overlap_builds = \(overlap)
        lock_dir = "locks"
        """,
        ".gitignore": "locks/\n",
    ]
    for index in 0..<aaCandidates { files[String(format: "patches/%02d.diff", index)] = newFile("src/n\(index).txt", "note \(index)") }
    let fixture = try workspace(files)
    fixtures.append(fixture)
    let label = overlap ? "A/A N=2 overlap_builds" : "A/A N=2"
    let run = try loopRun(fixture.path, label: label)
    let store = try Store(path: fixture.path + "/.git/ratchet/ratchet.sqlite")
    var logs: [Double] = []
    var pairs = 0
    for candidate in try store.candidates(loop: "aa") {
        let samples = try store.samples(candidate: candidate.id ?? 0).filter { !$0.warmup }
        let byPair = Dictionary(grouping: samples, by: \.pair)
        for (_, arms) in byPair {
            guard let c = arms.first(where: { $0.arm == .candidate }), let b = arms.first(where: { $0.arm == .baseline }), b.value > 0
            else { continue }
            logs.append(log(c.value / b.value))
        }
        pairs += candidate.pairs ?? 0
    }
    let mean = logs.reduce(0, +) / Double(max(logs.count, 1))
    let spread = (logs.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(max(logs.count - 1, 1))).squareRoot()
    print(String(format: "  %@: %.1f s, %d false accept(s), pair spread %.4f", label, run.seconds, run.accepted, spread))
    return AARun(label: label, run: run, spread: spread, pairsPerDecision: Double(pairs) / Double(max(run.candidates, 1)))
}
let aa = try aaRun(overlap: false)
let aaOverlap = try aaRun(overlap: true)

// The table.
let reference = rows[0]
print("")
print(
    "bench-parallel: 3 s build, 1 s test, 50 ms bench, \(throughputCandidates) candidates (2 better, the rest clearly worse); release ratchet, sandbox as configured by default"
)
print("| run | candidates | accepted | seconds | candidates/hour | vs N=1 |")
print("|---|---|---|---|---|---|")
for row in rows + slurmRows {
    print(
        String(
            format: "| %@ | %d | %d | %.1f | %.0f | %.2f× |", row.label, row.candidates, row.accepted, row.seconds, row.perHour,
            row.perHour / reference.perHour))
}
print("")
print("A/A: \(aaCandidates) candidates that change nothing, two in flight, ~1 s CPU-bound build, ~10 ms CPU-bound bench")
print("| run | candidates | false accepts | rate | 95% upper bound | pair spread (sd of ln ratio) | pairs per decision | seconds |")
print("|---|---|---|---|---|---|---|---|")
for run in [aa, aaOverlap] {
    print(
        String(
            format: "| %@ | %d | %d | %.3f | %.3f | %.4f | %.1f | %.1f |", run.label, run.run.candidates, run.run.accepted, run.rate, run.upper,
            run.spread, run.pairsPerDecision, run.run.seconds))
}
if !slurmNote.isEmpty { print(slurmNote) }
let perCandidate = { (row: Measured) in row.seconds / Double(max(row.candidates, 1)) }
var figures: [String: Any] = [
    "throughput_ratio_n2": rows[1].perHour / reference.perHour,
    "throughput_ratio_n4": rows[2].perHour / reference.perHour,
    "throughput_ratio_n2_overlap_builds": rows[3].perHour / reference.perHour,
    "candidates_per_hour_n1": reference.perHour,
    "aa_false_accept_rate_n2": aa.rate,
    "aa_candidates_n2": aa.run.candidates,
    "aa_pair_spread_n2": aa.spread,
    "aa_false_accept_rate_n2_overlap_builds": aaOverlap.rate,
    "aa_pair_spread_n2_overlap_builds": aaOverlap.spread,
    "aa_spread_ratio_overlap_builds": aa.spread > 0 ? aaOverlap.spread / aa.spread : Double.nan,
]
if let slurm1 = slurmRows.first { figures["slurm_overhead_s_per_candidate"] = perCandidate(slurm1) - perCandidate(reference) }
if slurmRows.count == 2 {
    figures["slurm_throughput_ratio_n2"] = slurmRows[1].perHour / slurmRows[0].perHour
    figures["slurm_overhead_s_per_candidate_n2"] = perCandidate(slurmRows[1]) - perCandidate(rows[1])
}
let json = try JSONSerialization.data(withJSONObject: figures, options: [.sortedKeys])
print(String(decoding: json, as: UTF8.self))
