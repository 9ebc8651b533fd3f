import TOMLKit

/// A user command from `[commands.*]`: a shell line run in the slot, with a time limit.
public struct CommandSpec: Sendable, Equatable, Codable {
    public var run: String
    /// Seconds before the command's whole process group is killed.
    public var timeout: Double

    public init(run: String, timeout: Double) {
        self.run = run
        self.timeout = timeout
    }
}

/// Where a benchmark's number comes from.
public enum MetricSource: Sendable, Equatable, Codable {
    /// Wall-clock seconds of the `bench` command.
    case wallTime
    /// The first capture group of a regular expression over the command's standard output.
    case regex(pattern: String)
    /// A JSON path (`a.b[0].c`) into standard output, or into `file` (relative to the slot) when set.
    case json(path: String, file: String?)
    /// The mean of the first result in a hyperfine `--export-json` file (relative to the slot).
    case hyperfine(file: String)
    /// Instructions executed, counted by `valgrind --tool=callgrind` (the bench command runs
    /// under it): deterministic, unaffected by other load on the machine.
    case callgrind
    /// Peak resident memory of the bench command, in bytes (rusage).
    case peakMemory

    public var name: String {
        switch self {
        case .wallTime: "wall_time"
        case .regex: "regex"
        case .json: "json"
        case .hyperfine: "hyperfine"
        case .callgrind: "callgrind"
        case .peakMemory: "peak_memory"
        }
    }
}

/// A metric that must not get worse by more than a limit (e.g. optimise time, but reject any
/// candidate that uses more than 5% more memory). Measured on the same runs as the objective.
public struct ConstraintSpec: Sendable, Equatable, Codable {
    public var name: String
    public var source: MetricSource
    public var direction: Direction
    /// Largest relative regression allowed, e.g. 0.05.
    public var maxRegression: Double

    public init(name: String, source: MetricSource, direction: Direction, maxRegression: Double) {
        self.name = name
        self.source = source
        self.direction = direction
        self.maxRegression = maxRegression
    }
}

/// What a confirmation round measures (`[metric] confirm_with`).
public enum ConfirmMetric: String, Sendable, Equatable, Codable, CaseIterable {
    /// The objective again, against the minimum effect.
    case same
    /// The bench command's wall time, run plainly (not under callgrind or GNU time),
    /// against a minimum of 0: the candidate must really be faster.
    case wallTime = "wall_time"
}

/// `[metric]`: what is measured and how a decision is made.
public struct MetricSpec: Sendable, Equatable, Codable {
    public var source: MetricSource
    public var decision: DecisionPolicy
    /// Runs of each side discarded before the first measured pair.
    public var warmup: Int
    /// Pairs of an A/A run (the best built in both slots, measured against itself) once per
    /// best commit; the minimum effect is raised to the slot bias they show (see
    /// `SequentialDecision.noiseFloor`). 0 turns it off.
    public var aaPairs: Int = 10
    /// Before an accept is committed, a fresh round against the best must agree.
    public var confirm: Bool = true
    /// The confirmation round's confidence. The false-accept bound comes from the first
    /// round (`decision.confidence`); the fresh round guards against the winner's curse on
    /// top of it, so it can be looser: the default is the smaller of 0.9 and the decision's.
    public var confirmConfidence: Double?

    /// `confirmConfidence`, or its default.
    public var effectiveConfirmConfidence: Double { confirmConfidence ?? min(0.9, decision.confidence) }
    /// What the confirmation round measures: the objective again (`same`), or the bench
    /// command's plain wall time (`wallTime`), which must then show the candidate faster at
    /// the decision's confidence. The default for an instruction count (`callgrind`) is
    /// wall time: count instructions to decide, time the plain command to confirm.
    public var confirmWith: ConfirmMetric = .same
    /// Every this many candidates, the original base is measured against the best again to
    /// catch drift in the machine or the measurements. 0 turns it off.
    public var driftEvery: Int = 10
    /// Reject a candidate whose bench output differs from the best's (lines matching
    /// `matchIgnore`, and the metric's own pattern, are left out of the comparison).
    public var outputsMustMatch: Bool = false
    public var matchIgnore: String?
    public var constraints: [ConstraintSpec] = []

    public init(source: MetricSource, decision: DecisionPolicy, warmup: Int) {
        self.source = source
        self.decision = decision
        self.warmup = warmup
    }

    /// Whether the bench command must run under callgrind.
    public var needsCallgrind: Bool {
        source == .callgrind || constraints.contains { $0.source == .callgrind }
    }
}

/// One knob of the built-in tuner: a value in a file, located by a regular expression.
public struct KnobSpec: Sendable, Equatable, Codable {
    public var name: String
    public var file: String
    /// A regular expression whose first capture group is the value to replace.
    public var pattern: String
    /// Candidate values, as they are written in the file.
    public var values: [String]

    public init(name: String, file: String, pattern: String, values: [String]) {
        self.name = name
        self.file = file
        self.pattern = pattern
        self.values = values
    }
}

