/// Command-line options of `ratchet-bench-git`.
struct Options {
    var sizes = [1_000, 20_000, 100_000]
    /// Timed Ratchet candidates per size (after `warmup` untimed ones).
    var ratchetReps = 50
    /// Timed `git reset --hard` candidates per size (after one untimed warm-up).
    var resetReps = 15
    /// Timed fresh-worktree candidates: `nil` means 3 up to 1k files and 1 above.
    var freshReps: Int?
    /// Skip the fresh-worktree measurement at 100k files and more (it costs ~2 minutes).
    var quick = false
    /// Keep the temporary folder for inspection.
    var keep = false
    let warmup = 3

    static let usage = """
        usage: ratchet-bench-git [--quick] [--sizes 1000,20000,100000] [--ratchet-reps N]
                                 [--reset-reps N] [--fresh-reps N] [--keep]

        Measures the git cost of one candidate (reset the working folder, apply a 2-file diff,
        commit) through Ratchet's Git layer, through `git reset --hard` on a persistent worktree,
        and through a fresh `git worktree add` per candidate, on generated repositories.
          --quick          skip the fresh-worktree measurement at 100k files and more
          --sizes LIST     comma-separated file counts (default 1000,20000,100000)
          --ratchet-reps N timed Ratchet candidates per size (default 50)
          --reset-reps N   timed `git reset --hard` candidates per size (default 15)
          --fresh-reps N   timed fresh-worktree candidates per size (default 3 at ≤1k files, else 1)
          --keep           keep the temporary folder
        Progress goes to stderr; the report to stdout, its last line one JSON object.
        """

    func freshReps(for size: Int) -> Int {
        if quick && size >= 100_000 { return 0 }
        return freshReps ?? (size <= 1_000 ? 3 : 1)
    }

    /// Parses `arguments` (without the program name).
    /// - Returns: `nil` when help was requested.
    static func parse(_ arguments: [String]) throws -> Options? {
        var options = Options()
        var remaining = arguments[...]
        func value(for flag: String) throws -> String {
            guard let next = remaining.popFirst() else { throw BenchError("\(flag) needs a value\n\(usage)") }
            return next
        }
        func count(for flag: String, minimum: Int) throws -> Int {
            let text = try value(for: flag)
            guard let number = Int(text), number >= minimum else {
                throw BenchError("\(flag) needs a whole number ≥ \(minimum), got '\(text)'")
            }
            return number
        }
        while let argument = remaining.popFirst() {
            switch argument {
            case "--quick": options.quick = true
            case "--keep": options.keep = true
            case "--ratchet-reps": options.ratchetReps = try count(for: argument, minimum: 1)
            case "--reset-reps": options.resetReps = try count(for: argument, minimum: 1)
            case "--fresh-reps": options.freshReps = try count(for: argument, minimum: 0)
            case "--sizes":
                let text = try value(for: argument)
                let sizes = text.split(separator: ",").compactMap { Int($0.trimmingPrefix(" ")) }
                guard !sizes.isEmpty, sizes.count == text.split(separator: ",").count, sizes.allSatisfy({ $0 >= 100 }),
                    Set(sizes).count == sizes.count
                else {
                    throw BenchError("--sizes needs distinct comma-separated file counts of at least 100, got '\(text)'")
                }
                options.sizes = sizes
            case "-h", "--help": return nil
            default: throw BenchError("unknown argument '\(argument)'\n\(usage)")
            }
        }
        return options
    }
}
