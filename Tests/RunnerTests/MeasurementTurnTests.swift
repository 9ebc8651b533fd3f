import Core
import Foundation
import Runner
import Store
import TestSupport
import Testing

/// Two lanes measuring at once take turns pair by pair under the machine's measurement lock:
/// no two bench runs overlap, and a candidate whose measurement started before another
/// lane's accept is decided against the best it started on, without a rebuild.
@Suite struct MeasurementTurnTests {
    @Test func aCandidateMeasuredBesideAnAcceptIsDecidedOnItsOwnBestWithoutARebuild() async throws {
        let runs = NSTemporaryDirectory() + "ratchet-bench-runs-\(UUID().uuidString).log"
        defer { unlink(runs) }
        // The neutral change builds 0.4 s longer, so the win is measured first and the neutral
        // change asks to measure while the win's pairs (0.1 s a run) are still being taken.
        // Each run logs its start and end outside the slots (no sandbox, so it may).
        let fixture = try ParallelTests.make(
            patches: ["01-bonus.diff": ParallelTests.bonus, "02-notes.diff": ParallelTests.notes], build: 0.2,
            extra: "[sandbox]\nmode = \"off\"\n",
            replacing: [
                "build.sh": "sleep 0.2; grep -q other src/notes.txt && sleep 0.4; exit 0\n",
                "bench.sh": "t0=$(date +%s.%N); sleep 0.1; \(TinyWorkspace.bench); echo \"$t0 $(date +%s.%N)\" >> '\(runs)'\n",
            ])
        defer { fixture.remove() }
        let (summary, workspace) = try await runLoop(fixture)
        let candidates = try workspace.store.candidates(loop: "tiny")
        let bonus = try #require(candidates.first { $0.source == "01-bonus.diff" })
        let notes = try #require(candidates.first { $0.source == "02-notes.diff" })
        #expect(bonus.outcome == .accepted)
        #expect(summary.accepted == 1)
        #expect(notes.outcome != .accepted, "\(notes.reason ?? "")")

        // The two measurements ran at the same time, in turns…
        let measures = try ParallelTests.steps(workspace, .measure)
        let bonusMeasure = try #require(measures.first { $0.candidateId == bonus.id })
        let notesMeasure = try #require(measures.first { $0.candidateId == notes.id })
        #expect(ParallelTests.overlaps(bonusMeasure, notesMeasure), "the neutral change was measured only after the win's decision")
        // …and no two bench runs did.
        let intervals = try String(contentsOfFile: runs, encoding: .utf8).split(separator: "\n").compactMap { line -> (Double, Double)? in
            let parts = line.split(separator: " ").compactMap { Double($0) }
            return parts.count == 2 ? (parts[0], parts[1]) : nil
        }.sorted { $0.0 < $1.0 }
        #expect(intervals.count >= 8, "\(intervals.count) bench runs logged")
        for (earlier, later) in zip(intervals, intervals.dropFirst()) {
            #expect(earlier.1 <= later.0, "bench runs overlapped: \(earlier) and \(later)")
        }

        // Decided against the best in force when its measurement started (the base), not
        // put onto the win and built again.
        let base = try fixture.git("rev-parse", "main").trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(notes.parentCommit == base)
        #expect(try workspace.store.steps(candidate: notes.id ?? 0).filter { $0.step == .build }.count == 1)
        #expect(try workspace.audit.entries(loop: "tiny").contains { $0.kind == "rebase" } == false)
        #expect(try workspace.audit.verify().ok)
    }
}
