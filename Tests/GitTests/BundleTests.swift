import Foundation
import Git
import TestSupport
import Testing

/// Bytes of every regular file under `path`.
private func folderSize(_ path: String) -> Int {
    guard let walker = FileManager.default.enumerator(atPath: path) else { return 0 }
    var total = 0
    for case let relative as String in walker {
        let attributes = try? FileManager.default.attributesOfItem(atPath: path + "/" + relative)
        if attributes?[.type] as? FileAttributeType == .typeRegular, let size = attributes?[.size] as? Int { total += size }
    }
    return total
}

/// A repository with `count` commits on `main`, each rewriting `data.txt` with 8 KiB of fresh
/// random text (so history cannot compress away), plus small files that change now and then.
/// Built with `git fast-import` in one go.
private func longHistory(commits count: Int) throws -> GitFixture {
    let fixture = try GitFixture(files: ["README.md": "start\n"])
    var stream = ""
    var generator = SystemRandomNumberGenerator()
    for index in 1...count {
        let data =
            (0..<128).map { _ in
                String(format: "%016llx%016llx%016llx%016llx", generator.next(), generator.next(), generator.next(), generator.next())
            }
            .joined(separator: "\n") + "\n"
        let message = "commit \(index)\n"
        stream += "commit refs/heads/main\n"
        stream += "committer Fixture <fixture@example.com> \(1_700_000_000 + index) +0000\n"
        stream += "data \(message.utf8.count)\n\(message)"
        if index == 1 { stream += "from refs/heads/main^0\n" }
        stream += "M 100644 inline data.txt\ndata \(data.utf8.count)\n\(data)"
        if index % 10 == 0 {
            let note = "note \(index)\n"
            stream += "M 100755 inline src/tool.sh\ndata \(note.utf8.count)\n\(note)"
        }
        stream += "\n"
    }
    try fixture.folder.write("stream.txt", stream)
    try runProgram(["sh", "-c", "git fast-import --quiet < stream.txt && rm stream.txt"], in: fixture.path)
    return fixture
}

@Suite struct BundleTests {
    /// Two commits of a 300-commit history: the bundle opens as a repository, every file of
    /// both trees reads back byte for byte, git itself accepts it, and it is a small fraction
    /// of the source's objects.
    @Test func bundleHoldsTheTreesOfItsCommitsAndNoHistory() throws {
        let fixture = try longHistory(commits: 300)
        defer { fixture.remove() }
        let target = try TemporaryFolder("bundle")
        defer { target.remove() }
        let source = try Repository(discovering: fixture.path)
        let head = try source.resolveCommit("main")
        let older = try source.resolveCommit("main~15")
        let path = target.path + "/bundle.git"

        try source.writeBundle(commits: [head, older], to: path)

        let bundle = try Repository(discovering: path)
        #expect(bundle.workDirectory == nil)
        #expect(try bundle.referenceTarget(Repository.bundleReference(0)) == head)
        #expect(try bundle.referenceTarget(Repository.bundleReference(1)) == older)
        for commit in [head, older] {
            let tree = try bundle.tree(ofCommit: commit)
            #expect(tree == (try source.tree(ofCommit: commit)))
            let files = try source.treeFiles(try source.tree(ofCommit: commit))
            #expect(files.map(\.path).sorted() == ["README.md", "data.txt", "src/tool.sh"])
            for file in files {
                #expect(try bundle.file(at: file.path, inTree: tree) == (try source.file(at: file.path, inTree: tree)))
            }
            #expect(try bundle.entry(at: "src/tool.sh", inTree: tree)?.mode == 0o100755)
        }
        #expect(
            try bundle.file(at: "data.txt", inTree: try bundle.tree(ofCommit: head))
                != (try bundle.file(at: "data.txt", inTree: try bundle.tree(ofCommit: older))))

        // The git CLI reads it without writing to it, and finds nothing missing.
        try runProgram(["git", "--git-dir=\(path)", "fsck", "--no-dangling"], in: target.path)
        let shown = try runProgram(["git", "--git-dir=\(path)", "show", "\(Repository.bundleReference(1)):data.txt"], in: target.path)
        #expect(Array(shown.utf8) == (try source.file(at: "data.txt", inTree: try source.tree(ofCommit: older))))
        let history = try runProgram(["git", "--git-dir=\(path)", "rev-list", "--all"], in: target.path)
        #expect(Set(history.split(separator: "\n").map(String.init)) == [head.hex, older.hex])

        let bundleSize = folderSize(path + "/objects")
        let sourceSize = folderSize(fixture.path + "/.git/objects")
        #expect(bundleSize > 0)
        #expect(bundleSize * 20 < sourceSize, "bundle \(bundleSize) bytes, source \(sourceSize) bytes")
    }

    /// A commit whose parent is bundled too is not cut off: git sees the two linked.
    @Test func parentInTheBundleStaysLinked() throws {
        let fixture = try GitFixture(files: ["a.txt": "one\n"])
        defer { fixture.remove() }
        let second = try fixture.commit(files: ["a.txt": "two\n"], message: "second")
        let third = try fixture.commit(files: ["a.txt": "three\n"], message: "third")
        let target = try TemporaryFolder("bundle")
        defer { target.remove() }
        let source = try Repository(discovering: fixture.path)
        let path = target.path + "/b.git"
        try source.writeBundle(commits: [try ObjectID(hex: third), try ObjectID(hex: second)], to: path)

        #expect(try target.read("b.git/shallow") == second + "\n")
        let log = try runProgram(["git", "--git-dir=\(path)", "log", "--format=%s", "HEAD"], in: target.path)
        #expect(log == "third\nsecond\n")
    }

    @Test func refusesNoCommitsAnOccupiedPathAndAMissingCommit() throws {
        let fixture = try GitFixture(files: ["a.txt": "a\n"])
        defer { fixture.remove() }
        let target = try TemporaryFolder("bundle")
        defer { target.remove() }
        let source = try Repository(discovering: fixture.path)
        let head = try source.resolveCommit("main")

        let empty = try #require(throws: GitError.self) { try source.writeBundle(commits: [], to: target.path + "/none") }
        #expect(empty.code == .invalidArgument)

        try target.write("occupied/file", "keep me\n")
        let occupied = try #require(throws: GitError.self) { try source.writeBundle(commits: [head], to: target.path + "/occupied") }
        #expect(occupied.code == .invalidArgument)
        #expect(occupied.description.contains("occupied"))
        #expect(try target.read("occupied/file") == "keep me\n")

        let missing = try ObjectID(hex: String(repeating: "ab", count: 20))
        let error = try #require(throws: GitError.self) { try source.writeBundle(commits: [head, missing], to: target.path + "/partial") }
        #expect(error.code == .notFound)
        #expect(error.description.contains(missing.short))
        #expect(!target.exists("partial"))
    }
}
