import Foundation

/// A path a candidate changes, as the gate sees it.
public struct ChangedPath: Sendable, Equatable {
    public var path: String
    /// The path before a rename, or the same as `path`.
    public var oldPath: String
    /// Git file modes; 0 when the file is absent on that side.
    public var oldMode: UInt32
    public var newMode: UInt32
    public var isBinary: Bool

    public init(path: String, oldPath: String, oldMode: UInt32, newMode: UInt32, isBinary: Bool) {
        self.path = path
        self.oldPath = oldPath
        self.oldMode = oldMode
        self.newMode = newMode
        self.isBinary = isBinary
    }
}

/// Everything the gate looks at for one candidate.
public struct GateInput {
    public var changes: [ChangedPath]
    /// Added lines with their file.
    public var addedLines: [(path: String, line: String)]
    /// The git mode of a path in the best tree (to find symlinks a path would go through).
    public var baseMode: (String) -> UInt32?
    /// The size in bytes of a file in the candidate tree.
    public var candidateSize: (String) -> Int?
    /// The bytes of a file in the best tree, or `nil` when it is not there.
    public var baseContent: (String) -> [UInt8]?
    /// The bytes of a file in the candidate tree, or `nil` when it is not there (or not
    /// applied yet).
    public var candidateContent: (String) -> [UInt8]?

    public init(
        changes: [ChangedPath], addedLines: [(path: String, line: String)] = [],
        baseMode: @escaping (String) -> UInt32? = { _ in nil }, candidateSize: @escaping (String) -> Int? = { _ in nil },
        baseContent: @escaping (String) -> [UInt8]? = { _ in nil }, candidateContent: @escaping (String) -> [UInt8]? = { _ in nil }
    ) {
        self.changes = changes
        self.addedLines = addedLines
        self.baseMode = baseMode
        self.candidateSize = candidateSize
        self.baseContent = baseContent
        self.candidateContent = candidateContent
    }
}

/// One rule a candidate broke, naming the file and the rule.
public struct GateViolation: Sendable, Equatable, Codable, CustomStringConvertible {
    public var rule: String
    public var path: String
    public var detail: String
    public var description: String { "\(path): \(rule): \(detail)" }
}

/// Automated checks on every candidate diff, before anything runs: scope, protected paths,
/// unsafe paths (escapes, invisible or look-alike characters, case tricks on protected
/// names), symlinks created or gone through, submodules, new exec bits, binary content,
/// size limits, secrets and user deny patterns on added lines.
public struct Gate: Sendable {
    public var scope: [Glob]
    public var protected: [Glob]
    public var limits: GateSpec
    private let deny: [(pattern: String, regex: NSRegularExpression)]

