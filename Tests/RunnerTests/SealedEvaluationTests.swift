import Core
import Execution
import Foundation
import Runner
import Store
import TestSupport
import Testing

/// Hostile candidates whose *program* (not their diff) goes after the judge while build,
/// test and bench run it. Each is a real loop on a tiny real workspace, once with bubblewrap
/// (`auto`) and once without (`off`). None may be accepted, each is caught or cannot happen,
/// and an honest improvement proposed after all of them is measured exactly as on a clean
/// workspace (the metric is deterministic: the number of lines the program prints).
@Suite(.serialized) struct SealedEvaluationTests {
    static let work = "n=$1; i=0\nwhile [ $i -lt $n ]; do echo .; i=$((i + 1)); done\n"

    /// A patch that puts `line` first in the program (run by test and bench alike).
    static func hostile(_ name: String, _ line: String) -> (String, String) {
        (
            "patches/" + name,
            "diff --git a/src/work.sh b/src/work.sh\n--- a/src/work.sh\n+++ b/src/work.sh\n@@ -1,2 +1,3 @@\n+\(line)\n n=$1; i=0\n while [ $i -lt $n ]; do echo .; i=$((i + 1)); done\n"
        )
    }

    static let patches: [(String, String)] = [
        hostile("01-rewrite-bench.diff", "printf 'echo cost: 1\\n' > bench/bench.sh 2>/dev/null"),
        hostile("02-rewrite-test.diff", "printf 'exit 0\\n' > tests/test.sh 2>/dev/null"),
        hostile("03-rewrite-input.diff", "echo 1 > data/input.txt 2>/dev/null"),
        hostile("05-cache-answer.diff", "if [ -f .answer ]; then echo .; exit 0; fi; touch .answer 2>/dev/null"),
        (
            "patches/06-build-edits-source.diff",
            "diff --git a/src/build.sh b/src/build.sh\n--- a/src/build.sh\n+++ b/src/build.sh\n@@ -1 +1,2 @@\n+sed -i 's/i + 1/i + 50/' src/work.sh\n mkdir -p build && cp src/work.sh build/work.sh && date +%N > src/gen/stamp.txt\n"
        ),
        (
            "patches/07-honest-half-the-work.diff",
            "diff --git a/src/work.sh b/src/work.sh\n--- a/src/work.sh\n+++ b/src/work.sh\n@@ -1,2 +1,2 @@\n n=$1; i=0\n-while [ $i -lt $n ]; do echo .; i=$((i + 1)); done\n+while [ $i -lt $n ]; do echo .; i=$((i + 2)); done\n"
        ),
    ]

    static func fixture(mode: String, label: String) throws -> GitFixture {
        let config = """
            [loop]
            name = "tiny"
            base = "main"
            scope = ["src/**"]
            [commands.build]
            run = "sh src/build.sh"
            [commands.test]
            run = "sh tests/test.sh"
            [commands.bench]
            run = "sh bench/bench.sh data/input.txt"
            [metric]
            source = "regex"
            pattern = 'cost: (\\d+)'
            direction = "lower"
            min_effect = 0.05
            min_pairs = 2
            max_pairs = 4
            warmup = 0
            aa_pairs = 2
            [sandbox]
            mode = "\(mode)"
            writable = ["src/gen/**"]
            [proposer]
            kind = "patches"
            [proposer.patches]
            dir = "patches"
            """
        var files: [String: String] = [
            "ratchet.toml": config,
            "src/work.sh": work,
            // An out-of-tree build folder, and a generated file the build rewrites (listed in `writable`).
            "src/build.sh": "mkdir -p build && cp src/work.sh build/work.sh && date +%N > src/gen/stamp.txt\n",
            "src/gen/stamp.txt": "0\n",
            "bench/bench.sh": "n=$(cat \"$1\"); echo \"cost: $(sh build/work.sh $n | wc -l)\"\n",
            "data/input.txt": "200\n",
            // A test that writes scratch files under /tmp, as tests do.
            "tests/test.sh":
                "echo scratch > /tmp/ratchet-test-scratch-$$ && rm /tmp/ratchet-test-scratch-$$ && [ \"$(sh build/work.sh 3 | wc -l)\" -ge 1 ]\n",
            ".gitignore": "build/\n.answer\n",
        ]
        for (path, text) in patches { files[path] = text }
        let fixture = try GitFixture(files: files, label: label)
        // Knows where the slots are (as a program can find out): makes the baseline's build
        // output print 900 lines, so the candidate would look 4.5x better.
        let slots = fixture.path + "/.git/ratchet/slots/tiny"
        let (path, text) = hostile(
            "04-write-other-slot.diff",
            "for o in \(slots)/0/work \(slots)/1/work; do [ \"$(cd $o && pwd -P)\" = \"$(pwd -P)\" ] || printf 'i=0; while [ $i -lt 900 ]; do echo .; i=$((i + 1)); done\\n' > $o/build/work.sh 2>/dev/null; done"
        )
        try fixture.commit(files: [path: text], message: "the other-slot writer")
        return fixture
    }

