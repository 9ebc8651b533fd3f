import Core
import Foundation
import Runner
import Store
import TestSupport
import Testing

/// Under bubblewrap the drift check's base is built beside the lane's next candidate, and
/// the check is measured in that candidate's measurement turn, before it: the check costs
/// no build of its own and no wait. A lane that ends first still measures the check it
/// owes, building the base then.
@Suite struct DriftBuildTests {
    static func config() -> String {
        TinyWorkspace.config(build: "date +%s.%N >> builds.out", kinds: #"["tuner"]"#)
            .replacingOccurrences(of: "warmup = 1", with: "warmup = 1\ndrift_every = 2")
    }

    /// When each build of the base in the reference slot ran (seconds since 1970).
    func referenceBuilds(_ fixture: GitFixture) -> [Double] {
        let file = fixture.path + "/.git/ratchet/slots/tiny/reference/work/builds.out"
        return ((try? String(contentsOfFile: file, encoding: .utf8)) ?? "").split(separator: "\n").compactMap { Double($0) }
    }

    @Test func theBaseIsBuiltBesideTheNextCandidateAndMeasuredInItsTurn() async throws {
        let fixture = try TinyWorkspace.make(config: Self.config())
        defer { fixture.remove() }
        let workspace = try Workspace(configPath: fixture.path + "/ratchet.toml")
        let log = EventLog()
        let summary = try await LoopRunner(workspace: workspace, emit: { log.add($0) }).run()
        #expect(summary.candidates == 3, "speed 2 accepted, 3 fails its test, 4 accepted")

        // Due after the second decision, measured after the third candidate's test and
        // before its measurement, with the base built once.
        let entries = try workspace.audit.entries(loop: "tiny")
        let kinds = entries.map { entry in
            switch entry.kind {
            case "decision": "decision #\(entry.fields["candidate"] ?? "")"
            case "step": "#\(entry.fields["candidate"] ?? "") \(entry.fields["step"] ?? "")"
            default: entry.kind
            }
        }
        let checks = kinds.indices.filter { kinds[$0] == "drift_check" }
        #expect(checks.count == 1, "\(kinds)")
        let tested = try #require(kinds.lastIndex(of: "#3 test"), "\(kinds)")
        let measured = try #require(kinds.lastIndex(of: "#3 measure"), "\(kinds)")
        #expect(checks.first.map { $0 > tested && $0 < measured } == true, "\(kinds)")
        #expect(entries.first { $0.kind == "drift_check" }?.fields["drifted"] == "false")
        // The base was built once, inside the third candidate's build step: no build ran alone.
        let builds = referenceBuilds(fixture)
        #expect(builds.count == 1)
        let step = try #require(try workspace.store.steps(candidate: 3).first { $0.step == .build })
        let window = (step.startedAt.timeIntervalSince1970 - 0.05)...((step.finishedAt ?? .distantPast).timeIntervalSince1970 + 0.05)
        #expect(builds.allSatisfy { window.contains($0) }, "base built at \(builds), candidate #3 built in \(window)")
        let notes = log.all.compactMap { event -> String? in if case .note(let text) = event { text } else { nil } }
        #expect(notes.contains { $0.hasPrefix("drift check due: measured in this lane's next measurement turn, its base built beside") }, "\(notes)")
        #expect(notes.contains { $0.hasPrefix("drift check: the accepts claimed") }, "\(notes)")
    }

    @Test func aLaneThatEndsFirstStillMeasuresTheCheckItOwes() async throws {
        let fixture = try TinyWorkspace.make(config: Self.config())
        defer { fixture.remove() }
        let (summary, workspace) = try await runLoop(fixture, options: RunOptions(maxIterations: 2))
        #expect(summary.candidates == 2)
        #expect(summary.stopReason.contains("--max-iterations 2"))
        let kinds = try workspace.audit.entries(loop: "tiny").map(\.kind)
        #expect(kinds.filter { $0 == "drift_check" }.count == 1, "\(kinds)")
        #expect(kinds.last == "loop_stop" && kinds.dropLast().last == "drift_check", "\(kinds)")
        #expect(referenceBuilds(fixture).count == 1)
    }

    /// The base fails to build beside a candidate: the check it was built for is skipped
    /// with a note (as when its own build fails), and the run goes on.
    @Test func aBaseThatDoesNotBuildBesideACandidateSkipsTheCheck() async throws {
        let config = TinyWorkspace.config(build: "echo tried >> builds.out; test $RATCHET_ROLE != reference", kinds: #"["tuner"]"#)
            .replacingOccurrences(of: "warmup = 1", with: "warmup = 1\ndrift_every = 2")
        let fixture = try TinyWorkspace.make(config: config)
        defer { fixture.remove() }
        let workspace = try Workspace(configPath: fixture.path + "/ratchet.toml")
        let log = EventLog()
        let summary = try await LoopRunner(workspace: workspace, emit: { log.add($0) }).run()
        #expect(summary.candidates == 3 && summary.accepted == 2, "\(summary.stopReason)")
        let notes = log.all.compactMap { event -> String? in if case .note(let text) = event { text } else { nil } }
        #expect(notes.filter { $0.hasPrefix("drift check skipped: the original base does not build (exit 1)") }.count == 1, "\(notes)")
        #expect(try workspace.audit.entries(loop: "tiny").allSatisfy { $0.kind != "drift_check" })
        let tried = (try? String(contentsOfFile: fixture.path + "/.git/ratchet/slots/tiny/reference/work/builds.out", encoding: .utf8)) ?? ""
        #expect(tried.split(separator: "\n").count == 1, "built once, beside the third candidate: \(tried)")
    }
}

/// A write by the original base's bench during a drift check measured in a candidate's
/// turn is the base's, not the candidate's: the loop stops with the check named, and no
/// candidate is rejected for it.
@Suite struct DriftSealTests {
    @Test func aBaseThatWritesInItsDriftCheckIsNotTheCandidatesFault() async throws {
        let config =
            TinyWorkspace.config(kinds: #"["tuner"]"#)
            .replacingOccurrences(of: "warmup = 1", with: "warmup = 1\ndrift_every = 2")
            .replacingOccurrences(
                of: "run = \"sh bench.sh\"", with: "run = \"case $RATCHET_SLOT in */reference/work) echo x >> src/notes.txt;; esac; sh bench.sh\"")
            // The bench tells the reference slot by its path, which only differs without bubblewrap.
            + "\n[sandbox]\nmode = \"off\"\n"
        let fixture = try TinyWorkspace.make(config: config)
        defer { fixture.remove() }
        let (failure, workspace) = try await runLoopCatching(fixture)
        let error = try #require(failure, "the loop was expected to fail")
        #expect(error.message.contains("the drift check of the original base"), "\(error.message)")
        let rejections = try workspace.store.candidates(loop: "tiny").compactMap(\.rejection)
        #expect(!rejections.contains(.runTimeWrite), "\(rejections)")
    }
}