/// A proposer and its settings.
public enum ProposerSpec: Sendable, Equatable, Codable {
    /// Replays `*.diff`/`*.patch` files from a folder, in name order.
    case patches(directory: String)
    /// Searches knob values by coordinate descent; needs no model.
    case tuner(knobs: [KnobSpec])
    /// An OpenAI-compatible Chat Completions endpoint.
    case openai(ModelSpec)
    /// The Anthropic Messages API.
    case anthropic(ModelSpec)
    /// Any program (a coding-agent CLI, a script) that edits a scratch copy of the best code.
    case command(AgentCommandSpec)

    public var kind: String {
        switch self {
        case .patches: "patches"
        case .tuner: "tuner"
        case .openai: "openai"
        case .anthropic: "anthropic"
        case .command: "command"
        }
    }
}

/// A validated `ratchet.toml`.
public struct LoopConfig: Sendable, Equatable, Codable {
    public var name: String
    /// Absolute path of the repository the loop improves.
    public var repository: String
    /// The revision the loop starts from.
    public var base: String
    /// Globs of the paths a candidate may change.
    public var scope: [String]
    /// Absolute path of the state folder, or `nil` for the default inside the repository's `.git`.
    public var stateDirectory: String?
    public var build: CommandSpec?
    public var test: CommandSpec?
    public var bench: CommandSpec
    /// Runs in the candidate slot after the tests, with `RATCHET_BASELINE_SLOT` naming the
    /// best code's slot, to compare their outputs on inputs the proposer never sees.
    public var validate: CommandSpec?
    /// Extra benchmarks (`[[benchmark]]`); with any, candidates are judged on the combined gain.
    public var benchmarks: [BenchmarkSpec] = []
    public var metric: MetricSpec
    /// Proposers in the order they are used; the next starts when one has nothing left.
    public var proposers: [ProposerSpec]
    public var seed: UInt64
    /// The folder the config file is in; relative paths in the config are resolved from here.
    public var configDirectory: String
    public var budget: BudgetSpec = BudgetSpec()
    public var checkpoint: CheckpointSpec = CheckpointSpec()
    public var gate: GateSpec = GateSpec()
    public var sandbox: SandboxSpec = SandboxSpec()
    /// When `ratchet daemon` runs the loop (`[schedule]`, see ScheduleConfig.swift).
    public var schedule: ScheduleSpec = ScheduleSpec()
    /// Candidates in flight and how measurements share the machine (`[parallel]`, ScaleConfig.swift).
    public var parallel: ParallelSpec = ParallelSpec()
    /// Where candidates are evaluated (`[executor]`).
    public var executor: ExecutorSpec = ExecutorSpec()
}

/// One thing wrong with a config file, located as precisely as the file allows.
public struct ConfigProblem: Sendable, Equatable, CustomStringConvertible {
    /// Dotted key, e.g. `metric.min_effect`.
    public var key: String
    public var line: Int?
    public var message: String

    public var description: String {
        let location = line.map { "line \($0): " } ?? ""
        return key.isEmpty ? "\(location)\(message)" : "\(location)\(key): \(message)"
    }
}

/// A config file that could not be used; lists every problem found, not just the first.
public struct ConfigError: Error, Sendable, Equatable, CustomStringConvertible {
    public var file: String
    public var problems: [ConfigProblem]

    public var description: String {
        "invalid config \(file):\n" + problems.map { "  - \($0)" }.joined(separator: "\n")
    }
}

extension LoopConfig {
    /// Parses and validates a config file's text.
    /// - Parameters:
    ///   - text: the TOML text.
    ///   - file: the file's path, for messages.
    ///   - directory: the folder relative paths are resolved from (absolute).
    /// - Throws: `ConfigError` listing every unknown key, wrong type, missing key and bad value.
    public static func parse(_ text: String, file: String, directory: String) throws(ConfigError) -> LoopConfig {
        let root: TOMLTable
        do {
            root = try TOMLTable(string: text)
        } catch let error as TOMLParseError {
            throw ConfigError(
                file: file,
                problems: [ConfigProblem(key: "", line: error.source.begin.line, message: "not valid TOML: \(error.description)")]
            )
        } catch {
            throw ConfigError(file: file, problems: [ConfigProblem(key: "", line: nil, message: "not valid TOML: \(error)")])
        }
        var reader = ConfigReader(text: text)
        let config = reader.loop(root, directory: directory)
        guard reader.problems.isEmpty, let config else {
            throw ConfigError(file: file, problems: reader.problems)
        }
        return config
    }

    /// The state folder: the configured one, or `<git dir>/ratchet`.
    public func stateDirectory(gitDirectory: String) -> String {
        if let stateDirectory { return stateDirectory }
        return (gitDirectory.hasSuffix("/") ? gitDirectory : gitDirectory + "/") + "ratchet"
    }

    /// The loop's branch, `ratchet/<name>`.
    public var branch: String { "refs/heads/ratchet/\(name)" }

