import TOMLKit

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
            let path = (all[..<position].map { $0.split(separator: "[").first.map(String.init) ?? $0 } + [String(part[..<open])]).joined(
                separator: ".")
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

    mutating func boolean(_ table: TOMLTable, _ key: String, at path: String) -> Bool? {
        guard let value = table[key] else { return nil }
        guard let bool = value.bool else {
            problem("\(path).\(key)", "must be true or false, found \(value.type)")
            return nil
        }
        return bool
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
        checkKeys(
            root, at: "",
            allowed: [
                "loop", "commands", "metric", "proposer", "budget", "checkpoint", "gate", "sandbox", "benchmark", "schedule", "parallel", "executor",
            ])
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
                problem(
                    "metric.confirm_with",
                    "\"wall_time\" times only [commands.bench], but [[benchmark]]s make the decision a combined gain; use \"same\"")
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
}
