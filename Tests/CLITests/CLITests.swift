import Foundation
import TestSupport
import Testing

/// The built `ratchet` binary, run the way a user runs it.
@Suite(.serialized) struct CLITests {
    @Test func helpDocumentsVerbsAndExitCodes() async throws {
        let result = try await runRatchet(["--help"], in: "/tmp")
        #expect(result.status == 0)
        for word in ["init", "run", "status", "log", "show", "EXIT CODES"] {
            #expect(result.output.contains(word), "help lacks \(word)")
        }
        // The documented exit statuses, each on its own line of the EXIT CODES section.
        let section = result.output.components(separatedBy: "EXIT CODES\n").last ?? ""
        let codes = section.split(separator: "\n").prefix { $0.hasPrefix("  ") }.compactMap { $0.split(separator: " ").first.flatMap { Int($0) } }
        #expect(codes == [0, 1, 64, 65, 66, 69, 70, 75, 130])
    }

    /// Every help screen, at 80 columns: no line is wider (argument-parser's one-line USAGE
    /// aside, which it never wraps), and no paragraph is broken early by a line break in the
    /// source text. argument-parser wraps greedily and keeps a line under the width (at most
    /// 79 columns), so inside a paragraph a line ends only when the next word would take it to
    /// 80; a line that ends sooner was broken by the text itself.
    @Test func helpScreensFit80ColumnsWithoutBrokenParagraphs() throws {
        var pending: [[String]] = [[]]
        var seen: Set<[String]> = []
        while let path = pending.popLast() {
            guard seen.insert(path).inserted else { continue }
            let (status, text) = try runProgramStatus(
                [try ratchetBinary()] + (path.isEmpty ? ["--help"] : ["help"] + path), environment: ["COLUMNS": "80"])
            let screen = "ratchet help \(path.joined(separator: " "))"
            #expect(status == 0, "\(screen): \(text)")
            let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            for (index, line) in lines.enumerated() {
                if !line.hasPrefix("USAGE: ") {
                    #expect(line.count <= 80, "\(screen): wider than 80 columns: \(line)")
                }
                guard index > 0, let first = line.first, first != " " else { continue }
                let previous = lines[index - 1]
                guard !previous.isEmpty else { continue }
                #expect(previous.first != " ", "\(screen): an indented line was wrapped onto column 0: \(previous) / \(line)")
                let nextWord = line.prefix { $0 != " " }
                #expect(previous.count + 1 + nextWord.count >= 80, "\(screen): paragraph broken early: \(previous) / \(line)")
            }
            // The verbs listed under SUBCOMMANDS: each gets its own screen.
            if let start = lines.firstIndex(of: "SUBCOMMANDS:") {
                for line in lines[(start + 1)...] {
                    guard line.hasPrefix("  "), let name = line.dropFirst(2).split(separator: " ").first,
                        name.first?.isLetter == true, !line.dropFirst(2).hasPrefix(" "), name != "See"
                    else { continue }
                    pending.append(path + [String(name)])
                }
            }
        }
        #expect(seen.count > 20, "only \(seen.count) help screens were found")
    }

    @Test func versionPrintsTheReleaseNumber() async throws {
        let result = try await runRatchet(["--version"], in: "/tmp")
        #expect(result.status == 0)
        // The release number, then the build's `git describe` when `make` passed it: "0.1.0 (v0.1.0-3-g1a2b3c4)".
        let version = result.output.trimmingCharacters(in: .whitespacesAndNewlines)
        let release = String(version.prefix { $0 != " " })
        #expect(release.split(separator: ".").count == 3 && release.split(separator: ".").allSatisfy { Int($0) != nil }, "\(version)")
        #expect(version == release || (version.hasPrefix(release + " (") && version.hasSuffix(")")), "\(version)")
    }

