import Adapters
import Core
import Foundation
import Git
import TestSupport
import Testing

@Suite struct ModelProposerTests {
    static let key = "sk-test-0123456789abcdefghijKLMNOP"

    /// The timeout is generous unless a test is about it: under the whole suite on 2 cores, a
    /// 5 s limit once ran out before a local reply cut off on purpose was read.
    func proposer(
        _ api: ModelProposer.API, _ server: ModelServer, retries: Int = 2, timeout: Double = 60, keyEnv: String? = "TEST_MODEL_KEY",
        guidance: String? = nil, environment: [String: String]? = nil
    ) -> ModelProposer {
        let spec = ModelSpec(
            baseURL: server.baseURL + (api == .openAI ? "/v1" : ""), model: api == .openAI ? "gpt-test" : "claude-test", apiKeyEnv: keyEnv,
            temperature: 0.2, maxOutputTokens: 2048, timeout: timeout, priceInputPerMTok: 3, priceOutputPerMTok: 15, maxRetries: retries,
            prompt: PromptSpec(contextBytes: 40_000, history: 5, guidance: guidance))
        return ModelProposer(api: api, spec: spec, environment: environment ?? ["TEST_MODEL_KEY": Self.key], retryBaseDelay: 0.05)
    }

    func goodReply(_ fixture: AdapterFixture) throws -> String {
        "Title: closed form for sum\n\nThe loop is linear; the formula is constant time.\n\n```diff\n\(try fixture.goodDiff())```\n\nDone."
    }

    @Test func openAIProposesTheDiffWithUsageCostAndARedactedTranscript() async throws {
        // A key-like string in a file in scope reaches the prompt; the transcript must not keep it.
        let fixture = try AdapterFixture(extraFiles: ["src/config.c": "const char *token = \"sk-live-ABCDEFGHIJKLMNOPQRSTUVWX\";\n"])
        defer { fixture.remove() }
        let reply = try goodReply(fixture)
        try await ModelServer.with([.openAI(reply + "\nkey echoed: \(Self.key)", promptTokens: 1000, completionTokens: 200)]) { server in
            let proposal = try #require(try await proposer(.openAI, server).propose(fixture.context(), repository: fixture.repository, scratch: nil))
            #expect(proposal.title == "closed form for sum")
            #expect(proposal.source.hasPrefix("openai:"))
            #expect(try fixture.apply(proposal.diff) == AdapterFixture.fasterSum)
            #expect(proposal.usage == Usage(inputTokens: 1000, outputTokens: 200, cost: (1000 * 3 + 200 * 15) / 1e6))

            let request = try #require(server.requests.first)
            #expect(server.requests.count == 1)
            #expect(request.method == "POST")
            #expect(request.uri == "/v1/chat/completions")
            #expect(request.headers["authorization"] == "Bearer \(Self.key)")
            let json = try #require(request.json)
            #expect(json["model"] as? String == "gpt-test")
            #expect(json["max_tokens"] as? Int == 2048)
            #expect(json["temperature"] as? Double == 0.2)
            let messages = try #require(json["messages"] as? [[String: Any]])
            #expect(messages.map { $0["role"] as? String } == ["system", "user"])
            #expect(request.promptText.contains("Benchmark command: `./bench.sh`"))
            #expect(request.promptText.contains("### src/sum.c"))

            let transcript = try #require(proposal.transcript)
            #expect(transcript.prompt.contains("### src/sum.c"))
            #expect(!transcript.prompt.contains("sk-live-ABCDEFGHIJKLMNOPQRSTUVWX"))
            #expect(transcript.prompt.contains("const char *token = \"[REDACTED]\""))
            #expect(!transcript.response.contains(Self.key))
            #expect(transcript.response.contains("key echoed: [REDACTED]"))
        }
    }

