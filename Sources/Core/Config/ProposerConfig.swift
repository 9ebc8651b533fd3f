import TOMLKit

// The settings of the model-backed proposers (`openai`, `anthropic`, `command`) and their
// parsing from `[proposer.openai]`, `[proposer.anthropic]` and `[proposer.command]`.

/// What goes into a model's prompt, shared by every model-backed proposer.
public struct PromptSpec: Sendable, Equatable, Codable {
    /// Bytes of repository context (file contents and the best change) a prompt may carry.
    public var contextBytes: Int
    /// How many recent attempts the prompt describes.
    public var history: Int
    /// Absolute path of a file a person may edit while the loop runs; read before every
    /// proposal, and quoted in the prompt when it exists.
    public var guidance: String?

    public static let defaultContextBytes = 100_000
    public static let defaultHistory = 10

    public init(contextBytes: Int = PromptSpec.defaultContextBytes, history: Int = PromptSpec.defaultHistory, guidance: String? = nil) {
        self.contextBytes = contextBytes
        self.history = history
        self.guidance = guidance
    }
}

/// `[proposer.openai]` or `[proposer.anthropic]`: a chat model behind an HTTP API.
public struct ModelSpec: Sendable, Equatable, Codable {
    /// The API root: `https://api.openai.com/v1` (requests go to `{base_url}/chat/completions`)
    /// or `https://api.anthropic.com` (requests go to `{base_url}/v1/messages`).
    public var baseURL: String
    public var model: String
    /// The name of the environment variable holding the API key (never the key itself);
    /// `nil` sends no key (a local server).
    public var apiKeyEnv: String?
    /// Sampling temperature; `nil` leaves the server's default.
    public var temperature: Double?
    public var maxOutputTokens: Int
    /// Seconds one request may take before it is abandoned.
    public var timeout: Double
    /// Price per million input and output tokens, for `Usage.cost`.
    public var priceInputPerMTok: Double
    public var priceOutputPerMTok: Double
    /// Retries of a request answered 429 or 5xx, or that could not connect.
    public var maxRetries: Int
    public var prompt: PromptSpec

    public static let defaultOpenAIBaseURL = "https://api.openai.com/v1"
    public static let defaultAnthropicBaseURL = "https://api.anthropic.com"

    public init(
        baseURL: String, model: String, apiKeyEnv: String?, temperature: Double? = nil, maxOutputTokens: Int = 4096,
        timeout: Double = 300, priceInputPerMTok: Double = 0, priceOutputPerMTok: Double = 0, maxRetries: Int = 3,
        prompt: PromptSpec = PromptSpec()
    ) {
        self.baseURL = baseURL
        self.model = model
        self.apiKeyEnv = apiKeyEnv
        self.temperature = temperature
        self.maxOutputTokens = maxOutputTokens
        self.timeout = timeout
        self.priceInputPerMTok = priceInputPerMTok
        self.priceOutputPerMTok = priceOutputPerMTok
        self.maxRetries = maxRetries
        self.prompt = prompt
    }
}

/// How the `command` proposer hands the prompt to its program.
public enum PromptDelivery: String, Sendable, Equatable, Codable, CaseIterable {
    /// On standard input.
    case stdin
    /// In a file whose path is in `RATCHET_PROMPT_FILE` (always set, whatever the delivery).
    case file
    /// In the environment variable `RATCHET_PROMPT`.
    case env
}

/// `[proposer.command]`: any program (a coding-agent CLI, a script) run in a scratch copy
/// of the best code; what it changes there is the proposal.
public struct AgentCommandSpec: Sendable, Equatable, Codable {
    /// A shell line, run with `/bin/sh -c` in the scratch folder.
    public var run: String
    public var promptVia: PromptDelivery
    /// Seconds before the program's whole process group is killed.
    public var timeout: Double
    /// Names of environment variables passed through from Ratchet's environment (API keys the
    /// program needs); the program otherwise gets only PATH, HOME, USER, TMPDIR and the locale.
    public var passEnvironment: [String]
    /// Prices for a `RATCHET_USAGE` line that reports tokens but no cost.
    public var priceInputPerMTok: Double
    public var priceOutputPerMTok: Double
    public var prompt: PromptSpec
    /// Whether the program keeps the network inside the sandbox (agent CLIs call their
    /// model's API); `network = false` cuts it off. Only bubblewrap can enforce `false`.
    public var network: Bool
    /// Folders (or files) the program may read but not write although they lie in a place
    /// hidden from it (the user's home): an agent CLI's installation, a login file to copy.
    /// Absolute or `~/…` (the user's home); relative paths are resolved against the config's folder.
    public var readOnly: [String]

