import Core
import Testing

@Suite struct GlobTests {
    @Test(arguments: [
        ("src/**", "src/a.c", true),
        ("src/**", "src/deep/er/a.c", true),
        ("src/**", "srcx/a.c", false),
        ("src/*.c", "src/a.c", true),
        ("src/*.c", "src/d/a.c", false),
        ("**/*.h", "a.h", true),
        ("**/*.h", "x/y/a.h", true),
        ("**/.git*", "x/.gitattributes", true),
        (".git*", ".gitmodules", true),
        ("file?.txt", "file1.txt", true),
        ("file?.txt", "file12.txt", false),
        ("[ab].c", "b.c", true),
        ("[!ab].c", "b.c", false),
    ])
    func matches(pattern: String, path: String, expected: Bool) {
        #expect(Glob(pattern).matches(path) == expected)
    }
}

@Suite struct GateTests {
    let gate = Gate(scope: ["src/**"], protected: ["src/tests/**", ".git*", "**/.git*"])

    func change(_ path: String, old: UInt32 = 0o100644, new: UInt32 = 0o100644, binary: Bool = false) -> ChangedPath {
        ChangedPath(path: path, oldPath: path, oldMode: old, newMode: new, isBinary: binary)
    }

    @Test func inScopeChangePasses() {
        #expect(gate.check([change("src/a.c")]).isEmpty)
    }

    @Test func eachRuleNamesTheFile() {
        let cases: [(ChangedPath, String)] = [
            (change("Makefile"), "scope"),
            (change("src/tests/check.sh"), "protected"),
            (change("src/.gitattributes"), "protected"),
            (change("src/../etc/passwd"), "path"),
            (change("/etc/passwd"), "path"),
            (change("src/link", old: 0, new: 0o120000), "symlink"),
            (change("src/run.sh", old: 0o100644, new: 0o100755), "mode"),
            (change("src/sub", old: 0, new: 0o160000), "submodule"),
            (change("src/blob.bin", binary: true), "binary"),
        ]
        for (changed, rule) in cases {
            let violations = gate.check([changed])
            #expect(violations.contains { $0.rule == rule && $0.path == changed.path }, "expected \(rule) for \(changed.path): \(violations)")
        }
    }

    /// The gate's violations for one modified file `src/a.c` with these added lines and
    /// these base and candidate bytes.
    func binaryCheck(added: [String], base: [UInt8]? = nil, candidate: [UInt8]? = nil, binary: Bool = false) -> [GateViolation] {
        gate.check(
            GateInput(
                changes: [change("src/a.c", binary: binary)], addedLines: added.map { ("src/a.c", $0) },
                baseContent: { $0 == "src/a.c" ? base : nil }, candidateContent: { $0 == "src/a.c" ? candidate : nil }))
    }

    @Test func aNulByteInAnAddedLineIsBinaryContent() throws {
        let violations = binaryCheck(added: ["int a;", "int b;", "int c;\u{0}x"])
        #expect(violations.map(\.rule) == ["binary"])
        let violation = try #require(violations.first)
        #expect(violation.path == "src/a.c")
        #expect(violation.detail == "added line 3 has a control character U+0000 (NUL): binary content is not allowed")
    }

    @Test func anEscapeInAnAddedLineIsBinaryContent() {
        let violations = binaryCheck(added: ["printf(\"\u{1b}[31mred\");", "x \u{7f}"])
        let detail = "added line 1 has a control character U+001B (ESC) (and 1 more added line): binary content is not allowed"
        #expect(violations.map(\.detail) == [detail])
    }

    @Test func tabCarriageReturnAndFormFeedAreText() {
        let text = Array("a\tb\r\n\u{c}\nc\n".utf8)
        #expect(binaryCheck(added: ["\tindented", "dos line\r", "dos line\r\n", "\u{c}", "plain"], base: text, candidate: text).isEmpty)
    }

    @Test func aTextFileMayNotBecomeBinary() {
        let violations = binaryCheck(added: [], base: Array("one\ntwo\n".utf8), candidate: Array("one\ntw\u{0}o\n".utf8))
        #expect(violations.map(\.description) == ["src/a.c: binary: text file would become binary: line 2 has a control character U+0000 (NUL)"])
        // A new file (nothing in the best tree) is held to the same rule.
        let new = binaryCheck(added: [], base: nil, candidate: [0x41, 0x01])
        #expect(new.map(\.detail) == ["new file would be binary: line 1 has a control character U+0001"])
    }

    @Test func aFileAlreadyBinaryInTheBaseIsJudgedAsBefore() {
        let blob: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x00, 0x01, 0x1b]
        // A text-looking edit to a file that already holds control bytes: not "would become binary".
        #expect(binaryCheck(added: ["x"], base: blob, candidate: blob + [0x78]).isEmpty)
        // A binary patch (libgit2 flags it) is rejected once, by the flag, whatever the bytes.
        let flagged = binaryCheck(added: ["\u{0}"], base: blob, candidate: blob, binary: true)
        #expect(flagged.map(\.description) == ["src/a.c: binary: binary content is not allowed"])
        let fresh = binaryCheck(added: [], base: Array("text\n".utf8), candidate: [0], binary: true)
        #expect(fresh.map(\.description) == ["src/a.c: binary: binary content is not allowed"])
    }

    @Test func renameOutOfScopeIsCaught() {
        let renamed = ChangedPath(path: "src/a.c", oldPath: "Makefile", oldMode: 0o100644, newMode: 0o100644, isBinary: false)
        #expect(gate.check([renamed]).map(\.path) == ["Makefile"])
    }
}
