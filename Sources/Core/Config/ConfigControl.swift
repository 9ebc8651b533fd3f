import TOMLKit

// Parsing of the control sections: [budget], [checkpoint], [gate], [sandbox].
extension ConfigReader {
    mutating func duration(_ table: TOMLTable, _ key: String, at path: String) -> Double? {
        guard let raw = table[key] else { return nil }
        if let seconds = raw.double ?? raw.int.map(Double.init), seconds > 0 { return seconds }
        if let text = raw.string, let seconds = Durations.seconds(text), seconds > 0 { return seconds }
        problem("\(path).\(key)", "must be a positive duration like \"8h\", \"30m\" or a number of seconds")
        return nil
    }

    mutating func bytes(_ table: TOMLTable, _ key: String, at path: String) -> Int? {
        guard let raw = table[key] else { return nil }
        if let value = raw.int, value > 0 { return value }
        if let text = raw.string, let value = Sizes.bytes(text), value > 0 { return value }
        problem("\(path).\(key)", "must be a size like \"512MB\", \"2GB\" or a number of bytes")
        return nil
    }

    mutating func budget(_ table: TOMLTable?) -> BudgetSpec {
        var spec = BudgetSpec()
        guard let table else { return spec }
        let path = "budget"
        checkKeys(
            table, at: path,
            allowed: [
                "iterations", "wall_clock", "tokens", "cost", "consecutive_failures", "plateau", "accepts_since_review",
                "lines_since_review",
            ])
        spec.iterations = integer(table, "iterations", at: path, range: 1...Int.max)
        spec.wallSeconds = duration(table, "wall_clock", at: path)
        spec.tokens = integer(table, "tokens", at: path, range: 1...Int.max)
        if let cost = number(table, "cost", at: path) {
            if cost > 0 { spec.cost = cost } else { problem("budget.cost", "must be greater than zero") }
        }
        if table["consecutive_failures"] != nil {
            spec.consecutiveFailures = integer(table, "consecutive_failures", at: path, range: 1...Int.max)
        }
        spec.plateau = integer(table, "plateau", at: path, range: 1...Int.max)
        spec.acceptsSinceReview = integer(table, "accepts_since_review", at: path, range: 1...Int.max)
        spec.linesSinceReview = integer(table, "lines_since_review", at: path, range: 1...Int.max)
        return spec
    }

    mutating func checkpoint(_ table: TOMLTable?) -> CheckpointSpec {
        var spec = CheckpointSpec()
        guard let table else { return spec }
        let path = "checkpoint"
        checkKeys(
            table, at: path, allowed: ["every_accepts", "review_paths", "suspicious_effect", "approvals", "rule", "forbid_self_approval"])
        spec.everyAccepts = integer(table, "every_accepts", at: path, range: 0...Int.max) ?? 0
        spec.reviewPaths = strings(table, "review_paths", at: path) ?? []
        if let effect = number(table, "suspicious_effect", at: path) {
            if effect > 0 {
                spec.suspiciousEffect = effect
            } else {
                problem("checkpoint.suspicious_effect", "must be greater than zero, e.g. 0.5 for +50%")
            }
        }
        spec.approvals = integer(table, "approvals", at: path, range: 1...ApprovalRule.maximum) ?? 1
        spec.forbidSelfApproval = boolean(table, "forbid_self_approval", at: path) ?? false
        spec.rules = approvalRules(table)
        return spec
    }

