import TOMLKit

// Parsing of [proposer]: the kinds in order, [proposer.patches] and the tuner's knobs.
extension ConfigReader {
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
