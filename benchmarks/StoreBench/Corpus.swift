import Foundation

/// The texts of a model-driven loop, made up deterministically: per candidate a 1.25 KB
/// diff, a 1.5 KB reply and a 23.7 KB prompt laid out as `PromptBuilder` lays it out, of which
/// 21 KB is the files in scope. The files change only when a candidate is accepted (a few
/// lines of one file), the objective when the best value moves, the recent attempts with
/// every candidate.
struct Corpus {
    static let fileCount = 6
    static let linesPerFile = 75

    /// Per file, per line: how often the line was rewritten by an accepted change.
    private var versions = Array(repeating: Array(repeating: 0, count: Corpus.linesPerFile), count: Corpus.fileCount)
    private var recent: [String] = []
    private(set) var best = 1200.0
    let base = 1200.0

    static let system = """
        You are an expert software engineer improving the wall_time of a program (lower is better), one small change at a time. \
        Every change you propose is applied to the current best version of the code, built, tested and benchmarked against it, \
        and kept only if it is measurably better; a change that breaks the build or the tests is thrown away. Propose one focused \
        change per reply and keep behaviour intact.
        """

    static let reply = """
        ## How to reply
        First line: `Title: <what the change does, under 70 characters>`.
        Then the change as a unified diff in a single ```diff fenced block, as `git diff` prints it:
        - paths relative to the repository root with a/ and b/ prefixes (`--- a/src/x.c`, `+++ b/src/x.c`; `--- /dev/null` for a new file);
        - hunk headers `@@ -l,n +l,n @@`, each with three lines of unchanged context copied exactly from the files above;
        - change only files matching the scope (src/**).
        Keep any explanation short and before the diff block.
        """

    static func line(file: Int, line: Int, version: Int) -> String {
        let name = "v\(file)_\(line)"
        return "    \(name) = mix(\(name), \(line * 31 + file), \(version)) ^ table[\((line * 7919 + version * 104_729) % 4096)];"
    }

    func fileText(_ file: Int) -> String {
        (0..<Self.linesPerFile).map { Self.line(file: file, line: $0, version: versions[file][$0]) }.joined(separator: "\n") + "\n"
    }

    func title(_ n: Int) -> String { "unroll the inner loop of kernel \(n % 97) in f\(n % Self.fileCount).c by \(2 + n % 7)" }

    /// The file and first line candidate `n` changes.
    func target(_ n: Int) -> (file: Int, line: Int) { (n % Self.fileCount, (n &* 7) % (Self.linesPerFile - 8)) }

    /// A unified diff of ~2 KB: 8 lines of one file rewritten, with context.
    func diff(_ n: Int) -> String {
        let (file, first) = target(n)
        var lines = [
            "diff --git a/src/f\(file).c b/src/f\(file).c", "--- a/src/f\(file).c", "+++ b/src/f\(file).c", "@@ -\(first + 1),14 +\(first + 1),14 @@",
        ]
        for index in first..<(first + 3) { lines.append(" " + Self.line(file: file, line: index, version: versions[file][index])) }
        for index in (first + 3)..<(first + 11) where index < Self.linesPerFile {
            lines.append("-" + Self.line(file: file, line: index, version: versions[file][index]))
        }
        for index in (first + 3)..<(first + 11) where index < Self.linesPerFile {
            lines.append("+" + Self.line(file: file, line: index, version: versions[file][index] + 1) + " /* \(n) */")
        }
        for index in (first + 11)..<(first + 14) where index < Self.linesPerFile {
            lines.append(" " + Self.line(file: file, line: index, version: versions[file][index]))
        }
        return lines.joined(separator: "\n") + "\n"
    }

    func response(_ n: Int, diff: String) -> String {
        "Title: \(title(n))\n\nThe kernel spends most of its time in the loop over the table; unrolling it by \(2 + n % 7) lets the "
            + "compiler keep the partial sums in registers and removes a branch per element. Behaviour is unchanged.\n\n```diff\n"
            + diff + "```\n"
    }

    /// The prompt for candidate `n`, as `PromptBuilder.assemble` lays it out.
    func prompt(_ n: Int) -> String {
        var user: [String] = []
        user.append(
            """
            ## Objective
            Metric: wall_time — lower is better.
            Current best: \(String(format: "%.6g", best)); original code: \(String(format: "%.6g", base)) (the best is \
            \(String(format: "%.1f", (base - best) / base * 100))% better so far).
            A change is kept only if it improves the metric by at least 3.0%, with statistical confidence.
            Benchmark command: `./bench --size 200000`
            """)
        if !recent.isEmpty {
            user.append(
                (["## Recent attempts (oldest first; do not repeat them)"] + recent.enumerated().map { "\($0.offset + 1). \($0.element)" }).joined(
                    separator: "\n"))
        }
        var files = ["## Files you may change", "Scope: src/**"]
        for file in 0..<Self.fileCount {
            files += ["", "### src/f\(file).c", "```", String(fileText(file).dropLast()), "```"]
        }
        user.append(files.joined(separator: "\n"))
        user.append(Self.reply)
        return Self.system + "\n\n" + user.joined(separator: "\n\n") + "\n"
    }

    /// Records candidate `n`'s result: the recent attempts move on, and an accepted change
    /// rewrites its lines and moves the best value.
    mutating func record(_ n: Int, outcome: String, reason: String, accepted: Bool) {
        recent.append("\"\(title(n))\": \(outcome) — \(reason)")
        if recent.count > 10 { recent.removeFirst() }
        guard accepted else { return }
        let (file, first) = target(n)
        for index in (first + 3)..<min(first + 11, Self.linesPerFile) { versions[file][index] += 1 }
        best *= 0.97
    }
}