    public init(
        run: String, promptVia: PromptDelivery = .file, timeout: Double = 1800, passEnvironment: [String] = [],
        priceInputPerMTok: Double = 0, priceOutputPerMTok: Double = 0, prompt: PromptSpec = PromptSpec(),
        network: Bool = true, readOnly: [String] = []
    ) {
        self.run = run
        self.promptVia = promptVia
        self.timeout = timeout
        self.passEnvironment = passEnvironment
        self.priceInputPerMTok = priceInputPerMTok
        self.priceOutputPerMTok = priceOutputPerMTok
        self.prompt = prompt
        self.network = network
        self.readOnly = readOnly
    }
}

extension ConfigReader {
    static let modelKeys = [
        "base_url", "model", "api_key_env", "temperature", "max_output_tokens", "timeout", "price_input_per_mtok",
        "price_output_per_mtok", "context_bytes", "history", "guidance", "max_retries",
    ]
    static let commandProposerKeys = [
        "run", "prompt_via", "timeout", "pass_env", "price_input_per_mtok", "price_output_per_mtok", "context_bytes", "history",
        "guidance", "network", "read_only",
    ]

    /// Whether `name` can be an environment variable's name.
    static func isEnvironmentName(_ name: String) -> Bool {
        guard let first = name.first, first == "_" || (first.isASCII && first.isLetter) else { return false }
        return name.allSatisfy { $0 == "_" || ($0.isASCII && ($0.isLetter || $0.isNumber)) }
    }

    /// `[proposer.openai]` or `[proposer.anthropic]`.
    mutating func modelSpec(_ proposer: TOMLTable, kind: String, directory: String) -> ModelSpec? {
        let path = "proposer.\(kind)"
        guard let table = table(proposer, kind, at: "proposer", required: true) else { return nil }
        checkKeys(table, at: path, allowed: Self.modelKeys)
        let defaultURL = kind == "anthropic" ? ModelSpec.defaultAnthropicBaseURL : ModelSpec.defaultOpenAIBaseURL
        var baseURL = string(table, "base_url", at: path, required: false) ?? defaultURL
        if !(baseURL.hasPrefix("http://") || baseURL.hasPrefix("https://")) || baseURL.count < 10 {
            problem("\(path).base_url", "'\(baseURL)' is not an http:// or https:// URL")
        }
        while baseURL.hasSuffix("/") { baseURL.removeLast() }
        let model = string(table, "model", at: path, required: true)
        if let model, model.allSatisfy(\.isWhitespace) { problem("\(path).model", "must not be empty") }
        let defaultKey = kind == "anthropic" ? "ANTHROPIC_API_KEY" : "OPENAI_API_KEY"
        var apiKeyEnv: String? = defaultKey
        if let name = string(table, "api_key_env", at: path, required: false) {
            if name.isEmpty {
                apiKeyEnv = nil
            } else if Self.isEnvironmentName(name) {
                apiKeyEnv = name
            } else {
                problem(
                    "\(path).api_key_env",
                    "must name the environment variable that holds the key (e.g. \"\(defaultKey)\"), not hold the key itself; \"\" sends no key"
                )
            }
        }
        var temperature: Double?
        if let value = number(table, "temperature", at: path) {
            if (0...2).contains(value) { temperature = value } else { problem("\(path).temperature", "must be between 0 and 2") }
        }
        let maxOutput = integer(table, "max_output_tokens", at: path, range: 1...1_000_000) ?? 4096
        let timeout = duration(table, "timeout", at: path) ?? 300
        let priceIn = price(table, "price_input_per_mtok", at: path)
        let priceOut = price(table, "price_output_per_mtok", at: path)
        let retries = integer(table, "max_retries", at: path, range: 0...10) ?? 3
        let prompt = promptSpec(table, at: path, directory: directory)
        guard let model, !model.allSatisfy(\.isWhitespace) else { return nil }
        return ModelSpec(
            baseURL: baseURL, model: model, apiKeyEnv: apiKeyEnv, temperature: temperature, maxOutputTokens: maxOutput,
            timeout: timeout, priceInputPerMTok: priceIn, priceOutputPerMTok: priceOut, maxRetries: retries, prompt: prompt
        )
    }