    /// `[[checkpoint.rule]] paths = [...], approvals = N`.
    mutating func approvalRules(_ checkpoint: TOMLTable) -> [ApprovalRule] {
        guard let raw = checkpoint["rule"] else { return [] }
        guard let array = raw.array else {
            problem("checkpoint.rule", "must be an array of tables: [[checkpoint.rule]] with paths and approvals")
            return []
        }
        var rules: [ApprovalRule] = []
        for (index, element) in array.enumerated() {
            let at = "checkpoint.rule[\(index)]"
            guard let table = element.table else {
                problem(at, "must be a table with paths and approvals")
                continue
            }
            checkKeys(table, at: at, allowed: ["paths", "approvals"])
            let paths = strings(table, "paths", at: at)
            if paths == nil { problem("\(at).paths", "missing: the globs this rule covers, e.g. [\"src/crypto/**\"]") }
            if let paths, paths.isEmpty { problem("\(at).paths", "must list at least one glob, e.g. [\"src/crypto/**\"]") }
            for (position, pattern) in (paths ?? []).enumerated() where pattern.isEmpty || pattern.hasPrefix("/") || pattern.contains("..") {
                problem("\(at).paths[\(position)]", "'\(pattern)' must be a glob relative to the repository (no leading '/', no '..')")
            }
            let approvals = integer(table, "approvals", at: at, range: 1...ApprovalRule.maximum)
            if table["approvals"] == nil { problem("\(at).approvals", "missing: how many distinct reviewers must approve, e.g. 2") }
            if let paths, !paths.isEmpty, let approvals { rules.append(ApprovalRule(paths: paths, approvals: approvals)) }
        }
        return rules
    }

    mutating func gate(_ table: TOMLTable?) -> GateSpec {
        var spec = GateSpec()
        guard let table else { return spec }
        let path = "gate"
        checkKeys(table, at: path, allowed: ["protected", "deny", "max_files", "max_added_lines", "max_file_bytes"])
        spec.protected = strings(table, "protected", at: path) ?? []
        let deny = strings(table, "deny", at: path) ?? []
        for (index, pattern) in deny.enumerated() where (try? Regex(pattern)) == nil {
            problem("gate.deny[\(index)]", "'\(pattern)' is not a valid regular expression")
        }
        spec.deny = deny
        spec.maxFiles = integer(table, "max_files", at: path, range: 1...Int.max) ?? spec.maxFiles
        spec.maxAddedLines = integer(table, "max_added_lines", at: path, range: 1...Int.max) ?? spec.maxAddedLines
        spec.maxFileBytes = bytes(table, "max_file_bytes", at: path) ?? spec.maxFileBytes
        return spec
    }

    mutating func sandbox(_ table: TOMLTable?) -> SandboxSpec {
        var spec = SandboxSpec()
        guard let table else { return spec }
        let path = "sandbox"
        checkKeys(table, at: path, allowed: ["mode", "cpu_seconds", "memory", "processes", "file_size", "writable"])
        if let mode = string(table, "mode", at: path, required: false) {
            if let parsed = SandboxSpec.Mode(rawValue: mode) {
                spec.mode = parsed
            } else {
                problem("sandbox.mode", "'\(mode)' is not allowed; use \"auto\", \"required\" or \"off\"")
            }
        }
        spec.cpuSeconds = integer(table, "cpu_seconds", at: path, range: 1...Int.max)
        spec.memoryBytes = bytes(table, "memory", at: path)
        if table["processes"] != nil { spec.processes = integer(table, "processes", at: path, range: 1...Int.max) }
        spec.fileBytes = bytes(table, "file_size", at: path)
        spec.writable = strings(table, "writable", at: path) ?? []
        for (index, pattern) in spec.writable.enumerated() where pattern.isEmpty || pattern.hasPrefix("/") || pattern.contains("..") {
            problem("sandbox.writable[\(index)]", "'\(pattern)' must be a glob relative to the repository (no leading '/', no '..')")
        }
        return spec
    }
}

/// Parses sizes such as `512MB`, `2GiB`, `100k`.
public enum Sizes {
    public static func bytes(_ text: String) -> Int? {
        let trimmed = text.trimmingCharacters(in: " ").lowercased()
        let units: [(String, Double)] = [
            ("gib", 1_073_741_824), ("mib", 1_048_576), ("kib", 1024), ("gb", 1e9), ("mb", 1e6), ("kb", 1e3),
            ("g", 1_073_741_824), ("m", 1_048_576), ("k", 1024), ("b", 1),
        ]
        for (suffix, scale) in units where trimmed.hasSuffix(suffix) {
            guard let value = Double(trimmed.dropLast(suffix.count)), value.isFinite, value >= 0 else { return nil }
            return Int(value * scale)
        }
        return Int(trimmed)
    }
}