    func run(mode: String) async throws -> [String: CandidateRecord] {
        let fixture = try Self.fixture(mode: mode, label: "sealed-\(mode)")
        defer { fixture.remove() }
        let (summary, workspace) = try await runLoop(fixture)
        #expect(summary.accepted == 1, "only the honest change: \(summary)")
        let byName = Dictionary(uniqueKeysWithValues: try workspace.store.candidates(loop: "tiny").map { ($0.source, $0) })
        // The evaluator's files in the repository and both slots are still the commit's.
        for slot in ["0", "1"] {
            let root = workspace.stateDirectory + "/slots/tiny/\(slot)/work"
            #expect(try String(contentsOfFile: root + "/bench/bench.sh", encoding: .utf8).contains("wc -l"), "slot \(slot)")
            #expect(try String(contentsOfFile: root + "/data/input.txt", encoding: .utf8) == "200\n", "slot \(slot)")
            #expect(try String(contentsOfFile: root + "/tests/test.sh", encoding: .utf8).contains("build/work.sh"), "slot \(slot)")
            #expect(!FileManager.default.fileExists(atPath: root + "/.answer"), "slot \(slot): the cache a run wrote is gone")
        }
        let honest = try #require(byName["07-honest-half-the-work.diff"])
        #expect(honest.outcome == .accepted, "\(honest.reason ?? "")")
        // 200 lines against 100, in every pair: exactly +100%, as on a clean workspace.
        #expect(abs((honest.estimate ?? 0) - 1.0) < 1e-9, "\(honest.estimate ?? 0): \(honest.reason ?? "")")
        for (name, candidate) in byName where name != "07-honest-half-the-work.diff" {
            #expect(candidate.outcome != .accepted, "\(name): \(candidate.reason ?? "")")
        }
        return byName
    }