    /// In an empty folder `init` says what is still missing: a repository with a commit, the
    /// commands filled in, and which verbs come next.
    @Test func initInAnEmptyFolderSaysWhatToDoNext() async throws {
        let folder = try TemporaryFolder("empty")
        defer { folder.remove() }
        let result = try await runRatchet(["init"], in: folder.path)
        #expect(result.status == 0, "\(result.errorOutput)")
        #expect(folder.exists("ratchet.toml"))
        #expect(result.output.contains("git init"))
        #expect(result.output.contains("bench"))
        #expect(result.output.contains("`ratchet status`"))
        #expect(result.output.contains("`ratchet run`"))
        #expect(result.output.split(separator: "\n").allSatisfy { $0.count <= 80 })

        // A repository whose branch is not main: the base to set is named.
        let fixture = try GitFixture(files: ["README": "x\n"])
        defer { fixture.remove() }
        try fixture.git("branch", "-m", "main", "trunk")
        let other = try await runRatchet(["init"], in: fixture.path)
        #expect(other.status == 0)
        #expect(!other.output.contains("git init"))
        #expect(other.output.contains("base = \"trunk\""))
    }

    @Test func initWritesAStarterThatParsesAndRefusesToOverwrite() async throws {
        let fixture = try GitFixture(files: ["README": "x\n"])
        defer { fixture.remove() }
        let first = try await runRatchet(["init"], in: fixture.path)
        #expect(first.status == 0)
        #expect(fixture.folder.exists("ratchet.toml"))
        let again = try await runRatchet(["init"], in: fixture.path)
        #expect(again.status == 64)
        #expect(again.errorOutput.contains("--force"))
        let status = try await runRatchet(["status"], in: fixture.path)
        #expect(status.status == 0, "starter config did not validate: \(status.errorOutput)")
        #expect(status.output.contains("never run"))
    }

    @Test func runLogShowStatusEndToEnd() async throws {
        let fixture = try TinyWorkspace.make()
        defer { fixture.remove() }
        let run = try await runRatchet(["run"], in: fixture.path)
        #expect(run.status == 0, "\(run.errorOutput)")
        #expect(run.output.contains("ACCEPTED"))
        #expect(run.output.contains("pair 2"))
        #expect(run.output.contains("3 accepted"))

        let log = try await runRatchet(["log", "--json"], in: fixture.path)
        #expect(log.status == 0)
        let entries = try #require(try JSONSerialization.jsonObject(with: Data(log.output.utf8)) as? [[String: Any]])
        #expect(entries.count == 7)
        let accepted = entries.filter { $0["outcome"] as? String == "accepted" }
        #expect(accepted.count == 3)
        #expect(accepted.allSatisfy { ($0["commit"] as? String)?.count == 40 && $0["lower"] is Double })

        let table = try await runRatchet(["log"], in: fixture.path)
        #expect(table.output.contains("not_better") || table.output.contains("rejected"))
        #expect(table.output.contains("01-bonus.diff"))
        #expect(!table.output.contains("not shown"))

        // Pages: the newest N (the rest counted), since a time, and JSON narrowed the same way.
        let page = try await runRatchet(["log", "--limit", "2"], in: fixture.path)
        let rows = page.output.split(separator: "\n").dropFirst()
        #expect(rows.count == 3 && rows.last == "(5 earlier candidate(s) not shown: --limit N, --since 7d or --all)", "\(page.output)")
        #expect(rows.first?.hasPrefix(String(entries[5]["id"] as? Int ?? 0)) == true)
        let recent = try await runRatchet(["log", "--json", "--limit", "2"], in: fixture.path)
        let newest = try #require(try JSONSerialization.jsonObject(with: Data(recent.output.utf8)) as? [[String: Any]])
        #expect(newest.map { $0["id"] as? Int } == entries.suffix(2).map { $0["id"] as? Int })
        let today = try await runRatchet(["log", "--json", "--since", "1h"], in: fixture.path)
        #expect((try JSONSerialization.jsonObject(with: Data(today.output.utf8)) as? [Any])?.count == 7)
        let future = try await runRatchet(["log", "--json", "--since", "2999-01-01"], in: fixture.path)
        #expect(future.output == "[\n\n]\n")
        let bad = try await runRatchet(["log", "--since", "yesterday"], in: fixture.path)
        #expect(bad.status == 64 && bad.errorOutput.contains("--since yesterday"))

        let id = try #require(accepted.first?["id"] as? Int)
        let show = try await runRatchet(["show", String(id)], in: fixture.path)
        #expect(show.status == 0)
        #expect(show.output.contains("diff --git"))
        #expect(show.output.contains("samples"))
        #expect(show.output.contains("effect:"))
        let showJSON = try await runRatchet(["show", String(id), "--json"], in: fixture.path)
        let detail = try #require(try JSONSerialization.jsonObject(with: Data(showJSON.output.utf8)) as? [String: Any])
        #expect((detail["samples"] as? [Any])?.isEmpty == false)

        let missing = try await runRatchet(["show", "9999"], in: fixture.path)
        #expect(missing.status == 64)
        #expect(missing.errorOutput.contains("no candidate 9999"))

        let status = try await runRatchet(["status", "--json"], in: fixture.path)
        let report = try #require(try JSONSerialization.jsonObject(with: Data(status.output.utf8)) as? [String: Any])
        #expect(report["state"] as? String == "exhausted")
    }

