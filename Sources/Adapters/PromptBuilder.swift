import Core
import Foundation
import Git

/// A prompt for one proposal: standing instructions (`system`) and this request (`user`).
public struct Prompt: Sendable, Equatable {
    public var system: String
    public var user: String
    /// Files in scope whose contents were left out to fit the context budget, largest first.
    public var omittedFiles: [String]

    public init(system: String, user: String, omittedFiles: [String] = []) {
        self.system = system
        self.user = user
        self.omittedFiles = omittedFiles
    }

    /// Both parts as one text, for programs and transcripts that take a single prompt.
    public var text: String { system + "\n\n" + user }
}

/// A file the prompt may show: its path, size and, once loaded, its text.
public struct PromptFile: Sendable, Equatable {
    public var path: String
    public var size: Int
    /// `nil` for a binary file.
    public var text: String?

    public init(path: String, size: Int, text: String? = nil) {
        self.path = path
        self.size = size
        self.text = text
    }
}

/// Everything a prompt is made from, gathered from the repository and the disk.
public struct PromptMaterial: Sendable, Equatable {
    public var objective: Objective?
    public var scope: [String]
    /// Every file in scope, with its size; the ones chosen for the prompt have their text.
    public var files: [PromptFile]
    /// The diff from the base to the current best, when they differ.
    public var bestChange: String?
    /// Recent attempts, newest last.
    public var recent: [Attempt]
    /// Candidates being tried right now by other lanes.
    public var inFlight: [Attempt] = []
    public var guidance: String?

    public init(
        objective: Objective?, scope: [String], files: [PromptFile], bestChange: String? = nil, recent: [Attempt] = [],
        inFlight: [Attempt] = [], guidance: String? = nil
    ) {
        self.objective = objective
        self.scope = scope
        self.files = files
        self.bestChange = bestChange
        self.recent = recent
        self.inFlight = inFlight
        self.guidance = guidance
    }
}

/// Builds the prompt a model-backed proposer sends: the objective, the guidance file, the
/// change kept so far, the recent attempts, the files in scope (within a byte budget) and
/// the reply format.
///
/// The budget covers repository text: the best change takes at most a quarter of it, and
/// file contents share the rest. When the files in scope do not fit, the largest are left
/// out first (and named in the prompt) until the others do.
public struct PromptBuilder: Sendable {
    public var contextBytes: Int
    public var history: Int
    /// The configured guidance file; `ProposalContext.guidanceFile` is used when `nil`.
    public var guidanceFile: String?

    /// At most this many file names are listed; the rest are counted.
    static let listLimit = 200
    /// The text kept of one attempt's reason.
    static let reasonBytes = 600

    public init(contextBytes: Int = PromptSpec.defaultContextBytes, history: Int = PromptSpec.defaultHistory, guidanceFile: String? = nil) {
        self.contextBytes = contextBytes
        self.history = history
        self.guidanceFile = guidanceFile
    }

    public init(_ spec: PromptSpec) {
        self.init(contextBytes: spec.contextBytes, history: spec.history, guidanceFile: spec.guidance)
    }

    /// The bytes of the budget the best change may take.
    var changeBudget: Int { contextBytes / 4 }

    // MARK: Gathering

    /// Gathers the material (reading the guidance file from disk now) and assembles the prompt.
    /// - Throws: `ProposerError` when the best tree cannot be read.
    public func build(_ context: ProposalContext, repository: Repository) throws(ProposerError) -> Prompt {
        assemble(try gather(context, repository: repository))
    }

