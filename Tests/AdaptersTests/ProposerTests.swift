import Adapters
import Core
import Foundation
import Git
import TestSupport
import Testing

@Suite struct ProposerTests {

    func context(_ repo: Repository, tried: Set<String> = [], lineage: [ObjectID] = []) throws -> ProposalContext {
        let commit = try repo.resolveCommit("main")
        return ProposalContext(loop: "t", bestCommit: commit, bestTree: try repo.tree(ofCommit: commit), tried: tried, recent: [], lineage: lineage)
    }

    @Test func patchesReplayInNameOrderOnce() async throws {
        let fixture = try GitFixture(files: ["a.txt": "a\n", "p/2-b.diff": "two", "p/1-a.patch": "one", "p/notes.md": "skip"])
        defer { fixture.remove() }
        let repo = try Repository(discovering: fixture.path)
        let proposer = PatchesProposer(directory: fixture.path + "/p")
        let first = try #require(try await proposer.propose(try context(repo), repository: repo, scratch: nil))
        #expect(first.source == "1-a.patch")
        #expect(first.diff == "one")
        let second = try #require(try await proposer.propose(try context(repo, tried: ["1-a.patch"]), repository: repo, scratch: nil))
        #expect(second.source == "2-b.diff")
        #expect(try await proposer.propose(try context(repo, tried: ["1-a.patch", "2-b.diff"]), repository: repo, scratch: nil) == nil)
        let missing = PatchesProposer(directory: fixture.path + "/none")
        await #expect(throws: ProposerError.self) { try await missing.propose(try context(repo), repository: repo, scratch: nil) }
    }

    @Test func tunerEmitsADiffThatAppliesAndSkipsBeatenStates() async throws {
        let fixture = try GitFixture(files: ["src/config.h": "// knobs\n#define BLOCK 16\n#define FAST 0\n"])
        defer { fixture.remove() }
        let repo = try Repository(discovering: fixture.path)
        let knobs = [
            KnobSpec(name: "block", file: "src/config.h", pattern: "#define BLOCK (\\d+)", values: ["8", "16", "32"]),
            KnobSpec(name: "fast", file: "src/config.h", pattern: "#define FAST (\\d)", values: ["0", "1"]),
        ]
        let tuner = TunerProposer(knobs: knobs, seed: 3)
        let ctx = try context(repo)
        let proposal = try #require(try await tuner.propose(ctx, repository: repo, scratch: nil))
        #expect(proposal.title.hasPrefix("tuner: "))
        let tree = try repo.apply(patch: proposal.diff, to: ctx.bestTree)
        let text = String(decoding: try #require(try repo.file(at: "src/config.h", inTree: tree)), as: UTF8.self)
        #expect(text != "// knobs\n#define BLOCK 16\n#define FAST 0\n")
        #expect(text.hasPrefix("// knobs\n#define BLOCK "))
        // Exhausts after every single-knob neighbour: 2 other blocks + 1 fast value.
        var tried: Set<String> = []
        var count = 0
        while let next = try await tuner.propose(try context(repo, tried: tried), repository: repo, scratch: nil) {
            tried.insert(next.source)
            count += 1
        }
        #expect(count == 3)
    }

    @Test func tunerReportsAKnobThatMatchesNothing() async throws {
        let fixture = try GitFixture(files: ["src/config.h": "#define OTHER 1\n"])
        defer { fixture.remove() }
        let repo = try Repository(discovering: fixture.path)
        let tuner = TunerProposer(knobs: [KnobSpec(name: "block", file: "src/config.h", pattern: "BLOCK (\\d+)", values: ["1"])], seed: 0)
        let error = try await #require(throws: ProposerError.self) { try await tuner.propose(try context(repo), repository: repo, scratch: nil) }
        #expect(error.message.contains("block"))
        #expect(error.message.contains("matches nothing"))
        let missingFile = TunerProposer(knobs: [KnobSpec(name: "x", file: "nope.h", pattern: "(\\d)", values: ["1"])], seed: 0)
        let second = try await #require(throws: ProposerError.self) {
            try await missingFile.propose(try context(repo), repository: repo, scratch: nil)
        }
        #expect(second.message.contains("does not exist"))
    }
}
