import Foundation
import TestSupport
import Testing

/// The A/A calibration for a new best costs no build of its own under bubblewrap (one mount
/// point): the best is built in a calibration slot beside the candidate's build, so every
/// slot builds once. Without the sandbox it comes before the candidate is built: the best
/// is built once in each slot, measured against itself, and the candidate slot then builds
/// the candidate. (It came after the candidate's build, inside the measurement lock, and
/// built the candidate slot three times: candidate, best, candidate again.)
@Suite struct CalibrationBuildTests {
    @Test(arguments: ["on", "off"]) func aNewBestIsCalibratedBeforeTheCandidateIsBuilt(sandbox: String) async throws {
        let config =
            TinyWorkspace.config(build: "echo built >> builds.out", kinds: #"["tuner"]"#)
            + (sandbox == "off" ? "\n[sandbox]\nmode = \"off\"\n" : "")
        let fixture = try TinyWorkspace.make(config: config)
        defer { fixture.remove() }
        let run = try await runRatchet(["run", "--max-iterations", "1"], in: fixture.path)
        #expect(run.status == 0, "\(run.errorOutput)")
        #expect(run.output.contains("A/A across the slots"), "\(run.output)")

        let slots = fixture.path + "/.git/ratchet/slots/tiny"
        let builds = ["0", "1", "calibration"].map { slot in
            ((try? String(contentsOfFile: "\(slots)/\(slot)/work/builds.out", encoding: .utf8)) ?? "").split(separator: "\n").count
        }
        #expect(builds.sorted() == (sandbox == "on" ? [1, 1, 1] : [0, 1, 2]), "builds in slots 0, 1 and calibration: \(builds)")

        // The calibration was measured (and audited), not skipped.
        let audit = try await runRatchet(["audit", "show", "--json"], in: fixture.path)
        #expect(audit.status == 0, "\(audit.errorOutput)")
        let kinds = (try JSONSerialization.jsonObject(with: Data(audit.output.utf8)) as? [[String: Any]] ?? []).compactMap { $0["kind"] as? String }
        #expect(kinds.contains("calibration"), "\(kinds)")
    }
}
