import Adapters
import Core
import Foundation
import Git
import TestSupport
import Testing

@Suite struct PromptBuilderTests {
    @Test func promptStatesTheObjectiveHistoryScopeAndReplyFormat() throws {
        let fixture = try AdapterFixture()
        defer { fixture.remove() }
        let recent = (1...5).map {
            Attempt(
                source: "s\($0)", title: "attempt \($0)", outcome: $0 == 5 ? "accepted" : "rejected",
                reason: $0 == 4 ? "tests failed: expected 45, got 44" : nil)
        }
        let prompt = try PromptBuilder(contextBytes: 50_000, history: 2).build(fixture.context(recent: recent), repository: fixture.repository)
        let text = prompt.text
        #expect(text.contains("Metric: wall_time — lower is better."))
        #expect(text.contains("Current best: 1.5; original code: 2 (the best is 25.0% better so far)."))
        #expect(text.contains("at least 3.0%"))
        #expect(text.contains("Benchmark command: `./bench.sh`"))
        // Only the last two attempts, with outcome and reason.
        #expect(!text.contains("attempt 3"))
        #expect(text.contains("\"attempt 4\": rejected — tests failed: expected 45, got 44"))
        #expect(text.contains("\"attempt 5\": accepted"))
        // Files in scope with their contents; out-of-scope files absent.
        #expect(text.contains("### src/sum.c\n```\n#include \"util.h\""))
        #expect(text.contains("### src/util.h"))
        #expect(!text.contains("notes that are out of scope"))
        // The change kept so far, as a diff against the base.
        #expect(text.contains("-#define LIMIT 10\n+#define LIMIT 20"))
        // The reply format.
        #expect(text.contains("```diff fenced block"))
        #expect(text.contains("a/ and b/ prefixes"))
        #expect(prompt.system.contains("wall_time"))
    }

    /// With several candidates in flight, the prompt names the others' so the model proposes something else.
    @Test func candidatesInFlightAreNamedInThePrompt() throws {
        let fixture = try AdapterFixture()
        defer { fixture.remove() }
        var context = fixture.context(recent: [])
        context.inFlight = [Attempt(source: "m1", title: "unroll the inner loop", outcome: "in flight", reason: nil)]
        let text = try PromptBuilder(contextBytes: 50_000, history: 2).build(context, repository: fixture.repository).text
        #expect(text.contains("## Being tried now (measured in parallel; propose something different)\n- \"unroll the inner loop\""))
        let alone = try PromptBuilder(contextBytes: 50_000, history: 2).build(fixture.context(recent: []), repository: fixture.repository).text
        #expect(!alone.contains("Being tried now"))
    }

    @Test func selectLeavesOutTheLargestFilesFirst() {
        let files = [
            PromptFile(path: "a.c", size: 30_000), PromptFile(path: "b.c", size: 50_000), PromptFile(path: "c.c", size: 10_000),
            PromptFile(path: "d.c", size: 2_000), PromptFile(path: "e.c", size: 40_000),
        ]
        let fits = PromptBuilder.select(files, budget: 45_000)
        #expect(fits.omitted == ["b.c", "e.c"])
        #expect(fits.included == ["a.c", "c.c", "d.c"])
        #expect(PromptBuilder.select(files, budget: 1_000_000).omitted.isEmpty)
        #expect(PromptBuilder.select(files, budget: 1_000).included.isEmpty)
    }

    @Test func fileContentsStayWithinTheBudgetAndOmittedFilesAreNamed() throws {
        let big = String(repeating: "int big_table_entry = 1;\n", count: 2_000)  // 50,000 bytes
        let medium = String(repeating: "int medium_entry = 2;\n", count: 900)  // 19,800 bytes
        let fixture = try AdapterFixture(extraFiles: ["src/big.c": big, "src/medium.c": medium, "src/logo.png": "\u{0}PNG\u{0}"])
        defer { fixture.remove() }
        let builder = PromptBuilder(contextBytes: 30_000, history: 0)
        let material = try builder.gather(fixture.context(), repository: fixture.repository)
        let shownBytes = material.files.compactMap(\.text).reduce(0) { $0 + $1.utf8.count }
        #expect(shownBytes <= 30_000)
        #expect(material.files.first { $0.path == "src/big.c" }?.text == nil)
        #expect(material.files.first { $0.path == "src/medium.c" }?.text == medium)
        let prompt = builder.assemble(material)
        #expect(prompt.omittedFiles.first == "src/big.c")
        #expect(prompt.omittedFiles.contains("src/logo.png"))
        #expect(prompt.user.contains("Left out to fit the context budget of 30000 bytes"))
        #expect(prompt.user.contains("- src/big.c (50000 bytes)"))
        #expect(prompt.user.contains("Binary, not shown: src/logo.png"))
        #expect(!prompt.user.contains("big_table_entry"))
        #expect(prompt.user.contains("### src/medium.c"))
    }

    @Test func theBestChangeIsBoundedToAQuarterOfTheBudget() throws {
        let fixture = try AdapterFixture()
        defer { fixture.remove() }
        let huge = (0..<4000).map { "line \($0) of a generated table\n" }.joined()
        try fixture.git.commit(files: ["src/table.c": huge], message: "generated table")
        let best = try fixture.repository.resolveCommit("main")
        var context = fixture.context()
        context.bestCommit = best
        context.bestTree = try fixture.repository.tree(ofCommit: best)
        let prompt = try PromptBuilder(contextBytes: 8_000, history: 0).build(context, repository: fixture.repository)
        let section = try #require(prompt.user.components(separatedBy: "## Changes kept so far").last?.components(separatedBy: "## Files").first)
        #expect(section.contains("+line 0 of a generated table"))
        #expect(section.contains("bytes cut"))
        #expect(!section.contains("line 3999 of"))
        #expect(section.utf8.count < 2_000 + 500)
    }

    @Test func guidanceIsReadWhenPresentAndSkippedWhenMissing() throws {
        let fixture = try AdapterFixture()
        defer { fixture.remove() }
        let folder = try TemporaryFolder("guidance")
        defer { folder.remove() }
        let path = folder.path + "/GUIDANCE.md"
        let builder = PromptBuilder(contextBytes: 20_000, history: 3, guidanceFile: path)
        let without = try builder.build(fixture.context(), repository: fixture.repository)
        #expect(!without.user.contains("Guidance"))
        try folder.write("GUIDANCE.md", "Try loop unrolling first.\n")
        let with = try builder.build(fixture.context(), repository: fixture.repository)
        #expect(with.user.contains("## Guidance from the person running the loop\n\nTry loop unrolling first."))
        // The context's guidance file is used when the builder has none of its own.
        let fromContext = try PromptBuilder(contextBytes: 20_000).build(fixture.context(guidance: path), repository: fixture.repository)
        #expect(fromContext.user.contains("Try loop unrolling first."))
    }
}
