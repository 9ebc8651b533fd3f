import TOMLKit

// Parsing of [metric], its [[metric.constraint]]s and [[benchmark]]s.
extension ConfigReader {
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
            if (0.5..<1).contains(level) {
                spec.confirmConfidence = level
            } else {
                problem("metric.confirm_confidence", "must be in [0.5, 1), e.g. 0.9")
            }
        }
        spec.confirmWith = spec.source == .callgrind ? .wallTime : .same
        if let text = string(table, "confirm_with", at: path, required: false) {
            if let parsed = ConfirmMetric(rawValue: text) {
                spec.confirmWith = parsed
            } else {
                problem(
                    "metric.confirm_with", "'\(text)' is not allowed; use \"same\" (the objective again) or \"wall_time\" (the plain command's time)")
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
                    if let parsed = Direction(rawValue: text) {
                        constraintDirection = parsed
                    } else {
                        problem("\(at).direction", "use \"lower\" or \"higher\"")
                    }
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
                    spec.constraints.append(
                        ConstraintSpec(name: name, source: constraintSource, direction: constraintDirection, maxRegression: limit))
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
                if let parsed = Direction(rawValue: text) {
                    benchDirection = parsed
                } else {
                    problem("\(at).direction", "use \"lower\" or \"higher\"")
                }
            }
            let weight = number(table, "weight", at: at) ?? 1
            if weight <= 0 { problem("\(at).weight", "must be greater than zero") }
            if let name, result.contains(where: { $0.name == name }) || name == "bench" {
                problem("\(at).name", "'\(name)' is used twice (\"bench\" is the main benchmark's name)")
            }
            if let name, let run, let source, !run.allSatisfy(\.isWhitespace) {
                result.append(
                    BenchmarkSpec(
                        name: name, command: CommandSpec(run: run, timeout: timeout), source: source, direction: benchDirection, weight: weight))
            }
        }
        return result
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

}
