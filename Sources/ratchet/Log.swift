import ArgumentParser
import Core
import Foundation
import Report
import Runner
import Store

struct Log: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List the loop's candidates: outcome, reason, effect with its interval, commit.",
        discussion: """
            The table shows the newest 50 unless --limit, --since or --all says otherwise; --json lists every \
            candidate unless --limit or --since narrows it, streamed as it is read.
            """)

    /// The table's length when nothing else is asked.
    static let defaultLimit = 50

    @OptionGroup var options: ConfigOption
    @Option(help: "Only candidates with this outcome (accepted, rejected, inconclusive, interrupted).") var outcome: String?
    @Option(help: "Only the newest this many.") var limit: Int?
    @Option(help: "Only candidates created since: 24h, 90m, 7d, a date (2025-03-04) or an ISO 8601 time.") var since: String?
    @Flag(help: "Every candidate (the table shows the newest 50 otherwise).") var all = false
    @Flag(help: "Print JSON.") var json = false

    func validate() throws {
        if let limit, limit < 1 { throw ValidationError("--limit must be at least 1") }
        if all && limit != nil { throw ValidationError("--all and --limit cannot be used together") }
        if let outcome, Outcome(rawValue: outcome) == nil {
            throw ValidationError("--outcome must be one of \(Outcome.allCases.map(\.rawValue).joined(separator: ", "))")
        }
    }

    func run() async throws {
        try await reporting {
            var query = CandidateQuery(outcome: outcome.flatMap(Outcome.init(rawValue:)), newest: limit)
            if let since {
                guard let start = ReportWindow.since(since) else {
                    throw Failure(
                        message: "--since \(since): use a duration (24h, 90m, 7d) or a date (2025-03-04, 2025-03-04T22:00:00)", status: .usage)
                }
                query.since = start
            }
            if !json && !all && limit == nil && since == nil { query.newest = Self.defaultLimit }
            let workspace = try options.open()
            let store = workspace.store
            let loop = workspace.config.name
            if json { return try streamJSON(store: store, loop: loop, query: query) }
            let candidates = try store.candidateRows(loop: loop, query)
            if candidates.isEmpty { return print("no candidates yet") }
            let effects = candidates.map { Format.effect(estimate: $0.estimate, lower: $0.lower, upper: $0.upper) }
            // Wide enough for the widest effect (a 10x win prints "+862.7% [+701.3%, +1056.6%]").
            let width = max(27, (effects.map(\.count).max() ?? 0) + 2)
            print(
                "ID".padded(5) + "#".padded(4) + "PROPOSER".padded(9) + "OUTCOME".padded(13) + "EFFECT [interval]".padded(width) + "COMMIT".padded(11)
                    + "TITLE — REASON")
            for (c, effect) in zip(candidates, effects) {
                let reason = c.reason.map { " — " + $0.replacingOccurrences(of: "\n", with: " ") } ?? ""
                print(
                    String(c.id ?? 0).padded(5) + String(c.sequence).padded(4) + c.proposer.padded(9) + c.state.label.padded(13)
                        + effect.padded(width) + String((c.commit ?? "-").prefix(10)).padded(11) + (c.title + reason).clipped(140))
            }
            if query.newest != nil && candidates.count == query.newest {
                let earlier = try store.candidateCount(loop: loop, query) - candidates.count
                if earlier > 0 { print("(\(earlier) earlier candidate(s) not shown: --limit N, --since 7d or --all)") }
            }
        }
    }

    /// `--json`: the same array `printJSON` would print, written element by element as the
    /// rows are read, so memory stays bounded however long the loop's history is.
    func streamJSON(store: Store, loop: String, query: CandidateQuery) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        encoder.dateEncodingStrategy = .iso8601
        let output = BufferedOutput()
        var first = true
        output.write("[")
        try store.forEachCandidateRow(loop: loop, query) { row in
            let element = String(decoding: try encoder.encode(CandidateSummary(row)), as: UTF8.self)
            // Indented one level, as inside the array (an empty line, as in `[\n\n]`, stays empty).
            let indented = element.split(separator: "\n", omittingEmptySubsequences: false).map { $0.isEmpty ? "" : "  " + $0 }
            output.write((first ? "\n" : ",\n") + indented.joined(separator: "\n"))
            first = false
        }
        output.write(first ? "\n\n]\n" : "\n]\n")
        output.flush()
    }
}

/// Standard output written in 64 KB blocks.
final class BufferedOutput {
    private var buffer: [UInt8] = []

    func write(_ text: String) {
        buffer.append(contentsOf: text.utf8)
        if buffer.count >= 1 << 16 { flush() }
    }

    func flush() {
        FileHandle.standardOutput.write(Data(buffer))
        buffer.removeAll(keepingCapacity: true)
    }
}
