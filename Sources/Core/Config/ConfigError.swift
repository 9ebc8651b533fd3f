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
