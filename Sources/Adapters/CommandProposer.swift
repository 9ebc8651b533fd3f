import Core
import Execution
import Foundation
import Git

/// Runs any program — a coding-agent CLI or a script — in a scratch copy of the best code,
/// and proposes what it changed there.
///
/// The prompt (`PromptBuilder`) reaches the program on standard input, in a file, or in an
/// environment variable (`prompt_via`). Whatever the delivery, these are set:
/// - `RATCHET_PROMPT_FILE`: a file holding the prompt (outside the scratch folder);
/// - `RATCHET_PROMPT`: the prompt itself, with `prompt_via = "env"` only;
/// - `RATCHET_LOOP`, `RATCHET_BEST_COMMIT`: the loop's name and the best commit's id.
///
/// The program runs with `/bin/sh -c` in its own process group, which is killed at the
/// timeout, in the runner's sandbox: for a loop, `Sandbox.forProposer` (with bubblewrap, the
/// scratch folder is the only writable place and the repository, the state folder and the
/// user's home are hidden). After it exits 0, the proposal is the diff of the scratch folder against the best
/// tree; when it changed nothing there, a unified diff printed on standard output is used
/// instead. A line `RATCHET_USAGE input=<tokens> output=<tokens> cost=<amount>` on either
/// stream (any field may be left out; the last such line wins) reports model usage; without
/// `cost`, it is computed from the configured prices.
public struct CommandProposer: Proposer {
    /// Each lane runs its own agent, in its own scratch slot.
    public var proposesConcurrently: Bool { true }

    public let spec: AgentCommandSpec
    let runner: CommandRunner
    let environment: [String: String]

    public var kind: String { "command" }
    public var usesScratch: Bool { true }

    /// `RATCHET_PROMPT` beyond this many bytes would exceed the kernel's limit on one
    /// environment string (128 KiB on Linux).
    static let maxEnvironmentPrompt = 120_000

    /// - Parameter environment: where `pass_env` variables are read from (the process environment by default).
    public init(spec: AgentCommandSpec, runner: CommandRunner = CommandRunner(), environment: [String: String] = ProcessInfo.processInfo.environment)
    {
        self.spec = spec
        self.runner = runner
        self.environment = environment
    }