    /// Reads what the prompt needs: the files in scope (only the chosen ones' contents),
    /// the best change against the base, and the guidance file.
    public func gather(_ context: ProposalContext, repository: Repository) throws(ProposerError) -> PromptMaterial {
        var bestChange: String?
        if let baseCommit = context.baseCommit, baseCommit != context.bestCommit {
            do {
                let baseTree = try repository.tree(ofCommit: baseCommit)
                let text = try repository.patchText(from: baseTree, to: context.bestTree)
                bestChange = text.isEmpty ? nil : text
            } catch {
                throw ProposerError("cannot diff the base \(baseCommit.short) against the best: \(error.message)")
            }
        }
        let changeBytes = min(bestChange?.utf8.count ?? 0, changeBudget)
        let globs = context.scope.map(Glob.init)
        let listed: [(path: String, size: Int)]
        do {
            listed = try repository.files(inTree: context.bestTree)
        } catch {
            throw ProposerError("cannot list the files of the best tree \(context.bestTree.short): \(error.message)")
        }
        var files = listed.filter { file in globs.contains { $0.matches(file.path) } }.map { PromptFile(path: $0.path, size: $0.size) }
        let chosen = Set(Self.select(files, budget: contextBytes - changeBytes).included)
        for index in files.indices where chosen.contains(files[index].path) {
            let bytes = (try? repository.file(at: files[index].path, inTree: context.bestTree)) ?? nil
            guard let bytes else { continue }
            // Text only: a NUL byte or invalid UTF-8 marks a binary file.
            if !bytes.contains(0), let text = String(bytes: bytes, encoding: .utf8) {
                files[index].text = text
            }
        }
        return PromptMaterial(
            objective: context.objective, scope: context.scope, files: files, bestChange: bestChange,
            recent: Array(context.recent.suffix(history)),
            inFlight: context.inFlight,
            guidance: Self.readGuidance(guidanceFile ?? context.guidanceFile)
        )
    }

    /// The guidance file's text, or `nil` when it is unset, missing or empty.
    static func readGuidance(_ path: String?) -> String? {
        guard let path, let data = FileManager.default.contents(atPath: path) else { return nil }
        let text = String(decoding: data, as: UTF8.self).trimmedWhitespace
        return text.isEmpty ? nil : text
    }

    /// Which files fit in `budget` bytes: drops the largest until the rest fit.
    /// Returns the included paths in their original order and the omitted ones, largest first.
    public static func select(_ files: [PromptFile], budget: Int) -> (included: [String], omitted: [String]) {
        var total = files.reduce(0) { $0 + $1.size }
        var omitted: [String] = []
        var dropped = Set<String>()
        // Largest first; ties broken by path so the choice is stable.
        for file in files.sorted(by: { ($0.size, $1.path) > ($1.size, $0.path) }) {
            guard total > budget else { break }
            omitted.append(file.path)
            dropped.insert(file.path)
            total -= file.size
        }
        return (files.map(\.path).filter { !dropped.contains($0) }, omitted)
    }

    // MARK: Assembling

    /// The prompt for `material`. Pure: the same material gives the same prompt.
    public func assemble(_ material: PromptMaterial) -> Prompt {
        var user: [String] = []
        user.append(objectiveSection(material.objective))
        if let guidance = material.guidance {
            user.append("## Guidance from the person running the loop\n\n\(guidance.bounded(max(1000, contextBytes / 10)))")
        }
        if let change = material.bestChange {
            user.append(
                """
                ## Changes kept so far
                The current best code differs from the original code by this diff (already applied; \
                propose your change on top of it):

                ```diff
                \(change.bounded(changeBudget, keepingTail: 0).trimmed(of: "\n"))
                ```
                """
            )
        }
        let recent = Array(material.recent.suffix(history))
        if history > 0 && !recent.isEmpty {
            var lines = ["## Recent attempts (oldest first; do not repeat them)"]
            for (index, attempt) in recent.enumerated() {
                var line = "\(index + 1). \"\(attempt.title)\": \(attempt.outcome)"
                if let reason = attempt.reason, !reason.isEmpty {
                    line += " — " + reason.bounded(Self.reasonBytes, keepingTail: Self.reasonBytes / 2).trimmedWhitespace
                }
                lines.append(line)
            }
            user.append(lines.joined(separator: "\n"))
        }
        if !material.inFlight.isEmpty {
            var lines = ["## Being tried now (measured in parallel; propose something different)"]
            for attempt in material.inFlight { lines.append("- \"\(attempt.title.bounded(Self.reasonBytes, keepingTail: 0).trimmedWhitespace)\"") }
            user.append(lines.joined(separator: "\n"))
        }
        user.append(filesSection(material))
        user.append(Self.replyFormat(scope: material.scope))
        var omitted = Self.select(material.files, budget: contextBytes - min(material.bestChange?.utf8.count ?? 0, changeBudget)).omitted
        omitted += material.files.filter { $0.text == nil && !omitted.contains($0.path) }.map(\.path)
        return Prompt(system: Self.system(material.objective), user: user.joined(separator: "\n\n") + "\n", omittedFiles: omitted)
    }

