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
