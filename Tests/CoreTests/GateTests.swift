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

    @Test func renameOutOfScopeIsCaught() {
        let renamed = ChangedPath(path: "src/a.c", oldPath: "Makefile", oldMode: 0o100644, newMode: 0o100644, isBinary: false)
        #expect(gate.check([renamed]).map(\.path) == ["Makefile"])
    }
}
