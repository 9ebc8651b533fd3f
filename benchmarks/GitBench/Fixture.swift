import Foundation

/// The synthetic repository: `count` small source files, 100 per folder, two folder levels.
struct Fixture {
    let count: Int

    /// `src/a<k>/b<j>/f<i>.swift`: 100 files per leaf folder, 100 leaf folders per top folder.
    func path(_ index: Int) -> String {
        let folder = index / 100
        return "src/a\(folder / 100)/b\(folder % 100)/f\(index % 100).swift"
    }

    /// The lines of file `index` in the base commit: 6 to 18 lines of ~40 bytes (240–720 bytes).
    func lines(_ index: Int) -> [String] {
        let lineCount = 6 + index % 13
        return (0..<lineCount).map { line in
            "let v\(index)_\(line) = \((index &* 2_654_435_761 &+ line &* 40_503) % 1_000_003) // line \(line)"
        }
    }

    func content(_ index: Int) -> [UInt8] {
        Array((lines(index).joined(separator: "\n") + "\n").utf8)
    }

    /// File `index` as candidate `candidate` rewrites it: one line changed, one line added.
    func candidateContent(_ index: Int, candidate: Int) -> [UInt8] {
        var lines = lines(index)
        lines[1] = "let v\(index)_1 = \(candidate) // changed by candidate \(candidate)"
        lines.insert("let added\(candidate) = \(index) // added by candidate \(candidate)", at: 3)
        return Array((lines.joined(separator: "\n") + "\n").utf8)
    }

    /// The two files candidate `candidate` edits. Consecutive candidates walk a permutation of
    /// the files (stride 7919 is coprime with every power-of-ten size), so no two candidates
    /// touch the same file while `2 × candidates ≤ count`, and edits spread over all folders.
    func touchedFiles(candidate: Int) -> (Int, Int) {
        ((2 * candidate * 7919 + 17) % count, ((2 * candidate + 1) * 7919 + 17) % count)
    }

    /// Writes a `git fast-import` stream creating one commit on `refs/heads/main` with every file.
    func writeFastImportStream(to file: String) throws {
        var stream = Data()
        stream.reserveCapacity(count * 600)
        let header = "commit refs/heads/main\ncommitter Bench <bench@example.com> 1700000000 +0000\ndata 5\nbase\n"
        stream.append(contentsOf: Array(header.utf8))
        for index in 0..<count {
            let bytes = content(index)
            stream.append(contentsOf: Array("M 100644 inline \(path(index))\ndata \(bytes.count)\n".utf8))
            stream.append(contentsOf: bytes)
            stream.append(UInt8(ascii: "\n"))
        }
        stream.append(contentsOf: Array("done\n".utf8))
        guard FileManager.default.createFile(atPath: file, contents: stream) else {
            throw BenchError("cannot write the fast-import stream to \(file)")
        }
    }
}