    public func propose(_ context: ProposalContext, repository: Repository, scratch: Slot?) async throws(ProposerError) -> Proposal? {
        guard let scratch else {
            throw ProposerError("command proposer: no scratch folder was given (the runner must pass one when usesScratch is true)")
        }
        let secrets = spec.passEnvironment.compactMap { environment[$0] }.filter { !$0.isEmpty }
        let redactor = Redactor(secrets: secrets)
        let prompt = try PromptBuilder(spec.prompt).build(context, repository: repository)
        let text = prompt.text
        if spec.promptVia == .env && text.utf8.count > Self.maxEnvironmentPrompt {
            throw ProposerError(
                "command proposer: the prompt is \(text.utf8.count) bytes, too large for an environment variable; "
                    + "use prompt_via = \"file\" or \"stdin\", or lower context_bytes")
        }
        let failure = "command:failed:\(UUID().uuidString.prefix(8).lowercased())"

        // The prompt lives outside the scratch folder, so it is never part of the diff. In
        // bubblewrap it is in the host's /tmp, bound read-only into the program's private /tmp.
        var runner = self.runner
        let temporary = runner.sandbox.bubblewrap == nil ? FileManager.default.temporaryDirectory.path : "/tmp"
        let folder = temporary + "/ratchet-prompt-\(UUID().uuidString.prefix(8))"
        if runner.sandbox.bubblewrap != nil { runner.sandbox.readOnly.append(folder) }
        let promptFile = folder + "/prompt.md"
        do {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            try Data(text.utf8).write(to: URL(fileURLWithPath: promptFile))
        } catch {
            throw ProposerError("command proposer: cannot write the prompt file \(promptFile): \(error.localizedDescription)")
        }
        defer { try? FileManager.default.removeItem(atPath: folder) }

        var extra: [String: String] = [
            "RATCHET_PROMPT_FILE": promptFile,
            "RATCHET_LOOP": context.loop,
            "RATCHET_BEST_COMMIT": context.bestCommit.hex,
        ]
        for name in spec.passEnvironment {
            if let value = environment[name] { extra[name] = value }
        }
        if spec.promptVia == .env { extra["RATCHET_PROMPT"] = text }

        let result: CommandResult
        do {
            result = try await runner.run(
                spec.run, in: scratch.directory, timeout: spec.timeout, environment: extra,
                standardInput: spec.promptVia == .stdin ? promptFile : nil)
        } catch {
            throw ProposerError("command proposer: \(error.description)")
        }

        let usage = Self.usage(in: result.output + "\n" + result.errorOutput, priceIn: spec.priceInputPerMTok, priceOut: spec.priceOutputPerMTok)
        let transcript = Transcript(prompt: redactor.redact(text), response: redactor.redact(Self.transcriptResponse(result)))
        guard result.succeeded else {
            let what = result.timedOut ? result.summary : "\(result.summary)"
            let tail = redactor.redact(result.tail(lines: 20))
            throw ProposerError(
                source: failure, "command `\(spec.run.excerpt(80))` \(what)" + (tail.isEmpty ? "" : ":\n\(tail)"),
                usage: usage, transcript: transcript)
        }

        var diff: String
        do {
            diff = try scratch.diff(against: context.bestTree)
        } catch {
            throw ProposerError(
                source: failure, "command proposer: cannot diff the scratch folder: \(error.message)", usage: usage, transcript: transcript)
        }
        var fromOutput = false
        if diff.isEmpty {
            guard let printed = ReplyParser.extractDiff(from: result.output) else {
                throw ProposerError(
                    source: failure, "command `\(spec.run.excerpt(80))` changed no file and printed no diff", usage: usage, transcript: transcript)
            }
            diff = printed
            fromOutput = true
        }
        do {
            _ = try repository.parsePatch(diff)
        } catch {
            let origin = fromOutput ? "the diff it printed" : "the scratch folder's diff"
            throw ProposerError(source: failure, "command proposer: \(origin) is not usable: \(error.message)", usage: usage, transcript: transcript)
        }
        let source = "command:\(stableHash(diff))"
        if context.tried.contains(source) {
            throw ProposerError(source: source, "command proposed a change that was already tried (\(source))", usage: usage, transcript: transcript)
        }
        let title = ReplyParser.title(from: Self.lastLines(result.output)) ?? "command: \(ModelProposer.touchedFiles(diff))"
        return Proposal(source: source, title: title, diff: diff, usage: usage, transcript: transcript)
    }

    /// A `Title:` line near the end of the output names the change (agents print a summary last).
    static func lastLines(_ output: String) -> String {
        let titled = output.split(separator: "\n").last { $0.trimmed(of: " *#").lowercased().hasPrefix("title:") }
        return titled.map(String.init) ?? ""
    }

    static func transcriptResponse(_ result: CommandResult) -> String {
        var text = result.output.bounded(64 << 10, keepingTail: 32 << 10)
        if !result.errorOutput.isEmpty {
            text += "\n--- stderr ---\n" + result.errorOutput.bounded(16 << 10, keepingTail: 8 << 10)
        }
        return text
    }

    /// The last `RATCHET_USAGE` line in `output`, or `nil` when there is none.
    public static func usage(in output: String, priceIn: Double = 0, priceOut: Double = 0) -> Usage? {
        guard let line = output.split(whereSeparator: \.isNewline).last(where: { $0.trimmed(of: " \t").hasPrefix("RATCHET_USAGE") }) else {
            return nil
        }
        var usage = Usage()
        var cost: Double?
        for field in line.trimmed(of: " \t").split(separator: " ").dropFirst() {
            let pair = field.split(separator: "=", maxSplits: 1)
            guard pair.count == 2 else { continue }
            switch pair[0] {
            case "input": usage.inputTokens = Int(pair[1]) ?? 0
            case "output": usage.outputTokens = Int(pair[1]) ?? 0
            case "cost": cost = Double(pair[1])
            default: continue
            }
        }
        usage.cost = cost ?? (Double(usage.inputTokens) * priceIn + Double(usage.outputTokens) * priceOut) / 1e6
        return usage
    }
}
