import Adapters
import Core
import Foundation
import Git
import TestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

@Suite struct CommandProposerTests {
    /// Runs `script` (written to its own folder, outside the repository) as the command proposer.
    func propose(
        _ script: String, via: PromptDelivery = .file, timeout: Double = 30, pass: [String] = [], environment: [String: String] = [:],
        fixture: AdapterFixture, context: ProposalContext? = nil
    ) async throws -> (Result<Proposal?, ProposerError>, Slot, TemporaryFolder) {
        let tools = try TemporaryFolder("agent")
        try tools.write("agent.sh", script, executable: true)
        let scratchFolder = try TemporaryFolder("scratch")
        let slot = try fixture.scratch(scratchFolder)
        let spec = AgentCommandSpec(
            run: "sh \(tools.path)/agent.sh", promptVia: via, timeout: timeout, passEnvironment: pass,
            priceInputPerMTok: 2, priceOutputPerMTok: 10, prompt: PromptSpec(contextBytes: 20_000, history: 3))
        let proposer = CommandProposer(spec: spec, environment: environment)
        let result: Result<Proposal?, ProposerError>
        do {
            result = .success(try await proposer.propose(context ?? fixture.context(), repository: fixture.repository, scratch: slot))
        } catch {
            result = .failure(error)
        }
        tools.remove()
        return (result, slot, scratchFolder)
    }

    @Test func anAgentThatEditsFilesProposesItsChange() async throws {
        let fixture = try AdapterFixture()
        defer { fixture.remove() }
        let script = """
            set -e
            # Behave like an agent: read the task, edit files in place, print a summary.
            grep -q "## Objective" "$RATCHET_PROMPT_FILE"
            test "$RATCHET_LOOP" = demo
            cat > src/sum.c <<'EOF'
            \(AdapterFixture.fasterSum)EOF
            printf '#pragma once\\n' > src/new.h
            echo "Title: closed form and a new header"
            echo "RATCHET_USAGE input=1000 output=200"
            """
        let (result, slot, folder) = try await propose(script, fixture: fixture)
        defer { folder.remove() }
        let proposal = try #require(try result.get())
        #expect(proposal.title == "closed form and a new header")
        #expect(proposal.source.hasPrefix("command:"))
        #expect(try fixture.apply(proposal.diff) == AdapterFixture.fasterSum)
        #expect(try fixture.apply(proposal.diff, reading: "src/new.h") == "#pragma once\n")
        #expect(proposal.usage == Usage(inputTokens: 1000, outputTokens: 200, cost: (1000 * 2 + 200 * 10) / 1e6))
        #expect(proposal.transcript?.prompt.contains("## Objective") == true)
        #expect(proposal.transcript?.response.contains("RATCHET_USAGE") == true)
        // The prompt file lived outside the slot: nothing but the agent's edits is in the diff.
        #expect(try fixture.repository.parsePatch(proposal.diff).files.map(\.path) == ["src/new.h", "src/sum.c"])
        #expect(try slot.diff(against: fixture.bestTree) == proposal.diff)
    }

    @Test func thePromptArrivesOnStdinOrInTheEnvironment() async throws {
        let fixture = try AdapterFixture()
        defer { fixture.remove() }
        let stdinScript = "head -n 1 > src/first-line.txt\necho 'RATCHET_USAGE input=5 output=6 cost=0.25'\n"
        let (viaStdin, _, folder1) = try await propose(stdinScript, via: .stdin, fixture: fixture)
        defer { folder1.remove() }
        let first = try #require(try viaStdin.get())
        #expect(try fixture.apply(first.diff, reading: "src/first-line.txt")?.hasPrefix("You are an expert software engineer") == true)
        #expect(first.usage == Usage(inputTokens: 5, outputTokens: 6, cost: 0.25))

        let envScript = "printf '%s' \"$RATCHET_PROMPT\" | grep -q '## How to reply' && echo '#define FAST 1' >> src/util.h\n"
        let (viaEnv, _, folder2) = try await propose(envScript, via: .env, fixture: fixture)
        defer { folder2.remove() }
        let second = try #require(try viaEnv.get())
        #expect(try fixture.apply(second.diff, reading: "src/util.h") == "#define LIMIT 20\n#define FAST 1\n")
        #expect(second.usage == nil)
    }