    @Test func anthropicSendsItsHeadersAndSystemPrompt() async throws {
        let fixture = try AdapterFixture()
        defer { fixture.remove() }
        try await ModelServer.with([.anthropic(try goodReply(fixture), inputTokens: 900, outputTokens: 100)]) { server in
            let proposal = try #require(
                try await proposer(.anthropic, server).propose(fixture.context(), repository: fixture.repository, scratch: nil))
            #expect(proposal.source.hasPrefix("anthropic:"))
            #expect(try fixture.apply(proposal.diff) == AdapterFixture.fasterSum)
            #expect(proposal.usage == Usage(inputTokens: 900, outputTokens: 100, cost: (900 * 3 + 100 * 15) / 1e6))
            let request = try #require(server.requests.first)
            #expect(request.uri == "/v1/messages")
            #expect(request.headers["x-api-key"] == Self.key)
            #expect(request.headers["anthropic-version"] == "2023-06-01")
            #expect(request.headers["authorization"] == nil)
            let json = try #require(request.json)
            #expect(json["model"] as? String == "claude-test")
            #expect(json["max_tokens"] as? Int == 2048)
            #expect((json["system"] as? String)?.contains("wall_time") == true)
            let messages = try #require(json["messages"] as? [[String: Any]])
            #expect(messages.count == 1)
            #expect(messages.first?["role"] as? String == "user")
        }
    }

    @Test func aBadDiffOrProseIsRejectedWithUsageAndTranscript() async throws {
        let fixture = try AdapterFixture()
        defer { fixture.remove() }
        let bad = "Title: broken\n```diff\ndiff --git a/src/sum.c b/src/sum.c\n--- a/src/sum.c\n+++ b/src/sum.c\n@@ -x +y @@\n-foo\n+bar\n```"
        let prose = "I think you should parallelise the loop, but I cannot write the diff without more context."
        try await ModelServer.with([.openAI(bad), .anthropic(prose, inputTokens: 500, outputTokens: 40), .openAI("   ")]) { server in
            let badError = try await #require(throws: ProposerError.self) {
                try await proposer(.openAI, server).propose(fixture.context(), repository: fixture.repository, scratch: nil)
            }
            #expect(badError.message.contains("not usable"))
            #expect(badError.message.contains(server.baseURL))
            #expect(badError.source?.hasPrefix("openai:failed:") == true)
            #expect(badError.usage?.inputTokens == 1200)
            #expect(badError.transcript?.response.contains("Title: broken") == true)

            let proseError = try await #require(throws: ProposerError.self) {
                try await proposer(.anthropic, server).propose(fixture.context(), repository: fixture.repository, scratch: nil)
            }
            #expect(proseError.message.contains("holds no unified diff"))
            #expect(proseError.usage == Usage(inputTokens: 500, outputTokens: 40, cost: (500 * 3 + 40 * 15) / 1e6))

            let emptyError = try await #require(throws: ProposerError.self) {
                try await proposer(.openAI, server).propose(fixture.context(), repository: fixture.repository, scratch: nil)
            }
            #expect(emptyError.message.contains("empty reply"))
        }
    }

    @Test func a429IsRetriedAfterRetryAfter() async throws {
        let fixture = try AdapterFixture()
        defer { fixture.remove() }
        let limited = ScriptedReply(status: 429, headers: ["retry-after": "1"], body: #"{"error":{"message":"rate limited"}}"#)
        try await ModelServer.with([limited, .openAI(try goodReply(fixture))]) { server in
            let start = ContinuousClock.now
            let proposal = try await proposer(.openAI, server).propose(fixture.context(), repository: fixture.repository, scratch: nil)
            let elapsed = (ContinuousClock.now - start).inSeconds
            #expect(proposal != nil)
            #expect(server.requests.count == 2)
            #expect(elapsed >= 1.0)
            // A bound only against a hang: once, under the full suite on 2 cores, this took 12 s.
            #expect(elapsed < 30.0)
        }
    }

    @Test func a500IsRetriedThenSucceedsAndRetriesRunOut() async throws {
        let fixture = try AdapterFixture()
        defer { fixture.remove() }
        let failing = ScriptedReply(status: 500, body: #"{"error":{"type":"server_error","message":"upstream exploded"}}"#)
        try await ModelServer.with([failing, .anthropic(try goodReply(fixture)), failing, failing]) { server in
            let proposal = try await proposer(.anthropic, server).propose(fixture.context(), repository: fixture.repository, scratch: nil)
            #expect(proposal != nil)
            #expect(server.requests.count == 2)

            let error = try await #require(throws: ProposerError.self) {
                try await proposer(.anthropic, server, retries: 1).propose(fixture.context(), repository: fixture.repository, scratch: nil)
            }
            #expect(server.requests.count == 4)
            #expect(error.message.contains("anthropic endpoint \(server.baseURL)/v1/messages: HTTP 500 after 2 attempts"))
            #expect(error.message.contains("server_error: upstream exploded"))
            #expect(error.source != nil)
        }
    }

    @Test func otherClientErrorsAreNotRetried() async throws {
        let fixture = try AdapterFixture()
        defer { fixture.remove() }
        let denied = ScriptedReply(status: 401, body: #"{"error":{"message":"invalid api key sk-test-0123456789abcdefghijKLMNOP"}}"#)
        try await ModelServer.with([denied, .openAI("unused")]) { server in
            let error = try await #require(throws: ProposerError.self) {
                try await proposer(.openAI, server).propose(fixture.context(), repository: fixture.repository, scratch: nil)
            }
            #expect(server.requests.count == 1)
            #expect(error.message.contains("HTTP 401: invalid api key [REDACTED]"))
            // The loop cannot get past a wrong key: no source, so the runner moves on.
            #expect(error.source == nil)
        }
    }

    @Test func aSlowReplyTimesOut() async throws {
        let fixture = try AdapterFixture()
        defer { fixture.remove() }
        var slow = ScriptedReply.openAI(try goodReply(fixture))
        slow.delay = 10
        try await ModelServer.with([slow]) { server in
            let start = ContinuousClock.now
            let error = try await #require(throws: ProposerError.self) {
                try await proposer(.openAI, server, timeout: 0.4).propose(fixture.context(), repository: fixture.repository, scratch: nil)
            }
            let elapsed = (ContinuousClock.now - start).inSeconds
            #expect(error.message.contains("no complete reply within the timeout of 0.4 s"))
            // Below the server's 10 s delay (the message above already shows the timeout fired;
            // once, under the full suite on 2 cores, this took 5.7 s).
            #expect(elapsed < 9)
            #expect(server.requests.count == 1)
        }
    }

    @Test func truncatedMalformedAndEmptyResponsesAreReported() async throws {
        let fixture = try AdapterFixture()
        defer { fixture.remove() }
        let cut = ScriptedReply(body: #"{"choices":[{"message":{"content":"Title: x"#, truncate: true)
        let malformed = ScriptedReply(body: #"{"choices":[{"message":{"content":"Title: x"#)
        let noChoices = ScriptedReply(body: #"{"choices":[],"usage":{"prompt_tokens":10,"completion_tokens":0}}"#)
        let noContent = ScriptedReply(body: #"{"type":"error","error":{"type":"overloaded_error"}}"#)
        try await ModelServer.with([cut, malformed, noChoices, noContent]) { server in
            let context = fixture.context()
            let cutError = try await #require(throws: ProposerError.self) {
                try await proposer(.openAI, server, retries: 0).propose(context, repository: fixture.repository, scratch: nil)
            }
            #expect(cutError.message.contains("cut off"))
            let malformedError = try await #require(throws: ProposerError.self) {
                try await proposer(.openAI, server, retries: 0).propose(context, repository: fixture.repository, scratch: nil)
            }
            #expect(malformedError.message.contains("not valid Chat Completions JSON"))
            #expect(malformedError.message.contains(#"{"choices":[{"message""#))
            let emptyError = try await #require(throws: ProposerError.self) {
                try await proposer(.openAI, server, retries: 0).propose(context, repository: fixture.repository, scratch: nil)
            }
            #expect(emptyError.message.contains("has no choices"))
            let anthropicError = try await #require(throws: ProposerError.self) {
                try await proposer(.anthropic, server, retries: 0).propose(context, repository: fixture.repository, scratch: nil)
            }
            #expect(anthropicError.message.contains("has no content"))
            for error in [cutError, malformedError, emptyError, anthropicError] {
                #expect(error.source?.contains(":failed:") == true)
            }
        }
    }

    @Test func connectionRefusedAndAMissingKeyAreClearErrors() async throws {
        let fixture = try AdapterFixture()
        defer { fixture.remove() }
        // Port 1 (tcpmux): below the ephemeral range, so no test's server can take it, as a
        // just-closed ephemeral port could be by another test's server running meanwhile.
        let closedPort = 1
        let spec = ModelSpec(baseURL: "http://127.0.0.1:\(closedPort)", model: "m", apiKeyEnv: nil, timeout: 5, maxRetries: 1)
        let refused = try await #require(throws: ProposerError.self) {
            try await ModelProposer(api: .openAI, spec: spec, retryBaseDelay: 0.05).propose(
                fixture.context(), repository: fixture.repository, scratch: nil)
        }
        #expect(refused.message.contains("openai endpoint http://127.0.0.1:\(closedPort)/chat/completions: cannot connect (2 attempts)"))
        #expect(refused.source == nil)

        try await ModelServer.with([.openAI("unused")]) { server in
            let error = try await #require(throws: ProposerError.self) {
                try await proposer(.openAI, server, environment: [:]).propose(fixture.context(), repository: fixture.repository, scratch: nil)
            }
            #expect(error.message.contains("TEST_MODEL_KEY"))
            #expect(error.message.contains("not set"))
            #expect(server.requests.isEmpty)
        }
    }

    @Test func editingTheGuidanceFileChangesTheNextPrompt() async throws {
        let fixture = try AdapterFixture()
        defer { fixture.remove() }
        let folder = try TemporaryFolder("guidance")
        defer { folder.remove() }
        try folder.write("GUIDANCE.md", "Prefer loop unrolling.\n")
        let reply = try goodReply(fixture)
        try await ModelServer.with([.openAI(reply), .openAI(reply)]) { server in
            let model = proposer(.openAI, server, guidance: folder.path + "/GUIDANCE.md")
            _ = try await model.propose(fixture.context(), repository: fixture.repository, scratch: nil)
            try folder.write("GUIDANCE.md", "Avoid touching util.h; focus on memory layout.\n")
            _ = try await model.propose(fixture.context(), repository: fixture.repository, scratch: nil)
            let prompts = server.requests.map(\.promptText)
            #expect(prompts.count == 2)
            #expect(prompts[0].contains("Prefer loop unrolling."))
            #expect(!prompts[1].contains("Prefer loop unrolling."))
            #expect(prompts[1].contains("Avoid touching util.h; focus on memory layout."))
        }
    }

    @Test func aChangeAlreadyTriedIsNotProposedAgain() async throws {
        let fixture = try AdapterFixture()
        defer { fixture.remove() }
        let reply = try goodReply(fixture)
        try await ModelServer.with([.openAI(reply), .openAI(reply)]) { server in
            let model = proposer(.openAI, server)
            let first = try #require(try await model.propose(fixture.context(), repository: fixture.repository, scratch: nil))
            let error = try await #require(throws: ProposerError.self) {
                try await model.propose(fixture.context(tried: [first.source]), repository: fixture.repository, scratch: nil)
            }
            #expect(error.source == first.source)
            #expect(error.message.contains("already tried"))
        }
    }

    @Test func makeProposerBuildsEveryKind() {
        let model = ModelSpec(baseURL: "http://127.0.0.1:9", model: "m", apiKeyEnv: nil)
        #expect(makeProposer(.openai(model), seed: 1).kind == "openai")
        #expect(makeProposer(.anthropic(model), seed: 1).kind == "anthropic")
        let command = makeProposer(.command(AgentCommandSpec(run: "true")), seed: 1)
        #expect(command.kind == "command")
        #expect(command.usesScratch)
    }
}
