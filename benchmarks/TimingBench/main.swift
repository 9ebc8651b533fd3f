import Execution
import Foundation

// ratchet-bench-timing: how far Ratchet's wall time of a bench command is from hyperfine's
// for the same command, with the sandbox on. Ratchet times the command from inside bubblewrap
// (ratchet-timer), so the sandbox's start-up should not count; timed from outside, as before,
// it did. Prints a table and, last, one JSON line.
// Usage: ratchet-bench-timing [--runs N]

struct BenchError: Error, CustomStringConvertible {
    var description: String
}

func median(_ values: [Double]) -> Double {
    let sorted = values.sorted()
    guard !sorted.isEmpty else { return .nan }
    return sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
}

func mean(_ values: [Double]) -> Double { values.reduce(0, +) / Double(max(values.count, 1)) }

@discardableResult
func shell(_ command: String, in directory: String) throws -> String {
    let result = try CommandRunner().runBlocking(command, in: directory, timeout: 600)
    guard result.succeeded else { throw BenchError(description: "`\(command)` failed: \(result.tail())") }
    return result.output
}

let arguments = CommandLine.arguments
var runs = 40
if let index = arguments.firstIndex(of: "--runs"), index + 1 < arguments.count, let value = Int(arguments[index + 1]), value >= 5 { runs = value }

do {
    guard let bubblewrap = Sandbox.findBubblewrap() else { throw BenchError(description: "bubblewrap is needed: apt-get install bubblewrap") }
    guard let timer = Sandbox.findTimer() else { throw BenchError(description: "ratchet-timer was not built beside this benchmark") }
    let folder = FileManager.default.temporaryDirectory.path + "/ratchet-bench-timing-\(getpid())"
    try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: folder) }
    try """
    #include <stdio.h>
    #include <stdlib.h>
    int main(int argc, char **argv) {
        long n = argc > 1 ? atol(argv[1]) : 1000000; volatile unsigned long x = 1;
        for (long i = 0; i < n; i++) x = x * 6364136223846793005UL + 1442695040888963407UL;
        printf("%lu\\n", (unsigned long)x); return 0;
    }
    """.write(toFile: folder + "/work.c", atomically: true, encoding: .utf8)
    try shell("cc -O2 -o work work.c", in: folder)

    var sandboxed = Sandbox(bubblewrap: bubblewrap)
    sandboxed.mountPoint = Sandbox.slotMountPoint
    var inside = sandboxed
    inside.timer = timer
    var plain = Sandbox()
    plain.timer = timer
    let methods: [(String, Sandbox)] = [
        ("ratchet, bubblewrap, timed inside", inside), ("ratchet, bubblewrap, timed outside (before)", sandboxed),
        ("ratchet, no sandbox, timed inside", plain),
    ]

    var rows: [(command: String, reference: Double, times: [Double])] = []
    for iterations in [2_000_000, 20_000_000] {
        let command = "./work \(iterations)"
        // Fine-grained interleaving, so that every method sees the same machine: each round
        // is a short hyperfine run and then a few runs of each of Ratchet's methods.
        func hyperfine(_ count: Int) throws -> Double {
            try shell(
                "hyperfine -N --style none --warmup 1 --runs \(count) --export-json h.json '\(folder)/work \(iterations)' >/dev/null", in: folder)
            let data = try Data(contentsOf: URL(fileURLWithPath: folder + "/h.json"))
            guard let json = try JSONSerialization.jsonObject(with: data) as? [String: Any], let results = json["results"] as? [[String: Any]],
                let value = results.first?["mean"] as? Double
            else { throw BenchError(description: "cannot read hyperfine's export") }
            return value
        }
        let perRound = 5
        let rounds = max(2, runs / perRound)
        FileHandle.standardError.write(
            Data(
                "timing \(command): \(rounds) rounds of hyperfine (\(perRound) runs) and \(perRound) runs of each of \(methods.count) methods\n".utf8)
        )
        var references: [Double] = []
        var samples = Array(repeating: [Double](), count: methods.count)
        for round in 0..<rounds {
            references.append(try hyperfine(perRound))
            // A different method goes first each round: none always runs right after hyperfine.
            for step in 0..<methods.count {
                let index = (step + round) % methods.count
                let method = methods[index]
                let runner = CommandRunner(sandbox: method.1)
                _ = try runner.runBlocking(command, in: folder, timeout: 60)  // warm-up
                for _ in 0..<perRound {
                    let result = try runner.runBlocking(command, in: folder, timeout: 60)
                    guard result.succeeded else { throw BenchError(description: "\(method.0): \(result.tail())") }
                    samples[index].append(result.wallSeconds)
                }
            }
        }
        rows.append((command, mean(references), samples.map(mean)))
    }

    print("Wall time of one bench command as Ratchet records it, against hyperfine -N's mean for the same command (\(runs) runs each, same run)")
    print("")
    print("command           hyperfine   " + methods.map { $0.0 }.joined(separator: " | "))
    for row in rows {
        let cells = row.times.map {
            String(format: "%.2f ms (%+.2f ms, %+.1f%%)", $0 * 1000, ($0 - row.reference) * 1000, ($0 / row.reference - 1) * 100)
        }
        print(
            row.command.padding(toLength: 18, withPad: " ", startingAt: 0) + String(format: "%7.2f ms   ", row.reference * 1000)
                + cells.joined(separator: " | "))
    }
    print("")
    print("target: timed inside the sandbox within 1 ms or 5% of hyperfine")
    let short = rows[0]
    let long = rows[1]
    let figures: [String: Double] = [
        "hyperfine_short_ms": short.reference * 1000, "hyperfine_long_ms": long.reference * 1000,
        "wall_time_overhead_ms": (short.times[0] - short.reference) * 1000,
        "wall_time_overhead_ratio_long": long.times[0] / long.reference,
        "outer_overhead_ms": (short.times[1] - short.reference) * 1000,
        "no_sandbox_overhead_ms": (short.times[2] - short.reference) * 1000,
    ]
    let body = figures.keys.sorted().map { String(format: "\"%@\": %.4f", $0, figures[$0] ?? 0) }.joined(separator: ", ")
    print("{" + body + "}")
} catch {
    FileHandle.standardError.write(Data("ratchet-bench-timing: \(error)\n".utf8))
    exit(1)
}