    @Test func badConfigAndMissingBaseHaveDocumentedExitCodes() async throws {
        let broken = TinyWorkspace.config().replacingOccurrences(of: "min_pairs = 2", with: "min_pairs = \"two\"\ncolour = 1")
        let fixture = try TinyWorkspace.make(config: broken)
        defer { fixture.remove() }
        let result = try await runRatchet(["run"], in: fixture.path)
        #expect(result.status == 65)
        #expect(result.errorOutput.contains("metric.min_pairs"))
        #expect(result.errorOutput.contains("metric.colour"))
        #expect(result.errorOutput.contains("line "))

        let noBase = try TinyWorkspace.make(config: TinyWorkspace.config().replacingOccurrences(of: "base = \"main\"", with: "base = \"gone\""))
        defer { noBase.remove() }
        let missing = try await runRatchet(["run"], in: noBase.path)
        #expect(missing.status == 66)
        #expect(missing.errorOutput.contains("'gone'"))
    }

    /// SIGINT stops the loop at the next safe point, records why, and exits 0.
    @Test func interruptStopsGracefully() async throws {
        let slow = TinyWorkspace.config().replacingOccurrences(of: "run = \"sh bench.sh\"", with: "run = \"sleep 0.1; sh bench.sh\"")
        let fixture = try TinyWorkspace.make(config: slow)
        defer { fixture.remove() }
        let result = try await runRatchet(["run"], in: fixture.path, interruptAfter: 0.7)
        #expect(result.status == 0, "\(result.errorOutput)")
        #expect(result.errorOutput.contains("SIGINT"))
        #expect(result.output.contains("stopped by SIGINT"))
        let status = try await runRatchet(["status"], in: fixture.path)
        #expect(status.output.contains("stopped by SIGINT"))
        // The interrupted candidate is settled on the next run and the loop finishes.
        let rerun = try await runRatchet(["run"], in: fixture.path)
        #expect(rerun.status == 0)
        #expect(rerun.output.contains("3 accepted"))
    }

    /// A drift check that finds the claimed improvement gone is in `ratchet status`.
    @Test func statusShowsADrift() async throws {
        let fixture = try TinyWorkspace.make(config: TinyWorkspace.driftingConfig())
        defer { fixture.remove() }
        let run = try await runRatchet(["run"], in: fixture.path)
        #expect(run.status == 0, "\(run.errorOutput)")
        #expect(run.output.contains("DRIFT: the accepts claimed +100.0%"), "\(run.output)")
        let status = try await runRatchet(["status"], in: fixture.path)
        #expect(
            status.output.contains(
                "drift:      DRIFT — the accepts claimed +100.0%; the best measures +0.0% [+0.0%, +0.0%] against the base (6 pairs)"),
            "\(status.output)")
    }
}