    /// `[proposer.command]`.
    mutating func agentCommandSpec(_ proposer: TOMLTable, directory: String) -> AgentCommandSpec? {
        let path = "proposer.command"
        guard let table = table(proposer, "command", at: "proposer", required: true) else { return nil }
        checkKeys(table, at: path, allowed: Self.commandProposerKeys)
        let run = string(table, "run", at: path, required: true)
        if let run, run.allSatisfy(\.isWhitespace) { problem("\(path).run", "must not be empty") }
        var delivery = PromptDelivery.file
        if let text = string(table, "prompt_via", at: path, required: false) {
            if let parsed = PromptDelivery(rawValue: text) {
                delivery = parsed
            } else {
                problem("\(path).prompt_via", "'\(text)' is not allowed; use \"stdin\", \"file\" or \"env\"")
            }
        }
        let timeout = duration(table, "timeout", at: path) ?? 1800
        var pass: [String] = []
        if let names = strings(table, "pass_env", at: path) {
            for (index, name) in names.enumerated() {
                if Self.isEnvironmentName(name) {
                    pass.append(name)
                } else {
                    problem("\(path).pass_env[\(index)]", "'\(name)' is not an environment variable name")
                }
            }
        }
        let priceIn = price(table, "price_input_per_mtok", at: path)
        let priceOut = price(table, "price_output_per_mtok", at: path)
        let prompt = promptSpec(table, at: path, directory: directory)
        let network = boolean(table, "network", at: path) ?? true
        var readOnly: [String] = []
        if let paths = strings(table, "read_only", at: path) {
            for (index, entry) in paths.enumerated() {
                if entry.isEmpty || entry == "~" || entry.hasPrefix("~/") {
                    // `~` is the user's real home, known only where the program is run.
                    if entry.isEmpty { problem("\(path).read_only[\(index)]", "must not be empty") } else { readOnly.append(entry) }
                } else if entry.hasPrefix("~") {
                    problem("\(path).read_only[\(index)]", "'\(entry)': only your own home (~/…) can be named with ~")
                } else if Paths.resolve(entry, from: directory) == "/" {
                    problem("\(path).read_only[\(index)]", "'/' would show the proposer everything it must not see; name the folders it needs")
                } else {
                    readOnly.append(Paths.resolve(entry, from: directory))
                }
            }
        }
        guard let run, !run.allSatisfy(\.isWhitespace) else { return nil }
        return AgentCommandSpec(
            run: run, promptVia: delivery, timeout: timeout, passEnvironment: pass,
            priceInputPerMTok: priceIn, priceOutputPerMTok: priceOut, prompt: prompt, network: network, readOnly: readOnly
        )
    }

    mutating func price(_ table: TOMLTable, _ key: String, at path: String) -> Double {
        guard let value = number(table, key, at: path) else { return 0 }
        guard value >= 0, value.isFinite else {
            problem("\(path).\(key)", "must be zero or more (a price per million tokens)")
            return 0
        }
        return value
    }

    mutating func promptSpec(_ table: TOMLTable, at path: String, directory: String) -> PromptSpec {
        var spec = PromptSpec()
        if table["context_bytes"] != nil, let size = bytes(table, "context_bytes", at: path) {
            if size < 1000 { problem("\(path).context_bytes", "must be at least 1000 bytes") } else { spec.contextBytes = size }
        }
        spec.history = integer(table, "history", at: path, range: 0...100) ?? PromptSpec.defaultHistory
        if let guidance = string(table, "guidance", at: path, required: false) {
            if guidance.isEmpty { problem("\(path).guidance", "must not be empty") } else { spec.guidance = Paths.resolve(guidance, from: directory) }
        }
        return spec
    }
}