    /// Paths a candidate may never touch, whatever the scope says: the built-in defaults
    /// (which the config can add to but not remove), `[gate] protected`, the patches folder,
    /// and the files the commands run from.
    /// - Parameter fileExists: whether a path exists in the repository, to find command scripts.
    public func protectedPaths(fileExists: (String) -> Bool = { _ in false }) -> [String] {
        var paths = Self.defaultProtected + gate.protected
        for proposer in proposers {
            switch proposer {
            case .patches(let directory):
                if let relative = Paths.relative(directory, to: repository), !relative.isEmpty { paths.append(relative + "/**") }
            case .openai(let spec), .anthropic(let spec):
                // The guidance file steers the model: the model must not edit it.
                if let guidance = spec.prompt.guidance, let relative = Paths.relative(guidance, to: repository) { paths.append(relative) }
            case .command(let spec):
                if let guidance = spec.prompt.guidance, let relative = Paths.relative(guidance, to: repository) { paths.append(relative) }
            default:
                break
            }
        }
        paths += commandFiles(fileExists: fileExists)
        return paths
    }

    /// Protected whatever the config says: git metadata and attributes, hooks, CI, the loop
    /// config, and conventional test and benchmark folders.
    public static let defaultProtected = [
        ".git*", "**/.git*", ".git/**", "ratchet.toml", "**/ratchet.toml",
        ".ci/**", ".github/**", ".gitlab-ci.yml", ".circleci/**", ".travis.yml", "Jenkinsfile", ".buildkite/**",
        ".githooks/**", ".husky/**", "**/hooks/**",
        "test/**", "tests/**", "Tests/**", "spec/**", "**/test/**", "**/tests/**",
        "bench/**", "benchmarks/**", "**/benchmarks/**",
    ]

    /// Files the build, test and bench commands run from: script paths named on the command
    /// line (outside the scope), and the build file of the tool that starts the command
    /// (`make` → Makefile, …), always.
    public func commandFiles(fileExists: (String) -> Bool) -> [String] {
        let toolFiles: [String: [String]] = [
            "make": ["Makefile", "makefile", "GNUmakefile", "*.mk", "**/*.mk"],
            "npm": ["package.json"], "yarn": ["package.json"], "pnpm": ["package.json"], "node": ["package.json"],
            "cargo": ["Cargo.toml", "**/Cargo.toml", "build.rs"], "swift": ["Package.swift"], "go": ["go.mod"],
            "python": ["pyproject.toml", "setup.py", "setup.cfg", "tox.ini", "conftest.py", "**/conftest.py"],
            "python3": ["pyproject.toml", "setup.py", "setup.cfg", "tox.ini", "conftest.py", "**/conftest.py"],
            "pytest": ["pyproject.toml", "pytest.ini", "setup.cfg", "tox.ini", "conftest.py", "**/conftest.py"],
            "cmake": ["CMakeLists.txt", "**/CMakeLists.txt"], "ninja": ["build.ninja"], "just": ["justfile", "Justfile"],
            "hyperfine": [],
        ]
        var result: [String] = []
        for command in [build, test, validate, bench].compactMap({ $0 }) + benchmarks.map(\.command) {
            let words = command.run.split(whereSeparator: { " \t;&|()<>\"'".contains($0) }).map(String.init)
            if let first = words.first, let files = toolFiles[first.split(separator: "/").last.map(String.init) ?? first] { result += files }
            // A script named on the command line is the evaluator's driver unless the scope says
            // it is the program being improved (`sh src/work.sh` with scope `src/**`).
            let scopeGlobs = scope.map(Glob.init)
            for word in words {
                var path = word
                while path.hasPrefix("./") { path.removeFirst(2) }
                if !path.isEmpty, !path.hasPrefix("-"), !path.hasPrefix("/"), !path.contains("="), fileExists(path),
                    !scopeGlobs.contains(where: { $0.matches(path) })
                {
                    result.append(path)
                }
            }
        }
        return Array(Set(result)).sorted()
    }
}

/// Walks the TOML tree, recording every key it reads so that unknown keys can be reported.
struct ConfigReader {
    let lines: [Substring]
    var problems: [ConfigProblem] = []

    init(text: String) {
        lines = text.split(separator: "\n", omittingEmptySubsequences: false)
    }