    /// Secret shapes refused on added lines.
    static let secretPatterns: [(name: String, regex: NSRegularExpression)] = [
        ("private key", #"-----BEGIN [A-Z ]*PRIVATE KEY-----"#),
        ("AWS access key", #"\b(AKIA|ASIA)[0-9A-Z]{16}\b"#),
        ("GitHub token", #"\bgh[pousr]_[A-Za-z0-9]{36,}\b"#),
        ("Anthropic API key", #"\bsk-ant-[A-Za-z0-9_\-]{20,}"#),
        ("OpenAI API key", #"\bsk-(proj-)?[A-Za-z0-9_\-]{20,}"#),
        ("Slack token", #"\bxox[abprs]-[A-Za-z0-9\-]{10,}"#),
        ("Google API key", #"\bAIza[0-9A-Za-z_\-]{35}\b"#),
        ("credential assignment", #"(?i)\b(api[_-]?key|secret|token|passw(or)?d)\b\s*[:=]\s*["'][^"'\s]{12,}["']"#),
    ].compactMap { name, pattern in (try? NSRegularExpression(pattern: pattern)).map { (name, $0) } }

    public init(scope: [String], protected: [String], limits: GateSpec = GateSpec()) {
        self.scope = scope.map(Glob.init)
        // Protected names are compared case-insensitively: `RATCHET.TOML` or `Tests/` must not
        // slip past on a case-insensitive file system.
        self.protected = protected.map { Glob($0.lowercased()) }
        self.limits = limits
        self.deny = limits.deny.compactMap { pattern in (try? NSRegularExpression(pattern: pattern)).map { (pattern, $0) } }
    }

    /// Every violation in `changes` (empty when the candidate may proceed).
    public func check(_ changes: [ChangedPath]) -> [GateViolation] {
        check(GateInput(changes: changes))
    }

    public func check(_ input: GateInput) -> [GateViolation] {
        var violations: [GateViolation] = []
        if input.changes.count > limits.maxFiles {
            violations.append(GateViolation(rule: "size", path: "*", detail: "touches \(input.changes.count) files; the limit is \(limits.maxFiles)"))
        }
        if input.addedLines.count > limits.maxAddedLines {
            violations.append(
                GateViolation(rule: "size", path: "*", detail: "adds \(input.addedLines.count) lines; the limit is \(limits.maxAddedLines)"))
        }
        for change in input.changes {
            for path in Set([change.path, change.oldPath]) {
                if let problem = Self.unsafePath(path) {
                    violations.append(GateViolation(rule: "path", path: path, detail: problem))
                    continue
                }
                if let link = Self.symlinkPrefix(of: path, baseMode: input.baseMode) {
                    violations.append(GateViolation(rule: "symlink", path: path, detail: "goes through the symlink '\(link)'"))
                }
                if let rule = protected.first(where: { $0.matches(path.lowercased()) }) {
                    violations.append(GateViolation(rule: "protected", path: path, detail: "matches protected path '\(rule.pattern)'"))
                } else if !scope.contains(where: { $0.matches(path) }) {
                    violations.append(
                        GateViolation(rule: "scope", path: path, detail: "outside the scope (\(scope.map(\.pattern).joined(separator: ", ")))"))
                }
            }
            if change.newMode == 0o120000 {
                violations.append(GateViolation(rule: "symlink", path: change.path, detail: "candidates may not create symlinks"))
            }
            if change.newMode == 0o160000 || change.oldMode == 0o160000 {
                violations.append(GateViolation(rule: "submodule", path: change.path, detail: "candidates may not change submodules"))
            }
            if change.newMode & 0o111 != 0 && change.newMode != 0o120000 && change.newMode != 0o160000 && change.oldMode & 0o111 == 0 {
                violations.append(GateViolation(rule: "mode", path: change.path, detail: "candidates may not make files executable"))
            }
            if change.newMode & 0o6000 != 0 {
                violations.append(GateViolation(rule: "mode", path: change.path, detail: "setuid/setgid bits are not allowed"))
            }
            if change.isBinary {
                violations.append(GateViolation(rule: "binary", path: change.path, detail: "binary content is not allowed"))
            }
            if change.newMode != 0, let size = input.candidateSize(change.path), size > limits.maxFileBytes {
                violations.append(
                    GateViolation(rule: "size", path: change.path, detail: "file is \(size) bytes; the limit is \(limits.maxFileBytes)"))
            }
        }
        violations += binaryContent(input)
        for (path, line) in input.addedLines {
            let range = NSRange(line.startIndex..., in: line)
            if let secret = Self.secretPatterns.first(where: { $0.regex.firstMatch(in: line, range: range) != nil }) {
                violations.append(GateViolation(rule: "secret", path: path, detail: "an added line looks like a \(secret.name)"))
            }
            if let rule = deny.first(where: { $0.regex.firstMatch(in: line, range: range) != nil }) {
                violations.append(GateViolation(rule: "deny", path: path, detail: "an added line matches the deny pattern '\(rule.pattern)'"))
            }
        }
        var seen = Set<String>()
        return violations.filter { seen.insert($0.description).inserted }
    }

    /// Binary content a text diff hides: an added line with a NUL or another control
    /// character (the first such line of each file is named), and a file that is text in the
    /// best tree (or new) but would hold such bytes in the candidate tree. Files libgit2
    /// already flags as binary, and files that already hold such bytes in the best tree, are
    /// left to the `isBinary` rule.
    func binaryContent(_ input: GateInput) -> [GateViolation] {
        var violations: [GateViolation] = []
        var flagged = Set(input.changes.filter(\.isBinary).map(\.path))
        var index: [String: Int] = [:]
        var first: [String: (index: Int, scalar: Unicode.Scalar)] = [:]
        var more: [String: Int] = [:]
        var order: [String] = []
        for (path, line) in input.addedLines {
            index[path, default: 0] += 1
            guard let scalar = line.unicodeScalars.first(where: { Self.isBinaryControl($0.value) }) else { continue }
            if first[path] == nil {
                first[path] = (index[path] ?? 0, scalar)
                order.append(path)
            } else {
                more[path, default: 0] += 1
            }
        }
        for path in order where !flagged.contains(path) {
            guard let (line, scalar) = first[path] else { continue }
            let others = more[path].map { " (and \($0) more added line\($0 == 1 ? "" : "s"))" } ?? ""
            violations.append(
                GateViolation(
                    rule: "binary", path: path,
                    detail: "added line \(line) has a control character \(Self.name(scalar.value))\(others): binary content is not allowed"))
            flagged.insert(path)
        }
        // A parsed diff without `index` or mode lines leaves the modes 0: the trees decide
        // whether a file is there; only symlinks and submodules (their own rules) are skipped.
        let special: Set<UInt32> = [0o120000, 0o160000]
        for change in input.changes where !flagged.contains(change.path) && !special.contains(change.newMode) {
            guard let new = input.candidateContent(change.path), let (line, byte) = Self.firstBinaryControl(in: new) else { continue }
            let base = special.contains(change.oldMode) ? nil : input.baseContent(change.oldPath)
            if let base, Self.firstBinaryControl(in: base) != nil { continue }
            let what = base == nil ? "new file would be binary" : "text file would become binary"
            violations.append(
                GateViolation(rule: "binary", path: change.path, detail: "\(what): line \(line) has a control character \(Self.name(UInt32(byte)))"))
            flagged.insert(change.path)
        }
        return violations
    }

    /// A control character that text does not hold: below U+0020 or U+007F, except tab,
    /// line feed, form feed and carriage return.
    static func isBinaryControl(_ value: UInt32) -> Bool {
        (value < 0x20 && ![0x09, 0x0A, 0x0C, 0x0D].contains(value)) || value == 0x7F
    }

    /// The 1-based line and the byte of the first binary control character in `bytes`.
    static func firstBinaryControl(in bytes: [UInt8]) -> (line: Int, byte: UInt8)? {
        var line = 1
        for byte in bytes {
            if byte == 0x0A {
                line += 1
            } else if isBinaryControl(UInt32(byte)) {
                return (line, byte)
            }
        }
        return nil
    }

    static func name(_ value: UInt32) -> String {
        let names: [UInt32: String] = [0x00: "NUL", 0x07: "BEL", 0x08: "BS", 0x0B: "VT", 0x1B: "ESC", 0x7F: "DEL"]
        return String(format: "U+%04X", value) + (names[value].map { " (\($0))" } ?? "")
    }

    /// Why a path is unsafe, or `nil`: absolute, `.`/`..`/empty components (also after
    /// Unicode compatibility folding, so full-width dots count), control, invisible or
    /// direction-changing characters, backslashes.
    static func unsafePath(_ path: String) -> String? {
        if path.isEmpty { return "empty path" }
        if path.hasPrefix("/") { return "absolute paths are not allowed" }
        if path.contains("\\") { return "backslashes are not allowed in paths" }
        for scalar in path.unicodeScalars {
            if scalar.value < 0x20 || scalar.value == 0x7f { return "control characters in path" }
            if scalar.properties.generalCategory == .format || scalar.properties.isNoncharacterCodePoint
                || [0x200B, 0x2060, 0xFEFF, 0x00AD, 0x034F].contains(scalar.value)
            {
                return String(format: "invisible or direction-changing character U+%04X in path", scalar.value)
            }
        }
        let folded = path.precomposedStringWithCompatibilityMapping
        for candidate in Set([path, folded]) {
            if candidate.split(separator: "/", omittingEmptySubsequences: false).contains(where: { $0 == ".." || $0 == "." || $0.isEmpty }) {
                return candidate == path ? "path has '..', '.' or empty components" : "path folds to '..' or '.' components (Unicode look-alikes)"
            }
        }
        if folded != path { return "path uses Unicode compatibility characters that fold to '\(folded)'" }
        return nil
    }

    /// The first proper prefix of `path` that is a symlink in the base tree.
    static func symlinkPrefix(of path: String, baseMode: (String) -> UInt32?) -> String? {
        var prefix = ""
        for component in path.split(separator: "/").dropLast() {
            prefix += (prefix.isEmpty ? "" : "/") + component
            if baseMode(prefix) == 0o120000 { return prefix }
        }
        return nil
    }
}