    static func system(_ objective: Objective?) -> String {
        let goal =
            objective.map { "improving the \($0.metric) of a program (\($0.direction == .lower ? "lower" : "higher") is better)" }
            ?? "improving a program"
        return """
            You are an expert software engineer \(goal), one small change at a time. \
            Every change you propose is applied to the current best version of the code, built, tested and \
            benchmarked against it, and kept only if it is measurably better; a change that breaks the build \
            or the tests is thrown away. Propose one focused change per reply and keep behaviour intact.
            """
    }

    static func format(_ value: Double) -> String {
        if value == value.rounded(), abs(value) < 1e12 { return String(Int(value)) }
        return String(format: "%.6g", value)
    }

    func objectiveSection(_ objective: Objective?) -> String {
        guard let objective else {
            return "## Objective\nMake the code measurably better without changing its behaviour."
        }
        var lines = ["## Objective"]
        lines.append("Metric: \(objective.metric) — \(objective.direction == .lower ? "lower" : "higher") is better.")
        if let best = objective.bestValue {
            var line = "Current best: \(Self.format(best))"
            if let base = objective.baseValue {
                line += "; original code: \(Self.format(base))"
                if base != 0 {
                    let gain = objective.direction == .lower ? (base - best) / abs(base) : (best - base) / abs(base)
                    line += String(format: " (the best is %.1f%% %@ so far)", abs(gain) * 100, gain >= 0 ? "better" : "worse")
                }
            }
            lines.append(line + ".")
        } else if let base = objective.baseValue {
            lines.append("Original code: \(Self.format(base)).")
        }
        lines.append(
            String(
                format: "A change is kept only if it improves the metric by at least %.1f%%, with statistical confidence.", objective.minEffect * 100)
        )
        lines.append("Benchmark command: `\(objective.bench)`")
        return lines.joined(separator: "\n")
    }

    func filesSection(_ material: PromptMaterial) -> String {
        var lines = ["## Files you may change", "Scope: \(material.scope.joined(separator: ", "))"]
        let shown = material.files.filter { $0.text != nil }
        let budget = contextBytes - min(material.bestChange?.utf8.count ?? 0, changeBudget)
        let omitted = Self.select(material.files, budget: budget).omitted
        let binary = material.files.filter { $0.text == nil && !omitted.contains($0.path) }.map(\.path)
        if material.files.isEmpty {
            lines.append("No file in the best code matches the scope.")
        }
        if !omitted.isEmpty {
            let sizes = Dictionary(material.files.map { ($0.path, $0.size) }, uniquingKeysWith: { a, _ in a })
            lines.append("")
            lines.append("Left out to fit the context budget of \(contextBytes) bytes (largest first; you may still change them):")
            for path in omitted.prefix(Self.listLimit) { lines.append("- \(path) (\(sizes[path] ?? 0) bytes)") }
            if omitted.count > Self.listLimit { lines.append("- … and \(omitted.count - Self.listLimit) more") }
        }
        if !binary.isEmpty {
            lines.append("")
            lines.append("Binary, not shown: " + binary.prefix(Self.listLimit).joined(separator: ", "))
        }
        for file in shown {
            guard let text = file.text else { continue }
            let fence = text.contains("```") ? "````" : "```"
            lines.append("")
            lines.append("### \(file.path)")
            lines.append(fence)
            lines.append(text.hasSuffix("\n") ? String(text.dropLast()) : text)
            lines.append(fence)
        }
        return lines.joined(separator: "\n")
    }

    static func replyFormat(scope: [String]) -> String {
        """
        ## How to reply
        First line: `Title: <what the change does, under 70 characters>`.
        Then the change as a unified diff in a single ```diff fenced block, as `git diff` prints it:
        - paths relative to the repository root with a/ and b/ prefixes (`--- a/src/x.c`, `+++ b/src/x.c`; \
        `--- /dev/null` for a new file);
        - hunk headers `@@ -l,n +l,n @@`, each with three lines of unchanged context copied exactly from the files above;
        - change only files matching the scope (\(scope.joined(separator: ", "))).
        Keep any explanation short and before the diff block.
        """
    }
}