    /// Best-effort line of a dotted key: the key's line inside its table's section.
    func line(of key: String) -> Int? {
        var parts = key.split(separator: ".").map(String.init)
        guard let last = parts.popLast() else { return nil }
        let leaf = last.split(separator: "[").first.map(String.init) ?? last
        var section = ""
        var candidates: [Int] = []
        let wanted = parts.map { $0.split(separator: "[").first.map(String.init) ?? $0 }.joined(separator: ".")
        // `checkpoint.rule[1].approvals`: look inside the second `[[checkpoint.rule]]` only.
        var table: (path: String, index: Int)?
        let all = key.split(separator: ".").map(String.init)
        for (position, part) in all.enumerated() {
            guard let open = part.firstIndex(of: "["), let number = Int(part[part.index(after: open)...].dropLast()) else { continue }
            let path = (all[..<position].map { $0.split(separator: "[").first.map(String.init) ?? $0 } + [String(part[..<open])]).joined(separator: ".")
            if lines.contains(where: { $0.trimmingCharacters(in: " \t").hasPrefix("[[\(path)]]") }) { table = (path, number) }
            break
        }
        var occurrence = -1
        // The `[[table]]` line itself: the answer when no key line inside it matches.
        var header: Int?
        for (index, raw) in lines.enumerated() {
            let line = raw.trimmingCharacters(in: " \t")
            if line.hasPrefix("[") {
                section = line.trimmingCharacters(in: "[] \t")
                if let comment = section.firstIndex(of: "#") { section = String(section[..<comment]).trimmingCharacters(in: "] \t") }
                if line.hasPrefix("[["), section == table?.path { occurrence += 1 }
                if section == key.split(separator: "[").first.map(String.init) {
                    if table == nil {
                        candidates.append(index + 1)
                    } else if occurrence == table?.index {
                        header = header ?? index + 1
                    }
                }
                continue
            }
            if let table, occurrence != table.index { continue }
            let name = line.split(separator: "=", maxSplits: 1).first.map { String($0).trimmingCharacters(in: " \t\"") }
            if name == leaf && (section == wanted || (wanted.hasPrefix(section) && !section.isEmpty && wanted.count > section.count)) {
                candidates.append(index + 1)
            } else if name == leaf && wanted.isEmpty && section.isEmpty {
                candidates.append(index + 1)
            }
        }
        return candidates.first ?? header
    }

    mutating func problem(_ key: String, _ message: String) {
        problems.append(ConfigProblem(key: key, line: line(of: key), message: message))
    }

    mutating func checkKeys(_ table: TOMLTable, at path: String, allowed: [String]) {
        for key in table.keys where !allowed.contains(key) {
            let full = path.isEmpty ? key : "\(path).\(key)"
            problem(full, "unknown key; allowed here: \(allowed.joined(separator: ", "))")
        }
    }

    mutating func table(_ parent: TOMLTable, _ key: String, at path: String, required: Bool) -> TOMLTable? {
        let full = path.isEmpty ? key : "\(path).\(key)"
        guard let value = parent[key] else {
            if required { problem(full, "missing table [\(full)]") }
            return nil
        }
        guard let table = value.table else {
            problem(full, "must be a table, found \(value.type)")
            return nil
        }
        return table
    }

    mutating func string(_ table: TOMLTable, _ key: String, at path: String, required: Bool) -> String? {
        let full = "\(path).\(key)"
        guard let value = table[key] else {
            if required { problem(full, "missing (a string is required)") }
            return nil
        }
        guard let string = value.string else {
            problem(full, "must be a string, found \(value.type)")
            return nil
        }
        return string
    }

    mutating func number(_ table: TOMLTable, _ key: String, at path: String) -> Double? {
        guard let value = table[key] else { return nil }
        if let double = value.double { return double }
        if let int = value.int { return Double(int) }
        problem("\(path).\(key)", "must be a number, found \(value.type)")
        return nil
    }

    mutating func integer(_ table: TOMLTable, _ key: String, at path: String, range: ClosedRange<Int>) -> Int? {
        guard let value = table[key] else { return nil }
        guard let int = value.int else {
            problem("\(path).\(key)", "must be an integer, found \(value.type)")
            return nil
        }
        guard range.contains(int) else {
            problem("\(path).\(key)", "must be between \(range.lowerBound) and \(range.upperBound), found \(int)")
            return nil
        }
        return int
    }

    mutating func strings(_ table: TOMLTable, _ key: String, at path: String) -> [String]? {
        guard let value = table[key] else { return nil }
        if let single = value.string { return [single] }
        guard let array = value.array else {
            problem("\(path).\(key)", "must be a string or an array of strings, found \(value.type)")
            return nil
        }
        var result: [String] = []
        for (index, element) in array.enumerated() {
            guard let string = element.string else {
                problem("\(path).\(key)[\(index)]", "must be a string, found \(element.type)")
                continue
            }
            result.append(string)
        }
        return result
    }

    /// Knob values: strings, integers, floats or booleans, kept as they are written in a file.
    mutating func scalars(_ table: TOMLTable, _ key: String, at path: String) -> [String]? {
        guard let value = table[key] else {
            problem("\(path).\(key)", "missing (an array of candidate values is required)")
            return nil
        }
        guard let array = value.array else {
            problem("\(path).\(key)", "must be an array of values, found \(value.type)")
            return nil
        }
        var result: [String] = []
        for (index, element) in array.enumerated() {
            if let s = element.string {
                result.append(s)
            } else if let i = element.int {
                result.append(String(i))
            } else if let b = element.bool {
                result.append(b ? "true" : "false")
            } else if let d = element.double {
                result.append(String(d))
            } else {
                problem("\(path).\(key)[\(index)]", "must be a string, number or boolean, found \(element.type)")
            }
        }
        return result
    }

