import Adapters
import Core
import Foundation
import Git
import TestSupport
import Testing

@Suite struct ReplyParserTests {
    /// A hand-written diff as a model writes it, for `src/sum.c` of `AdapterFixture`.
    static let handDiff = """
        --- a/src/sum.c
        +++ b/src/sum.c
        @@ -3,7 +3,3 @@
         int sum(int n) {
        -    int total = 0;
        -    for (int i = 0; i < n; i++) {
        -        total += i;
        -    }
        -    return total;
        +    return n * (n - 1) / 2;
         }
        """

    static let headerDiff = """
        diff --git a/src/util.h b/src/util.h
        --- a/src/util.h
        +++ b/src/util.h
        @@ -1 +1 @@
        -#define LIMIT 20
        +#define LIMIT 40
        """

    /// Extracts, checks with libgit2 and applies; returns the new `src/sum.c`.
    func applied(_ reply: String, _ fixture: AdapterFixture, path: String = "src/sum.c") throws -> String? {
        let diff = try #require(ReplyParser.extractDiff(from: reply))
        _ = try fixture.repository.parsePatch(diff)
        return try fixture.apply(diff, reading: path)
    }

    @Test func fencedDiffWithProseAround() throws {
        let fixture = try AdapterFixture()
        defer { fixture.remove() }
        let reply =
            "Title: closed form for sum\n\nThe loop is O(n); use the formula.\n\n```diff\n\(Self.handDiff)\n```\n\nThis keeps the result identical for n >= 0.\n"
        #expect(try applied(reply, fixture) == AdapterFixture.fasterSum)
        #expect(ReplyParser.title(from: reply) == "closed form for sum")
    }

    @Test func patchLabelAndSeveralBlocksAreConcatenated() throws {
        let fixture = try AdapterFixture()
        defer { fixture.remove() }
        let reply = "First:\n```patch\n\(Self.handDiff)\n```\nThen:\n```diff\n\(Self.headerDiff)\n```\n"
        let diff = try #require(ReplyParser.extractDiff(from: reply))
        let summary = try fixture.repository.parsePatch(diff)
        #expect(summary.files.map(\.path) == ["src/sum.c", "src/util.h"])
        #expect(try fixture.apply(diff) == AdapterFixture.fasterSum)
        #expect(try fixture.apply(diff, reading: "src/util.h") == "#define LIMIT 40\n")
    }

    @Test func bareDiffBetweenProse() throws {
        let fixture = try AdapterFixture()
        defer { fixture.remove() }
        let reply = "Here is the change:\n\(Self.handDiff)\n\nIt removes the loop entirely.\nLet me know if you want more.\n"
        #expect(try applied(reply, fixture) == AdapterFixture.fasterSum)
    }

    @Test func crlfLineEnds() throws {
        let fixture = try AdapterFixture()
        defer { fixture.remove() }
        let reply = "Title: faster\n\n```diff\n\(Self.handDiff)\n```\n".replacingOccurrences(of: "\n", with: "\r\n")
        #expect(try applied(reply, fixture) == AdapterFixture.fasterSum)
    }

    @Test func repairsWhatModelsGetWrong() throws {
        let fixture = try AdapterFixture()
        defer { fixture.remove() }
        // No a/ b/ prefixes, wrong hunk counts, and the blank context line lost its space.
        let sloppy = """
            ```diff
            --- src/sum.c
            +++ src/sum.c
            @@ -1,5 +1,9 @@
             #include "util.h"

             int sum(int n) {
            -    int total = 0;
            +    long total = 0;
                 for (int i = 0; i < n; i++) {
            ```
            """
        let diff = try #require(ReplyParser.extractDiff(from: sloppy))
        #expect(diff.hasPrefix("diff --git a/src/sum.c b/src/sum.c\n--- a/src/sum.c\n+++ b/src/sum.c\n@@ -1,5 +1,5 @@\n"))
        #expect(try fixture.apply(diff) == AdapterFixture.sum.replacingOccurrences(of: "int total", with: "long total"))
    }

    @Test func unlabelledFenceCountsOnlyWhenItHoldsADiff() throws {
        let fixture = try AdapterFixture()
        defer { fixture.remove() }
        let reply = "Before:\n```c\nint sum(int n);\n```\nChange:\n```\n\(Self.handDiff)\n```\n"
        #expect(try applied(reply, fixture) == AdapterFixture.fasterSum)
        #expect(ReplyParser.extractDiff(from: "```c\nint main(void) { return 0; }\n```\n") == nil)
    }

    @Test func newFileFromPlainHeaders() throws {
        let fixture = try AdapterFixture()
        defer { fixture.remove() }
        let reply = "```diff\n--- /dev/null\n+++ b/src/fast.h\n@@ -0,0 +1,2 @@\n+#pragma once\n+#define FAST 1\n```\n"
        #expect(try applied(reply, fixture, path: "src/fast.h") == "#pragma once\n#define FAST 1\n")
    }

    @Test func replyWithoutADiffIsAProposerError() throws {
        let fixture = try AdapterFixture()
        defer { fixture.remove() }
        #expect(ReplyParser.extractDiff(from: "I would unroll the loop, but I need to see the benchmark first.") == nil)
        #expect(ReplyParser.extractDiff(from: "") == nil)
        // A fenced diff with a header but no hunk is no change either.
        #expect(ReplyParser.extractDiff(from: "```diff\n--- a/src/sum.c\n+++ b/src/sum.c\n```") == nil)
    }

    @Test func titleFallsBackToTheFirstProseLine() {
        #expect(ReplyParser.title(from: "**Title:** `Use a lookup table`\n```diff\n```") == "Use a lookup table")
        #expect(ReplyParser.title(from: "## Hoist the allocation\n\n```diff\n--- a/x\n```") == "Hoist the allocation")
        #expect(ReplyParser.title(from: "```diff\n--- a/x\n```") == nil)
    }
}
