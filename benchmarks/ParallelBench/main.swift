// `make bench-parallel`: candidates per hour with 1, 2 and 4 candidates in flight on one
// machine, on a workspace whose build and test dominate (3 s build, 1 s test, 50 ms bench);
// the same through the Slurm executor on a single-node cluster this benchmark starts; and
// A/A false accepts with two in flight. Drives the real release `ratchet` binary on real git
// repositories. Prints a table, then one JSON line.
import Foundation
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

// Slurm: the same workspace, one candidate in flight, through a single-node cluster.
var slurmRow: Measured?
var slurmNote = ""
do {
    let cluster = try await SlurmCluster.start()
    defer { Task { await cluster.stop() } }
    let slurm =
        "candidates = 1\n[executor]\nkind = \"slurm\"\npartition = \"\(cluster.partition)\"\nslurm_conf = \"\(cluster.configPath)\"\nworker = \"\(ratchet)\"\n"
    let fixture = try throughputWorkspace(extra: slurm)
    fixtures.append(fixture)
    let row = try loopRun(fixture.path, label: "slurm N=1 (single node)")
    slurmRow = row
    await cluster.stop()
    print(String(format: "  slurm N=1: %.1f s", row.seconds))
} catch {
    slurmNote = "slurm: \(error)"
    print(slurmNote)
}

// A/A: candidates that change nothing the bench can see, two in flight, noisy CPU-bound bench.
var aaFiles: [String: String] = [
    "bench.sh": "i=0; while [ $i -lt 6000 ]; do i=$((i+1)); done\n",
    "src/README": "notes\n",
    "ratchet.toml": """
    [loop]
    name = "aa"
    base = "main"
    scope = ["src/**"]
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
    lock_dir = "locks"
    """,
    ".gitignore": "locks/\n",
]
for index in 0..<aaCandidates { aaFiles[String(format: "patches/%02d.diff", index)] = newFile("src/n\(index).txt", "note \(index)") }
let aaFixture = try workspace(aaFiles)
fixtures.append(aaFixture)
let aa = try loopRun(aaFixture.path, label: "A/A N=2")

// The table.
let reference = rows[0]
print("")
print(
    "bench-parallel: 3 s build, 1 s test, 50 ms bench, \(throughputCandidates) candidates (2 better, the rest clearly worse); release ratchet, sandbox as configured by default"
)
print("| run | candidates | accepted | seconds | candidates/hour | vs N=1 |")
print("|---|---|---|---|---|---|")
for row in rows + (slurmRow.map { [$0] } ?? []) {
    print(
        String(
            format: "| %@ | %d | %d | %.1f | %.0f | %.2f× |", row.label, row.candidates, row.accepted, row.seconds, row.perHour,
            row.perHour / reference.perHour))
}
let aaRate = aa.candidates > 0 ? Double(aa.accepted) / Double(aa.candidates) : 0
// One-sided 95% upper bound on the rate (exact binomial; for 0 accepts, 1 - 0.05^(1/n)).
let aaUpper = aa.accepted == 0 ? 1 - pow(0.05, 1 / Double(max(aa.candidates, 1))) : Double.nan
print(
    String(
        format: "| A/A N=2 | %d | %d false accept(s) | %.1f | rate %.3f | 95%% upper bound %.3f |", aa.candidates, aa.accepted, aa.seconds, aaRate,
        aaUpper))
if !slurmNote.isEmpty { print(slurmNote) }
let slurmOverhead = slurmRow.map { ($0.seconds / Double(max($0.candidates, 1))) - (reference.seconds / Double(max(reference.candidates, 1))) }
var figures: [String: Any] = [
    "throughput_ratio_n2": rows[1].perHour / reference.perHour,
    "throughput_ratio_n4": rows[2].perHour / reference.perHour,
    "throughput_ratio_n2_overlap_builds": rows[3].perHour / reference.perHour,
    "candidates_per_hour_n1": reference.perHour,
    "aa_false_accept_rate_n2": aaRate,
    "aa_candidates_n2": aa.candidates,
]
if let slurmOverhead { figures["slurm_overhead_s_per_candidate"] = slurmOverhead }
let json = try JSONSerialization.data(withJSONObject: figures, options: [.sortedKeys])
print(String(decoding: json, as: UTF8.self))