    @Test func aDiffPrintedOnStdoutIsUsedWhenNothingWasEdited() async throws {
        let fixture = try AdapterFixture()
        defer { fixture.remove() }
        let diff = try fixture.goodDiff()
        let script = "cat <<'EOF'\nTitle: printed\nHere is my change:\n```diff\n\(diff)```\nEOF\n"
        let (result, _, folder) = try await propose(script, fixture: fixture)
        defer { folder.remove() }
        let proposal = try #require(try result.get())
        #expect(try fixture.apply(proposal.diff) == AdapterFixture.fasterSum)
    }

    @Test func aHangingAgentIsKilledAtTheTimeout() async throws {
        let fixture = try AdapterFixture()
        defer { fixture.remove() }
        let pidFolder = try TemporaryFolder("pids")
        defer { pidFolder.remove() }
        // A child in the background and a foreground sleep: the whole group must go.
        let script = "sleep 120 &\necho $! > \(pidFolder.path)/child.pid\necho 'thinking…'\nsleep 120\n"
        let start = ContinuousClock.now
        let (result, _, folder) = try await propose(script, timeout: 0.5, fixture: fixture)
        defer { folder.remove() }
        let elapsed = (ContinuousClock.now - start).inSeconds
        guard case .failure(let error) = result else {
            Issue.record("a hanging agent must fail")
            return
        }
        #expect(error.message.contains("timed out after"))
        #expect(error.message.contains("thinking…"))
        #expect(error.source?.hasPrefix("command:failed:") == true)
        // Far below the agent's 120 s sleep (slack for a loaded test machine: under the whole
        // suite on 2 cores this once took 17.7 s against a 30 s sleep and a 15 s bound).
        #expect(elapsed < 60)
        let child = try #require(Int32(try pidFolder.read("child.pid").trimmingCharacters(in: .whitespacesAndNewlines)))
        #expect(kill(child, 0) != 0)
    }

    @Test func aFailingAgentReportsItsStderrTail() async throws {
        let fixture = try AdapterFixture()
        defer { fixture.remove() }
        let script = "echo 'working on it'\necho 'error: quota exceeded for this month' >&2\necho 'RATCHET_USAGE input=10 output=0' >&2\nexit 7\n"
        let (result, _, folder) = try await propose(script, fixture: fixture)
        defer { folder.remove() }
        guard case .failure(let error) = result else {
            Issue.record("an agent that exits 7 must fail")
            return
        }
        #expect(error.message.contains("exit 7"))
        #expect(error.message.contains("error: quota exceeded for this month"))
        #expect(error.usage?.inputTokens == 10)
    }

    @Test func anAgentThatChangesNothingIsRejected() async throws {
        let fixture = try AdapterFixture()
        defer { fixture.remove() }
        let (result, _, folder) = try await propose("echo 'I looked around and found nothing to improve.'\n", fixture: fixture)
        defer { folder.remove() }
        guard case .failure(let error) = result else {
            Issue.record("an agent that changes nothing must fail")
            return
        }
        #expect(error.message.contains("changed no file and printed no diff"))
    }

    @Test func passedSecretsReachTheAgentButNotTheTranscript() async throws {
        let fixture = try AdapterFixture()
        defer { fixture.remove() }
        let script = "echo \"using key $AGENT_API_KEY\"\necho \"home=$HOME\" >/dev/null\necho '// tuned' >> src/util.h\ntest -z \"$NOT_PASSED\"\n"
        let (result, _, folder) = try await propose(
            script, pass: ["AGENT_API_KEY"], environment: ["AGENT_API_KEY": "opaque-agent-secret-42", "NOT_PASSED": "x"], fixture: fixture)
        defer { folder.remove() }
        let proposal = try #require(try result.get())
        let response = try #require(proposal.transcript?.response)
        #expect(response.contains("using key [REDACTED]"))
        #expect(!response.contains("opaque-agent-secret-42"))
    }

    @Test func usageLineParsing() {
        #expect(CommandProposer.usage(in: "no usage here") == nil)
        #expect(
            CommandProposer.usage(in: "RATCHET_USAGE input=1 output=2\nlater\n  RATCHET_USAGE input=100 output=50 cost=0.5", priceIn: 1, priceOut: 1)
                == Usage(inputTokens: 100, outputTokens: 50, cost: 0.5))
        #expect(
            CommandProposer.usage(in: "RATCHET_USAGE output=1000000", priceIn: 3, priceOut: 15)
                == Usage(inputTokens: 0, outputTokens: 1_000_000, cost: 15))
    }
}
