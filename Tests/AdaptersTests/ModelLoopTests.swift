import Adapters
import Core
import Foundation
import Runner
import Store
import TestSupport
import Testing

/// A whole loop whose proposer is a model behind a real HTTP server on 127.0.0.1.
@Suite(.serialized) struct ModelLoopTests {
    static let goodReply = """
        Title: add a bonus divisor

        The score divides by the bonus, so a bonus of 2 halves it.

        ```diff
        diff --git a/src/bonus.txt b/src/bonus.txt
        new file mode 100644
        --- /dev/null
        +++ b/src/bonus.txt
        @@ -0,0 +1 @@
        +2
        ```
        """

    func config(baseURL: String, extra: String = "") -> String {
        TinyWorkspace.config(kinds: #"["openai"]"#)
            + """

            [proposer.openai]
            base_url = "\(baseURL)"
            model = "test-model"
            api_key_env = "RATCHET_TEST_KEY"
            max_retries = 0
            price_input_per_mtok = 2.0
            price_output_per_mtok = 8.0
            guidance = "GUIDANCE.md"
            \(extra)
            """
    }

    @Test func modelProposalIsMeasuredAcceptedAndItsTranscriptKept() async throws {
        setenv("RATCHET_TEST_KEY", "sk-test-1234567890abcdefghij", 1)
        try await ModelServer.with([.openAI(Self.goodReply), .openAI("I would rather not change anything.")]) { server in
            let fixture = try TinyWorkspace.make(config: config(baseURL: server.baseURL))
            defer { fixture.remove() }
            try fixture.commit(files: ["GUIDANCE.md": "Prefer small divisors.\n"], message: "guidance")
            let (summary, workspace) = try await runLoop(fixture, options: RunOptions(maxIterations: 2))
            #expect(summary.accepted == 1)
            let candidates = try workspace.store.candidates(loop: "tiny")
            let accepted = try #require(candidates.first { $0.outcome == .accepted })
            #expect(accepted.title == "add a bonus divisor")
            #expect(accepted.inputTokens == 1200 && accepted.outputTokens == 300)
            #expect(abs((accepted.cost ?? 0) - (1200 * 2.0 + 300 * 8.0) / 1e6) < 1e-12)
            #expect(accepted.prompt?.contains("Prefer small divisors.") == true)
            #expect(accepted.prompt?.contains("sk-test-1234567890abcdefghij") == false)
            #expect(accepted.response?.contains("```diff") == true)
            let prose = try #require(candidates.last)
            #expect(prose.outcome == .rejected)
            #expect(prose.reason?.contains("diff") == true)
            // The second prompt told the model what happened to the first.
            let second = try #require(server.requests.last)
            #expect(second.promptText.contains("add a bonus divisor"))
            #expect(second.headers["authorization"] == "Bearer sk-test-1234567890abcdefghij")
            // `ratchet show` tells a reviewer why it was proposed and what it cost.
            let shown = try await runRatchet(["show", String(try #require(accepted.id))], in: fixture.path)
            #expect(shown.status == 0)
            #expect(shown.output.contains("1200 input + 300 output tokens"))
            #expect(shown.output.contains("prompt (secrets redacted):"))
            #expect(shown.output.contains("Prefer small divisors."))
            #expect(shown.output.contains("reply:"))
            // The guidance file is protected from the model.
            #expect(workspace.config.protectedPaths().contains("GUIDANCE.md"))
        }
    }

    static let speedReply = """
        Title: double the speed

        A faster setting.

        ```diff
        diff --git a/src/config.txt b/src/config.txt
        --- a/src/config.txt
        +++ b/src/config.txt
        @@ -1 +1 @@
        -speed = 1
        +speed = 2
        ```
        """

    /// Two candidates in flight ask the model at once (the first reply is held until the
    /// second request has arrived: asked one after the other, it would wait 20 s and come
    /// after), and a lane that asks while the other lane's
    /// candidate is still being evaluated tells the model so: every build takes a second, so
    /// the third request comes after the first reply, and the bonus's build 4 s more (with
    /// `overlap_builds` it does not hold up the other lane's measurement).
    @Test func twoLanesAskTheModelAtOnceAndTellItWhatIsBeingTried() async throws {
        setenv("RATCHET_TEST_KEY", "sk-test-1234567890abcdefghij", 1)
        let script: [ScriptedReply] = [
            ScriptedReply(body: ScriptedReply.openAI(Self.goodReply).body, untilRequests: 2), .openAI(Self.speedReply),
            .openAI("I would rather not change anything."),
        ]
        try await ModelServer.with(script) { server in
            let text = config(baseURL: server.baseURL)
                .replacingOccurrences(of: "[commands.test]", with: "[commands.build]\nrun = \"sh build.sh\"\ntimeout = \"20s\"\n\n[commands.test]")
                .replacingOccurrences(of: "[parallel]\n", with: "[parallel]\ncandidates = 2\noverlap_builds = true\n")
            let fixture = try TinyWorkspace.make(config: text)
            defer { fixture.remove() }
            try fixture.commit(files: ["build.sh": "sleep 1\n[ -f src/bonus.txt ] && sleep 4\nexit 0\n"], message: "a slower build with the bonus")
            let (summary, workspace) = try await runLoop(fixture, options: RunOptions(maxIterations: 3))
            #expect(summary.candidates == 3)
            let requests = server.requests
            #expect(requests.count == 3)
            guard requests.count == 3 else { return }
            // Both first requests arrived before the first reply was sent.
            let firstReply = try #require(server.replies.first)
            #expect(requests[1].received < firstReply, "second request \(requests[1].received), first reply \(firstReply)")
            #expect(!requests[0].promptText.contains("Being tried now") && !requests[1].promptText.contains("Being tried now"))
            // Which lane asks third depends on the machine's load (the speed change may be
            // rebased onto the bonus and built again); the other lane's candidate is in flight.
            let listed = ["add a bonus divisor", "double the speed"].filter {
                requests[2].promptText.contains("## Being tried now") && requests[2].promptText.contains("- \"\($0)\"")
            }
            #expect(listed.count == 1, "\(requests[2].promptText)")
            let titles = try workspace.store.candidates(loop: "tiny").map(\.title)
            #expect(Set(titles).isSuperset(of: ["add a bonus divisor", "double the speed"]), "\(titles)")
        }
    }

    @Test func tokenBudgetStopsAModelLoop() async throws {
        setenv("RATCHET_TEST_KEY", "sk-test-1234567890abcdefghij", 1)
        let replies = Array(repeating: ScriptedReply.openAI("no diff here", promptTokens: 1000, completionTokens: 500), count: 5)
        try await ModelServer.with(replies) { server in
            let fixture = try TinyWorkspace.make(config: config(baseURL: server.baseURL) + "\n[budget]\ntokens = 2500\n")
            defer { fixture.remove() }
            let (summary, _) = try await runLoop(fixture)
            #expect(summary.stopReason.contains("budget.tokens"))
            #expect(server.requests.count == 2)
        }
    }

    /// A dead endpoint stops the loop cleanly with the reason instead of spinning.
    @Test func deadEndpointStopsTheLoop() async throws {
        setenv("RATCHET_TEST_KEY", "sk-test-1234567890abcdefghij", 1)
        let fixture = try TinyWorkspace.make(config: config(baseURL: "http://127.0.0.1:9"))
        defer { fixture.remove() }
        let start = ContinuousClock.now
        let (summary, workspace) = try await runLoop(fixture)
        #expect(ContinuousClock.now - start < .seconds(20))
        #expect(summary.stopReason.contains("nothing left") || summary.stopReason.contains("consecutive_failures"))
        let failed = try #require(try workspace.store.candidates(loop: "tiny").last)
        #expect(failed.rejection == .proposerFailed)
        #expect(failed.reason?.contains("127.0.0.1:9") == true)
    }
}