    mutating func command(_ commands: TOMLTable, _ key: String, required: Bool) -> CommandSpec? {
        let path = "commands.\(key)"
        guard let value = commands[key] else {
            if required { problem(path, "missing: the loop needs a \(key) command, e.g. [commands.\(key)] run = \"...\"") }
            return nil
        }
        if let line = value.string { return validCommand(line, timeout: 600, path: path) }
        guard let table = value.table else {
            problem(path, "must be a table with `run` and `timeout`, or a string, found \(value.type)")
            return nil
        }
        checkKeys(table, at: path, allowed: ["run", "timeout"])
        guard let run = string(table, "run", at: path, required: true) else { return nil }
        var timeout = 600.0
        if let raw = table["timeout"] {
            if let seconds = raw.double ?? raw.int.map(Double.init) {
                timeout = seconds
            } else if let text = raw.string, let seconds = Durations.seconds(text) {
                timeout = seconds
            } else {
                problem("\(path).timeout", "must be a duration like \"90s\", \"5m\", \"1h\" or a number of seconds")
                return nil
            }
        }
        guard timeout > 0 else {
            problem("\(path).timeout", "must be greater than zero")
            return nil
        }
        return validCommand(run, timeout: timeout, path: path)
    }

    mutating func validCommand(_ line: String, timeout: Double, path: String) -> CommandSpec? {
        guard !line.allSatisfy(\.isWhitespace) else {
            problem("\(path).run", "must not be empty")
            return nil
        }
        return CommandSpec(run: line, timeout: timeout)
    }

    mutating func loop(_ root: TOMLTable, directory: String) -> LoopConfig? {
        checkKeys(root, at: "", allowed: ["loop", "commands", "metric", "proposer", "budget", "checkpoint", "gate", "sandbox", "benchmark", "schedule", "parallel", "executor"])
        let loopTable = table(root, "loop", at: "", required: true)
        let commandsTable = table(root, "commands", at: "", required: true)
        let metricTable = table(root, "metric", at: "", required: false) ?? TOMLTable()
        let proposerTable = table(root, "proposer", at: "", required: true)

        var name = "", repository = directory, base = "HEAD", scope: [String] = ["**"], state: String?
        if let loopTable {
            checkKeys(loopTable, at: "loop", allowed: ["name", "repository", "base", "scope", "state_dir"])
            if let value = string(loopTable, "name", at: "loop", required: true) {
                if value.isEmpty || value.count > 64
                    || !value.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" || $0 == ".") })
                    || value.hasPrefix(".") || value.hasSuffix(".lock") || value.contains("..")
                {
                    problem("loop.name", "'\(value)' is not usable as a branch name: use 1-64 letters, digits, '-', '_' or '.'")
                } else {
                    name = value
                }
            }
            if let value = string(loopTable, "repository", at: "loop", required: false) {
                repository = Paths.resolve(value, from: directory)
            }
            if let value = string(loopTable, "base", at: "loop", required: false) {
                if value.isEmpty { problem("loop.base", "must not be empty") } else { base = value }
            }
            if let value = strings(loopTable, "scope", at: "loop") {
                if value.isEmpty { problem("loop.scope", "must list at least one glob, e.g. [\"src/**\"]") } else { scope = value }
            }
            state = string(loopTable, "state_dir", at: "loop", required: false).map { Paths.resolve($0, from: directory) }
        }

        var build: CommandSpec?, test: CommandSpec?, bench: CommandSpec?, validate: CommandSpec?
        if let commandsTable {
            checkKeys(commandsTable, at: "commands", allowed: ["build", "test", "bench", "validate"])
            build = command(commandsTable, "build", required: false)
            test = command(commandsTable, "test", required: false)
            bench = command(commandsTable, "bench", required: true)
            validate = command(commandsTable, "validate", required: false)
        }

        var metric = self.metric(metricTable)
        let (proposers, seed) = proposerTable.map { self.proposers($0, directory: directory) } ?? ([], 0)

        let budget = self.budget(table(root, "budget", at: "", required: false))
        let checkpoint = self.checkpoint(table(root, "checkpoint", at: "", required: false))
        let gate = self.gate(table(root, "gate", at: "", required: false))
        let sandbox = self.sandbox(table(root, "sandbox", at: "", required: false))
        let schedule = self.schedule(table(root, "schedule", at: "", required: false))
        let parallel = self.parallel(table(root, "parallel", at: "", required: false), directory: directory)
        let executor = self.executor(table(root, "executor", at: "", required: false), directory: directory)

        let benchmarks = self.benchmarks(root, direction: metric?.decision.direction ?? .lower)
        if !benchmarks.isEmpty, metric?.confirmWith == .wallTime {
            // The wall-time round times the main bench command alone; with [[benchmark]]s the
            // decision was on their combined gain.
            if metricTable["confirm_with"] != nil {
                problem("metric.confirm_with", "\"wall_time\" times only [commands.bench], but [[benchmark]]s make the decision a combined gain; use \"same\"")
            } else {
                metric?.confirmWith = .same
            }
        }

        guard problems.isEmpty, let bench, let metric else { return nil }
        var config = LoopConfig(
            name: name, repository: repository, base: base, scope: scope, stateDirectory: state,
            build: build, test: test, bench: bench, validate: validate, metric: metric,
            proposers: proposers, seed: seed, configDirectory: directory,
            budget: budget, checkpoint: checkpoint, gate: gate, sandbox: sandbox, schedule: schedule
        )
        config.benchmarks = benchmarks
        config.parallel = parallel
        config.executor = executor
        return config
    }