    @Test func hostileProgramsCannotMoveTheirScoreUnderBubblewrap() async throws {
        try #require(
            Sandbox.findBubblewrap() != nil, "bubblewrap (bwrap) must be installed and able to create namespaces: apt-get install bubblewrap")
        let byName = try await run(mode: "auto")
        // Read-only binds: the writes fail, so these change nothing and are not better.
        for name in ["01-rewrite-bench.diff", "02-rewrite-test.diff", "03-rewrite-input.diff", "04-write-other-slot.diff", "05-cache-answer.diff"] {
            let candidate = try #require(byName[name])
            #expect(
                ["not_better", "inconclusive"].contains(candidate.rejection?.rawValue ?? ""),
                "\(name): \(candidate.rejection?.rawValue ?? "") \(candidate.reason ?? "")")
        }
        let build = try #require(byName["06-build-edits-source.diff"])
        #expect(build.rejection == .runTimeWrite, "\(build.reason ?? "")")
        #expect(build.reason == "tracked file changed at run time (build): src/work.sh", "\(build.reason ?? "")")
    }

    @Test func hostileProgramsAreCaughtWithoutASandbox() async throws {
        let byName = try await run(mode: "off")
        let expected = [
            "01-rewrite-bench.diff": "evaluator file changed at run time (test): bench/bench.sh",
            "02-rewrite-test.diff": "evaluator file changed at run time (test): tests/test.sh",
            "03-rewrite-input.diff": "evaluator file changed at run time (test): data/input.txt",
            "06-build-edits-source.diff": "tracked file changed at run time (build): src/work.sh",
        ]
        for (name, reason) in expected {
            let candidate = try #require(byName[name])
            #expect(candidate.rejection == .runTimeWrite && candidate.reason == reason, "\(name): \(candidate.reason ?? "")")
        }
        let other = try #require(byName["04-write-other-slot.diff"])
        #expect(other.rejection == .runTimeWrite, "\(other.reason ?? "")")
        // Caught at its first run once the other slot holds a build: the test (the best is
        // built in both slots for the A/A calibration before the candidate is built).
        #expect(other.reason?.contains("wrote into the other slot at run time (test):") == true, "\(other.reason ?? "")")
        #expect(other.reason?.hasSuffix("/work/build/work.sh") == true, "\(other.reason ?? "")")
        // The cache is removed after every run, so every bench run computes: not better.
        let cache = try #require(byName["05-cache-answer.diff"])
        #expect(["not_better", "inconclusive"].contains(cache.rejection?.rawValue ?? ""), "\(cache.reason ?? "")")
    }

    /// A bench run that changes what the build made (here it appends a line to the built
    /// program) does not reach the next run: the output is removed and the slot built again,
    /// so every sample of each arm reads the same.
    @Test func aRunThatChangesBuildOutputIsBuiltAgainBeforeTheNext() async throws {
        let config = """
            \(CheatTests.loopHeader)
            [commands.build]
            run = "cp src/work.sh built.sh"
            [commands.bench]
            run = "echo cost: $(sh built.sh 6 | wc -l); echo 'echo .' >> built.sh"
            [metric]
            source = "regex"
            pattern = 'cost: (\\d+)'
            direction = "lower"
            min_effect = 0.05
            min_pairs = 2
            max_pairs = 4
            warmup = 1
            aa_pairs = 2
            \(CheatTests.patchesProposer)
            """
        let (path, text) = Self.patches.first { $0.0.hasSuffix("07-honest-half-the-work.diff") } ?? ("", "")
        let fixture = try GitFixture(files: ["src/work.sh": Self.work, "ratchet.toml": config, path: text], label: "rebuild")
        defer { fixture.remove() }
        let (summary, workspace) = try await runLoop(fixture)
        #expect(summary.accepted == 1)
        let candidate = try #require(try workspace.store.candidates(loop: "tiny").first)
        let samples = try workspace.store.samples(candidate: try #require(candidate.id))
        #expect(Set(samples.filter { $0.arm == .baseline }.map(\.value)) == [6], "\(samples.map(\.value))")
        #expect(Set(samples.filter { $0.arm == .candidate }.map(\.value)) == [3], "\(samples.map(\.value))")
        #expect(abs((candidate.estimate ?? 0) - 1.0) < 1e-9, "\(candidate.reason ?? "")")
    }

    /// Two slots that measure far apart on the same commit stop the loop with the cause,
    /// instead of raising the minimum effect and going on. (The bench depends on its folder's
    /// path, which differs between the slots without bubblewrap.)
    @Test func slotsThatDisagreeStopTheLoop() async throws {
        // The slot-bias workspace (sandbox off), with slot 1 reading 30% better.
        let fixture = try SlotBiasTests().fixture(aaPairs: 3)
        defer { fixture.remove() }
        let config = try fixture.folder.read("ratchet.toml").replacingOccurrences(of: "echo cost: 95", with: "echo cost: 70")
        try fixture.commit(files: ["ratchet.toml": config], message: "a 30% slot bias")
        await #expect {
            _ = try await runLoop(fixture)
        } throws: { error in
            let message = "\(error)"
            return message.contains("the two slots measure +42.9% apart") && message.contains("beyond the +10.0%")
                && message.contains("no file differs between the slots")
        }
    }
}
