import ArgumentParser
import Core
import Foundation
import Report
import Runner
import Store

enum ReportFormat: String, ExpressibleByArgument, CaseIterable {
    case md, html, json
}

struct ReportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "The morning report: what the loops tried and kept, what needs a human, ranked accepted changes.",
        discussion: """
            Covers every loop in the config's state folder (or --loop). Markdown suits a terminal or \
            a pull request; --format html writes one self-contained page (inline CSS and SVG). The \
            daemon writes both into <state>/reports/ at the end of each schedule window.
            """)

    @OptionGroup var options: ConfigOption
    @Option(help: "Only this loop.") var loop: String?
    @Option(help: "Start of the window: 24h, 90m, 7d, a date (2025-03-04) or an ISO 8601 time.") var since: String = "24h"
    @Option(help: "md, html or json.") var format: ReportFormat = .md
    @Option(name: .shortAndLong, help: "Write to this file instead of standard output.") var output: String?
    @Option(help: "The review UI, for links to each change.") var baseURL: String = "http://127.0.0.1:8470"

    func run() async throws {
        try await reporting {
            let now = Date()
            guard let start = ReportWindow.since(since, now: now) else {
                throw Failure(message: "--since \(since): use a duration (24h, 90m, 7d) or a date (2025-03-04, 2025-03-04T22:00:00)", status: .usage)
            }
            let workspace = try options.open()
            var names = try workspace.store.loops().map(\.name)
            if let loop {
                guard names.contains(loop) || loop == workspace.config.name else {
                    throw Failure(
                        message: "--loop \(loop): no such loop in \(workspace.stateDirectory) (loops: \(names.joined(separator: ", ")))",
                        status: .usage)
                }
                names = [loop]
            }
            let sources = names.map { name in
                ReportSource(
                    loop: name, store: workspace.store, audit: workspace.audit, stateDirectory: workspace.stateDirectory,
                    config: name == workspace.config.name ? workspace.config : nil)
            }
            let report = try MorningReport.build(sources: sources, since: start, until: now, baseURL: baseURL.isEmpty ? nil : baseURL)
            let text: String
            switch format {
            case .md: text = report.markdown()
            case .html: text = report.html()
            case .json:
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
                encoder.dateEncodingStrategy = .iso8601
                text = String(decoding: try encoder.encode(report), as: UTF8.self) + "\n"
            }
            if let output {
                guard FileManager.default.createFile(atPath: output, contents: Data(text.utf8)) else {
                    throw Failure(message: "cannot write \(output)", status: .internalError)
                }
                FileHandle.standardError.write(Data("report written to \(output)\n".utf8))
            } else {
                print(text, terminator: text.hasSuffix("\n") ? "" : "\n")
            }
        }
    }
}