    mutating func metric(_ table: TOMLTable) -> MetricSpec? {
        let path = "metric"
        checkKeys(
            table, at: path,
            allowed: [
                "source", "direction", "min_effect", "confidence", "min_pairs", "max_pairs", "futility", "warmup", "pattern", "path", "file",
                "aa_pairs", "confirm", "confirm_confidence", "confirm_with", "drift_every", "outputs_must_match", "match_ignore", "constraint",
            ]
        )
        let source = metricSource(table, at: path)
        var direction = Direction.lower
        if let text = string(table, "direction", at: path, required: false) {
            if let parsed = Direction(rawValue: text) {
                direction = parsed
            } else {
                problem("metric.direction", "'\(text)' is not allowed; use \"lower\" or \"higher\" (which is better)")
            }
        } else if source == .peakMemory || source == .callgrind {
            direction = .lower
        }
        let minEffect = number(table, "min_effect", at: path) ?? 0.02
        if !(0..<1).contains(minEffect) { problem("metric.min_effect", "must be a fraction in [0, 1), e.g. 0.02 for 2%") }
        let confidence = number(table, "confidence", at: path) ?? 0.95
        if !(0.5..<1).contains(confidence) { problem("metric.confidence", "must be in [0.5, 1), e.g. 0.95") }
        let minPairs = integer(table, "min_pairs", at: path, range: 2...10_000) ?? 5
        let maxPairs = integer(table, "max_pairs", at: path, range: 2...10_000) ?? 30
        if maxPairs < minPairs { problem("metric.max_pairs", "must be at least min_pairs (\(minPairs))") }
        let warmup = integer(table, "warmup", at: path, range: 0...100) ?? 1
        let futility = number(table, "futility", at: path) ?? 0.1
        if !(0..<0.5).contains(futility) {
            problem("metric.futility", "must be in [0, 0.5): the chance of a later accept below which a candidate stops early (0.1; 0 turns it off)")
        }
        let policy = DecisionPolicy(
            direction: direction, minEffect: minEffect, confidence: confidence, minPairs: minPairs, maxPairs: maxPairs, futility: futility)
        var spec = MetricSpec(source: source ?? .wallTime, decision: policy, warmup: warmup)
        spec.aaPairs = integer(table, "aa_pairs", at: path, range: 0...1000) ?? spec.aaPairs
        if spec.aaPairs == 1 { problem("metric.aa_pairs", "must be 0 (off) or at least 2: one pair cannot show its own uncertainty") }
        spec.driftEvery = integer(table, "drift_every", at: path, range: 0...1_000_000) ?? spec.driftEvery
        spec.confirm = boolean(table, "confirm", at: path) ?? spec.confirm
        if let level = number(table, "confirm_confidence", at: path) {
            if (0.5..<1).contains(level) { spec.confirmConfidence = level } else { problem("metric.confirm_confidence", "must be in [0.5, 1), e.g. 0.9") }
        }
        spec.confirmWith = spec.source == .callgrind ? .wallTime : .same
        if let text = string(table, "confirm_with", at: path, required: false) {
            if let parsed = ConfirmMetric(rawValue: text) {
                spec.confirmWith = parsed
            } else {
                problem("metric.confirm_with", "'\(text)' is not allowed; use \"same\" (the objective again) or \"wall_time\" (the plain command's time)")
            }
        }
        if spec.confirmWith == .wallTime, spec.source == .wallTime { spec.confirmWith = .same }
        if spec.confirmWith == .wallTime, spec.source == .peakMemory {
            problem("metric.confirm_with", "\"wall_time\" confirms a speed-up, but the objective is peak_memory; use \"same\"")
        }
        spec.outputsMustMatch = boolean(table, "outputs_must_match", at: path) ?? spec.outputsMustMatch
        if let ignore = string(table, "match_ignore", at: path, required: false) {
            if (try? Regex(ignore)) == nil { problem("metric.match_ignore", "'\(ignore)' is not a valid regular expression") }
            spec.matchIgnore = ignore
        }
        if let raw = table["constraint"] {
            guard let array = raw.array else {
                problem("metric.constraint", "must be an array of tables: [[metric.constraint]]")
                return spec
            }
            for (index, element) in array.enumerated() {
                let at = "metric.constraint[\(index)]"
                guard let constraint = element.table else {
                    problem(at, "must be a table")
                    continue
                }
                checkKeys(constraint, at: at, allowed: ["name", "source", "pattern", "path", "file", "direction", "max_regression"])
                let name = string(constraint, "name", at: at, required: true) ?? ""
                let constraintSource = metricSource(constraint, at: at)
                var constraintDirection = Direction.lower
                if let text = string(constraint, "direction", at: at, required: false) {
                    if let parsed = Direction(rawValue: text) { constraintDirection = parsed } else { problem("\(at).direction", "use \"lower\" or \"higher\"") }
                }
                guard let limit = number(constraint, "max_regression", at: at) else {
                    problem("\(at).max_regression", "missing: the largest relative regression allowed, e.g. 0.05")
                    continue
                }
                if limit < 0 { problem("\(at).max_regression", "must not be negative") }
                if let constraintSource, constraintSource == .wallTime && source == .wallTime {
                    problem("\(at).source", "the objective is already wall time")
                }
                if let constraintSource {
                    spec.constraints.append(ConstraintSpec(name: name, source: constraintSource, direction: constraintDirection, maxRegression: limit))
                }
            }
        }
        return source == nil ? nil : spec
    }

