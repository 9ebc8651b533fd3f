import Core
import Foundation
import Runner
import Store
import TestSupport
import Testing

/// The best's builds beside candidates (the calibration slot under bubblewrap) keep working
/// however many commits a run has seen: each build binds the sealed copies of its own
/// slot's commit, and none of them is removed while a slot holds that commit. (The copies
/// were kept by a five-commit cache; once it was cleared, a candidate's build removed the
/// copy the best's build beside it had just bound, bubblewrap refused the best's build,
/// and it ran again alone after the candidate's test.)
@Suite struct SideBySideBuildTests {
    /// A patch adding `src/<name>.txt` (a new commit that changes no score).
    static func newFile(_ name: String, _ text: String = "x") -> String {
        "diff --git a/src/\(name).txt b/src/\(name).txt\nnew file mode 100644\n--- /dev/null\n+++ b/src/\(name).txt\n@@ -0,0 +1 @@\n+\(text)\n"
    }

    @Test func theBestIsBuiltBesideEveryCandidateAfterManyCommits() async throws {
        // Three neutral commits, then a win (the bonus), then two more: the candidate after
        // the win is the sixth commit the lane seals (with the base), when the old cache was
        // cleared.
        // A test that takes a while keeps a build after it clear of the build step before it.
        let config = TinyWorkspace.config(test: "sleep 0.3; sh test.sh", build: "date +%s.%N >> builds.out", kinds: #"["patches"]"#)
            .replacingOccurrences(of: #"dir = "patches""#, with: #"dir = "more""#)
        let fixture = try TinyWorkspace.make(config: config)
        defer { fixture.remove() }
        var patches: [String: String] = [:]
        for (index, name) in ["n1", "n2", "n3", "bonus", "n5", "n6"].enumerated() {
            patches["more/\(index)-\(name).diff"] = Self.newFile(name, name == "bonus" ? "2" : "x")
        }
        _ = try fixture.commit(files: patches, message: "more patches")
        let (summary, workspace) = try await runLoop(fixture)
        #expect(summary.candidates == 6)
        #expect(summary.accepted == 1, "the bonus")
        let file = fixture.path + "/.git/ratchet/slots/tiny/calibration/work/builds.out"
        let builds = ((try? String(contentsOfFile: file, encoding: .utf8)) ?? "").split(separator: "\n").compactMap { Double($0) }
        #expect(builds.count == 2, "the base, then the bonus: \(builds)")
        var windows: [ClosedRange<Double>] = []
        for candidate in try workspace.store.candidates(loop: "tiny") {
            for step in try workspace.store.steps(candidate: candidate.id ?? 0) where step.step == .build {
                let end = (step.finishedAt ?? step.startedAt).timeIntervalSince1970
                windows.append((step.startedAt.timeIntervalSince1970 - 0.01)...(end + 0.01))
            }
        }
        let alone = builds.filter { time in !windows.contains { $0.contains(time) } }
        #expect(alone.isEmpty, "builds of the best outside every candidate's build step: \(alone); steps: \(windows)")
    }
}
