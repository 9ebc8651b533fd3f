import Core
import Foundation
import Runner
import Store
import TestSupport
import Testing

/// A text diff that smuggles binary content (a NUL byte in an added line) is stopped at the
/// gate, naming the file, and the loop goes on to accept an honest patch after it.
@Suite(.serialized) struct HiddenBinaryTests {
    @Test func aNulByteInAnAddedLineIsRejectedByTheGate() async throws {
        let config = TinyWorkspace.config(kinds: #"["patches"]"#).replacingOccurrences(of: "dir = \"patches\"", with: "dir = \"hidden\"")
        let fixture = try TinyWorkspace.make(config: config)
        defer { fixture.remove() }
        let hidden = """
            diff --git a/src/notes.txt b/src/notes.txt
            --- a/src/notes.txt
            +++ b/src/notes.txt
            @@ -1 +1,3 @@
             notes
            +more notes
            +looks like text\u{0}but is not

            """
        try fixture.commit(
            files: ["hidden/01-hidden-nul.diff": hidden, "hidden/02-bonus.diff": try #require(TinyWorkspace.patches["patches/01-bonus.diff"])],
            message: "patches")
        let written = try #require(FileManager.default.contents(atPath: fixture.path + "/hidden/01-hidden-nul.diff"))
        #expect(written.contains(0), "the patch file holds a real NUL byte")

        let (summary, workspace) = try await runLoop(fixture)
        let candidates = try workspace.store.candidates(loop: "tiny")
        let smuggled = try #require(candidates.first { $0.source == "01-hidden-nul.diff" })
        #expect(smuggled.outcome == .rejected)
        #expect(smuggled.rejection == .gate, "\(smuggled.rejection?.rawValue ?? "-"): \(smuggled.reason ?? "")")
        let reason = smuggled.reason ?? ""
        #expect(reason.contains("src/notes.txt: binary: added line 2 has a control character U+0000 (NUL)"), "\(reason)")
        #expect(reason.contains("binary content is not allowed"), "\(reason)")

        let honest = try #require(candidates.first { $0.source == "02-bonus.diff" })
        #expect(honest.outcome == .accepted, "\(honest.reason ?? "")")
        #expect(summary.accepted == 1)
    }
}