    /// `[[benchmark]]` tables.
    mutating func benchmarks(_ root: TOMLTable, direction: Direction) -> [BenchmarkSpec] {
        guard let raw = root["benchmark"] else { return [] }
        guard let array = raw.array else {
            problem("benchmark", "must be an array of tables: [[benchmark]]")
            return []
        }
        var result: [BenchmarkSpec] = []
        for (index, element) in array.enumerated() {
            let at = "benchmark[\(index)]"
            guard let table = element.table else {
                problem(at, "must be a table")
                continue
            }
            checkKeys(table, at: at, allowed: ["name", "run", "timeout", "source", "pattern", "path", "file", "direction", "weight"])
            let name = string(table, "name", at: at, required: true)
            let run = string(table, "run", at: at, required: true)
            let timeout = duration(table, "timeout", at: at) ?? 600
            let source = metricSource(table, at: at)
            var benchDirection = direction
            if let text = string(table, "direction", at: at, required: false) {
                if let parsed = Direction(rawValue: text) { benchDirection = parsed } else { problem("\(at).direction", "use \"lower\" or \"higher\"") }
            }
            let weight = number(table, "weight", at: at) ?? 1
            if weight <= 0 { problem("\(at).weight", "must be greater than zero") }
            if let name, result.contains(where: { $0.name == name }) || name == "bench" {
                problem("\(at).name", "'\(name)' is used twice (\"bench\" is the main benchmark's name)")
            }
            if let name, let run, let source, !run.allSatisfy(\.isWhitespace) {
                result.append(BenchmarkSpec(name: name, command: CommandSpec(run: run, timeout: timeout), source: source, direction: benchDirection, weight: weight))
            }
        }
        return result
    }

    mutating func boolean(_ table: TOMLTable, _ key: String, at path: String) -> Bool? {
        guard let value = table[key] else { return nil }
        guard let bool = value.bool else {
            problem("\(path).\(key)", "must be true or false, found \(value.type)")
            return nil
        }
        return bool
    }

    /// `source` with its `pattern`/`path`/`file`, in a metric or constraint table.
    mutating func metricSource(_ table: TOMLTable, at path: String) -> MetricSource? {
        let sourceName = string(table, "source", at: path, required: false) ?? "wall_time"
        let pattern = string(table, "pattern", at: path, required: false)
        let jsonPath = string(table, "path", at: path, required: false)
        let file = string(table, "file", at: path, required: false)
        switch sourceName {
        case "wall_time":
            return .wallTime
        case "regex":
            guard let pattern else {
                problem("\(path).pattern", "missing: source \"regex\" needs a pattern whose first group is the number")
                return nil
            }
            if (try? Regex(pattern)) == nil { problem("\(path).pattern", "'\(pattern)' is not a valid regular expression") }
            return .regex(pattern: pattern)
        case "json":
            guard let jsonPath else {
                problem("\(path).path", "missing: source \"json\" needs a path like results[0].mean")
                return nil
            }
            if JSONPath.parse(jsonPath) == nil { problem("\(path).path", "'\(jsonPath)' is not a JSON path like results[0].mean") }
            return .json(path: jsonPath, file: file)
        case "hyperfine":
            return .hyperfine(file: file ?? "hyperfine.json")
        case "callgrind":
            return .callgrind
        case "peak_memory":
            return .peakMemory
        default:
            problem("\(path).source", "'\(sourceName)' is not a metric source; allowed: wall_time, regex, json, hyperfine, callgrind, peak_memory")
            return nil
        }
    }

    mutating func proposers(_ table: TOMLTable, directory: String) -> ([ProposerSpec], UInt64) {
        let path = "proposer"
        checkKeys(table, at: path, allowed: ["kind", "seed", "patches", "tuner", "openai", "anthropic", "command"])
        let kinds = strings(table, "kind", at: path) ?? []
        if table["kind"] == nil { problem("proposer.kind", "missing: name a proposer, e.g. kind = \"tuner\" or [\"tuner\", \"patches\"]") }
        var seed: UInt64 = 1
        if let value = integer(table, "seed", at: path, range: 0...Int.max) { seed = UInt64(value) }
        var result: [ProposerSpec] = []
        for kind in kinds {
            switch kind {
            case "patches":
                let sub = self.table(table, "patches", at: path, required: true)
                if let sub {
                    checkKeys(sub, at: "proposer.patches", allowed: ["dir"])
                    if let dir = string(sub, "dir", at: "proposer.patches", required: true) {
                        result.append(.patches(directory: Paths.resolve(dir, from: directory)))
                    }
                }
            case "tuner":
                result.append(.tuner(knobs: knobs(table)))
            case "openai":
                if let spec = modelSpec(table, kind: kind, directory: directory) { result.append(.openai(spec)) }
            case "anthropic":
                if let spec = modelSpec(table, kind: kind, directory: directory) { result.append(.anthropic(spec)) }
            case "command":
                if let spec = agentCommandSpec(table, directory: directory) { result.append(.command(spec)) }
            default:
                problem("proposer.kind", "'\(kind)' is not a proposer; allowed: tuner, patches, openai, anthropic, command")
            }
        }
        return (result, seed)
    }

