import Core
import Foundation
import Git
import Runner
import Store
import TestSupport
import Testing

/// Every hostile diff under HostileDiffs/ goes through a real loop and is rejected by the
/// gate with the rule its name promises, and nothing is written outside (or inside) the slot.
@Suite(.serialized) struct GateCorpusTests {
    static let corpus = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("HostileDiffs").path

    // libgit2 reads "a//etc/evil" as "etc/evil": outside the scope, so that is the rule it meets.
    static let expected: [String: String] = [
        "01-scope.diff": "scope", "02-protected-tests.diff": "protected", "03-gitattributes.diff": "protected",
        "04-traversal.diff": "path", "05-case-trick.diff": "protected", "06-unicode-invisible.diff": "path",
        "07-fullwidth-dots.diff": "path", "08-symlink-create.diff": "symlink", "09-symlink-follow.diff": "symlink",
        "10-exec-bit.diff": "mode", "11-binary.diff": "binary", "12-submodule.diff": "submodule", "13-size.diff": "size",
        "14-secret.diff": "secret", "15-deny.diff": "deny", "16-private-key.diff": "secret", "17-absolute.diff": "scope",
        "18-hooks.diff": "protected", "19-makefile.diff": "protected",
    ]

    @Test func everyHostileDiffIsRejectedByItsRule() async throws {
        let names = try FileManager.default.contentsOfDirectory(atPath: Self.corpus).filter { $0.hasSuffix(".diff") }.sorted()
        #expect(Set(names) == Set(Self.expected.keys), "corpus and expectations disagree")
        let config =
            TinyWorkspace.config(kinds: #"["patches"]"#)
            .replacingOccurrences(of: "scope = [\"src/**\"]", with: "scope = [\"src/**\", \"Makefile\"]")
            .replacingOccurrences(of: "[commands.test]", with: "[commands.build]\nrun = \"make -s\"\n[commands.test]")
            .replacingOccurrences(of: "dir = \"patches\"", with: "dir = \"hostile\"")
            + "\n[gate]\nmax_added_lines = 40\ndeny = ['system\\(']\n[budget]\nconsecutive_failures = 100\n"
        let fixture = try TinyWorkspace.make(config: config)
        defer { fixture.remove() }
        for name in names {
            try fixture.folder.write("hostile/" + name, try String(contentsOfFile: Self.corpus + "/" + name, encoding: .utf8))
        }
        try fixture.folder.write("README.md", "readme\n")
        try fixture.folder.write("Makefile", "all:\n\ttrue\n")
        try fixture.folder.write("tests/unit.sh", "exit 0\n")
        try FileManager.default.createSymbolicLink(atPath: fixture.path + "/src/link", withDestinationPath: "/etc")
        try fixture.git("add", "-A")
        try fixture.git("commit", "-q", "-m", "corpus")

        let (summary, workspace) = try await runLoop(fixture)
        #expect(summary.accepted == 0)
        let candidates = try workspace.store.candidates(loop: "tiny")
        for name in names {
            let candidate = try #require(candidates.first { $0.source == name }, "\(name) was not tried")
            let rule = try #require(Self.expected[name])
            #expect(candidate.rejection == .gate, "\(name): \(candidate.rejection?.rawValue ?? "-"): \(candidate.reason ?? "")")
            #expect(candidate.reason?.contains(": \(rule):") == true, "\(name) expected rule \(rule): \(candidate.reason ?? "")")
        }
        // Nothing escaped: no file outside the repository, and the candidate slot never held one.
        #expect(!FileManager.default.fileExists(atPath: (fixture.path as NSString).deletingLastPathComponent + "/escape.txt"))
        #expect(!FileManager.default.fileExists(atPath: "/etc/evil"))
        let slots = workspace.stateDirectory + "/slots/tiny"
        for slot in ["0", "1"] {
            let work = slots + "/\(slot)/work"
            for leaked in ["src/evil", "src/blob.bin", "src/keys.txt", "src/RATCHET.TOML", "src/huge.txt", "src/run.c"] {
                #expect(!FileManager.default.fileExists(atPath: work + "/" + leaked), "\(leaked) reached slot \(slot)")
            }
        }
    }
}
