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

/// One rule a candidate broke, naming the file and the rule.
public struct GateViolation: Sendable, Equatable, Codable, CustomStringConvertible {
    public var rule: String
    public var path: String
    public var detail: String
    public var description: String { "\(path): \(rule): \(detail)" }
}

/// Automated checks on every candidate diff, before anything runs.
public struct Gate: Sendable {
    public var scope: [Glob]
    public var protected: [Glob]

    public init(scope: [String], protected: [String]) {
        self.scope = scope.map(Glob.init)
        self.protected = protected.map(Glob.init)
    }

    /// Every violation in `changes` (empty when the candidate may proceed).
    public func check(_ changes: [ChangedPath]) -> [GateViolation] {
        var violations: [GateViolation] = []
        for change in changes {
            for path in Set([change.path, change.oldPath]) {
                if let problem = Self.unsafePath(path) {
                    violations.append(GateViolation(rule: "path", path: path, detail: problem))
                    continue
                }
                if let rule = protected.first(where: { $0.matches(path) }) {
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
            if change.newMode == 0o100755 && change.oldMode != 0o100755 {
                violations.append(GateViolation(rule: "mode", path: change.path, detail: "candidates may not make files executable"))
            }
            if change.isBinary {
                violations.append(GateViolation(rule: "binary", path: change.path, detail: "binary content is not allowed"))
            }
        }
        return violations
    }

    /// Why a path is unsafe (absolute, `..`, control characters), or `nil`.
    static func unsafePath(_ path: String) -> String? {
        if path.isEmpty { return "empty path" }
        if path.hasPrefix("/") { return "absolute paths are not allowed" }
        if path.split(separator: "/", omittingEmptySubsequences: false).contains(where: { $0 == ".." || $0 == "." || $0.isEmpty }) {
            return "path has '..', '.' or empty components"
        }
        if path.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7f }) { return "control characters in path" }
        return nil
    }
}