    /// Whether a regular expression has a capturing group: an unescaped `(` outside a
    /// character class that does not start a non-capturing `(?:`, lookaround or flag group.
    static func hasCaptureGroup(_ pattern: String) -> Bool {
        let chars = Array(pattern)
        var i = 0
        var inClass = false
        while i < chars.count {
            let c = chars[i]
            if c == "\\" {
                i += 2
                continue
            }
            if inClass {
                if c == "]" { inClass = false }
            } else if c == "[" {
                inClass = true
            } else if c == "(" {
                let next = i + 1 < chars.count ? chars[i + 1] : " "
                if next != "?" { return true }
                // Named groups (?<name>…) and (?P<name>…) capture; (?<= and (?<! are lookbehinds.
                let rest = String(chars[(i + 1)...].prefix(4))
                if (rest.hasPrefix("?<") && !rest.hasPrefix("?<=") && !rest.hasPrefix("?<!")) || rest.hasPrefix("?P<") { return true }
            }
            i += 1
        }
        return false
    }

    mutating func knobs(_ proposer: TOMLTable) -> [KnobSpec] {
        guard let tuner = table(proposer, "tuner", at: "proposer", required: true) else { return [] }
        checkKeys(tuner, at: "proposer.tuner", allowed: ["knob"])
        guard let array = tuner["knob"]?.array, !array.isEmpty else {
            problem("proposer.tuner.knob", "missing: add at least one [[proposer.tuner.knob]] table")
            return []
        }
        var knobs: [KnobSpec] = []
        for (index, element) in array.enumerated() {
            let path = "proposer.tuner.knob[\(index)]"
            guard let knob = element.table else {
                problem(path, "must be a table")
                continue
            }
            checkKeys(knob, at: path, allowed: ["name", "file", "pattern", "values"])
            let name = string(knob, "name", at: path, required: true)
            let file = string(knob, "file", at: path, required: true)
            let pattern = string(knob, "pattern", at: path, required: true)
            let values = scalars(knob, "values", at: path)
            if let pattern {
                if (try? Regex(pattern)) != nil {
                    if !Self.hasCaptureGroup(pattern) {
                        problem("\(path).pattern", "needs a capture group around the value, e.g. 'N = (\\d+)'")
                    }
                } else {
                    problem("\(path).pattern", "'\(pattern)' is not a valid regular expression")
                }
            }
            if let values, values.isEmpty { problem("\(path).values", "must list at least one value") }
            if let name, let file, let pattern, let values, !values.isEmpty {
                knobs.append(KnobSpec(name: name, file: file, pattern: pattern, values: values))
            }
        }
        return knobs
    }
}

/// Parses durations such as `500ms`, `90s`, `5m`, `1h`, `1.5m`.
public enum Durations {
    public static func seconds(_ text: String) -> Double? {
        let trimmed = text.trimmingCharacters(in: " ")
        let units: [(String, Double)] = [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600)]
        for (suffix, scale) in units where trimmed.hasSuffix(suffix) {
            let number = trimmed.dropLast(suffix.count)
            if let value = Double(number), value.isFinite, value >= 0 { return value * scale }
        }
        if let value = Double(trimmed), value.isFinite, value >= 0 { return value }
        return nil
    }
}

/// Lexical path helpers (no file system access).
public enum Paths {
    /// `path` made absolute against `directory` and normalised (`.` and `..` removed).
    public static func resolve(_ path: String, from directory: String) -> String {
        let joined = path.hasPrefix("/") ? path : directory + "/" + path
        var parts: [Substring] = []
        for part in joined.split(separator: "/") {
            if part == "." || part.isEmpty { continue }
            if part == ".." {
                _ = parts.popLast()
            } else {
                parts.append(part)
            }
        }
        return "/" + parts.joined(separator: "/")
    }

    /// `path` relative to `root` when it lies inside it.
    public static func relative(_ path: String, to root: String) -> String? {
        let normalizedRoot = resolve(root, from: "/")
        let normalized = resolve(path, from: "/")
        if normalized == normalizedRoot { return "" }
        let prefix = normalizedRoot == "/" ? "/" : normalizedRoot + "/"
        guard normalized.hasPrefix(prefix) else { return nil }
        return String(normalized.dropFirst(prefix.count))
    }
}

extension StringProtocol {
    func trimmingCharacters(in set: String) -> String {
        let chars = Set(set)
        var slice = Substring(self)
        while let first = slice.first, chars.contains(first) { slice = slice.dropFirst() }
        while let last = slice.last, chars.contains(last) { slice = slice.dropLast() }
        return String(slice)
    }
}
