import Core
import Foundation
import Testing

/// A loop config whose `[proposer]` section is `proposer`.
func configWithProposer(_ proposer: String) -> String {
    """
    [loop]
    name = "models"
    scope = ["src/**"]

    [commands.bench]
    run = "./bench"

    \(proposer)
    """
}

@Suite struct ProposerConfigTests {
    @Test func parsesEveryModelKey() throws {
        let text = configWithProposer(
            """
            [proposer]
            kind = ["openai", "anthropic", "command"]

            [proposer.openai]
            base_url = "http://127.0.0.1:8080/v1/"
            model = "qwen2.5-coder"
            api_key_env = "LOCAL_LLM_KEY"
            temperature = 0.3
            max_output_tokens = 8000
            timeout = "90s"
            price_input_per_mtok = 0.5
            price_output_per_mtok = 1.5
            context_bytes = "64KB"
            history = 4
            guidance = "GUIDANCE.md"
            max_retries = 5

            [proposer.anthropic]
            model = "claude-sonnet-4-5"

            [proposer.command]
            run = "claude -p \\"$(cat $RATCHET_PROMPT_FILE)\\""
            prompt_via = "stdin"
            timeout = "20m"
            pass_env = ["ANTHROPIC_API_KEY"]
            context_bytes = 20000
            """)
        let config = try LoopConfig.parse(text, file: "/w/ratchet.toml", directory: "/w")
        #expect(config.proposers.map(\.kind) == ["openai", "anthropic", "command"])
        #expect(
            config.proposers[0]
                == .openai(
                    ModelSpec(
                        baseURL: "http://127.0.0.1:8080/v1", model: "qwen2.5-coder", apiKeyEnv: "LOCAL_LLM_KEY", temperature: 0.3,
                        maxOutputTokens: 8000, timeout: 90, priceInputPerMTok: 0.5, priceOutputPerMTok: 1.5, maxRetries: 5,
                        prompt: PromptSpec(contextBytes: 64_000, history: 4, guidance: "/w/GUIDANCE.md"))))
        // Defaults.
        #expect(
            config.proposers[1]
                == .anthropic(ModelSpec(baseURL: "https://api.anthropic.com", model: "claude-sonnet-4-5", apiKeyEnv: "ANTHROPIC_API_KEY")))
        #expect(
            config.proposers[2]
                == .command(
                    AgentCommandSpec(
                        run: "claude -p \"$(cat $RATCHET_PROMPT_FILE)\"", promptVia: .stdin, timeout: 1200, passEnvironment: ["ANTHROPIC_API_KEY"],
                        prompt: PromptSpec(contextBytes: 20_000))))
    }

    @Test func openAIDefaultsAndAnEmptyKeyNameForLocalServers() throws {
        let text = configWithProposer("[proposer]\nkind = \"openai\"\n[proposer.openai]\nmodel = \"gpt-4.1\"\n")
        let config = try LoopConfig.parse(text, file: "r.toml", directory: "/w")
        #expect(config.proposers == [.openai(ModelSpec(baseURL: "https://api.openai.com/v1", model: "gpt-4.1", apiKeyEnv: "OPENAI_API_KEY"))])
        let local = configWithProposer(
            "[proposer]\nkind = \"openai\"\n[proposer.openai]\nmodel = \"m\"\napi_key_env = \"\"\nbase_url = \"http://localhost:11434/v1\"\n")
        guard case .openai(let spec) = try LoopConfig.parse(local, file: "r.toml", directory: "/w").proposers.first else {
            Issue.record("not an openai proposer")
            return
        }
        #expect(spec.apiKeyEnv == nil)
        #expect(spec.baseURL == "http://localhost:11434/v1")
    }

    @Test func unknownKeysAndWrongTypesAreReportedWithTheirLine() throws {
        let text = configWithProposer(
            """
            [proposer]
            kind = ["openai", "command"]
            [proposer.openai]
            model = "m"
            api_key = "sk-abc"
            temperature = "hot"
            max_output_tokens = 0
            timeout = "soon"
            history = 1.5
            [proposer.command]
            run = "agent"
            prompt_via = "pipe"
            pass_env = ["OK_NAME", "not a name"]
            """)
        let error = try #require(throws: ConfigError.self) { try LoopConfig.parse(text, file: "r.toml", directory: "/w") }
        let byKey = Dictionary(error.problems.map { ($0.key, $0) }, uniquingKeysWith: { a, _ in a })
        let unknown = try #require(byKey["proposer.openai.api_key"])
        #expect(unknown.message.contains("unknown key"))
        #expect(unknown.message.contains("api_key_env"))
        #expect(unknown.line == 12)
        #expect(byKey["proposer.openai.temperature"]?.message.contains("must be a number") == true)
        #expect(byKey["proposer.openai.temperature"]?.line == 13)
        #expect(byKey["proposer.openai.max_output_tokens"] != nil)
        #expect(byKey["proposer.openai.timeout"] != nil)
        #expect(byKey["proposer.openai.history"]?.message.contains("must be an integer") == true)
        #expect(byKey["proposer.command.prompt_via"]?.message.contains("\"stdin\", \"file\" or \"env\"") == true)
        #expect(byKey["proposer.command.prompt_via"]?.line == 19)
        #expect(byKey["proposer.command.pass_env[1]"] != nil)
    }

    @Test func commandProposerContainmentKeys() throws {
        // The network stays on by default (agent CLIs call their APIs); nothing is exposed.
        let plain = configWithProposer("[proposer]\nkind = \"command\"\n[proposer.command]\nrun = \"agent\"\n")
        guard case .command(let defaults) = try LoopConfig.parse(plain, file: "r.toml", directory: "/w").proposers.first else {
            Issue.record("not a command proposer")
            return
        }
        #expect(defaults.network)
        #expect(defaults.readOnly.isEmpty)

        let text = configWithProposer(
            """
            [proposer]
            kind = "command"
            [proposer.command]
            run = "claude -p"
            network = false
            read_only = ["~/.local/share/claude", "~", "/opt/agent/", "tools/../bin"]
            """)
        guard case .command(let spec) = try LoopConfig.parse(text, file: "/w/r.toml", directory: "/w").proposers.first else {
            Issue.record("not a command proposer")
            return
        }
        #expect(!spec.network)
        // `~` is kept for the runner (the real home is known only there); the rest is made absolute.
        #expect(spec.readOnly == ["~/.local/share/claude", "~", "/opt/agent", "/w/bin"])

        let wrong = configWithProposer(
            """
            [proposer]
            kind = "command"
            [proposer.command]
            run = "agent"
            network = "off"
            read_only = ["~root/.ssh", "/", "", 3]
            netwrok = false
            """)
        let error = try #require(throws: ConfigError.self) { try LoopConfig.parse(wrong, file: "r.toml", directory: "/w") }
        let byKey = Dictionary(error.problems.map { ($0.key, $0) }, uniquingKeysWith: { a, _ in a })
        #expect(byKey["proposer.command.network"]?.message.contains("must be true or false") == true)
        #expect(byKey["proposer.command.read_only[0]"]?.message.contains("only your own home") == true)
        #expect(byKey["proposer.command.read_only[1]"]?.message.contains("'/'") == true)
        #expect(byKey["proposer.command.read_only[2]"]?.message.contains("must not be empty") == true)
        #expect(byKey["proposer.command.read_only[3]"]?.message.contains("must be a string") == true)
        let unknown = try #require(byKey["proposer.command.netwrok"])
        #expect(unknown.message.contains("unknown key"))
        #expect(unknown.line == 14)
    }

    @Test func aKeyInPlaceOfItsVariableNameIsRefused() throws {
        let text = configWithProposer(
            "[proposer]\nkind = \"anthropic\"\n[proposer.anthropic]\nmodel = \"m\"\napi_key_env = \"sk-ant-api03-abcdef\"\n")
        let error = try #require(throws: ConfigError.self) { try LoopConfig.parse(text, file: "r.toml", directory: "/w") }
        let problem = try #require(error.problems.first { $0.key == "proposer.anthropic.api_key_env" })
        #expect(problem.message.contains("not hold the key itself"))
        // The message must not repeat the key.
        #expect(!error.description.contains("sk-ant-api03-abcdef"))
    }

    @Test func missingTablesAndRequiredKeys() throws {
        let text = configWithProposer(
            "[proposer]\nkind = [\"openai\", \"command\", \"anthropic\"]\n[proposer.command]\nprompt_via = \"env\"\n[proposer.anthropic]\nbase_url = \"ftp://x\"\nmodel = \"m\"\n"
        )
        let error = try #require(throws: ConfigError.self) { try LoopConfig.parse(text, file: "r.toml", directory: "/w") }
        let keys = Set(error.problems.map(\.key))
        #expect(keys.contains("proposer.openai"))
        #expect(keys.contains("proposer.command.run"))
        #expect(keys.contains("proposer.anthropic.base_url"))
        #expect(error.problems.first { $0.key == "proposer.kind" } == nil)
    }
}
