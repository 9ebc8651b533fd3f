import ArgumentParser
import Foundation
import Git

struct Init: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Write a commented starter ratchet.toml.")

    @Option(name: .shortAndLong, help: "Where to write the config.")
    var config: String = "ratchet.toml"

    @Flag(help: "Overwrite an existing file.")
    var force = false

    func run() async throws {
        try await reporting {
            if FileManager.default.fileExists(atPath: config) && !force {
                throw Failure(message: "\(config) already exists; pass --force to overwrite it", status: .usage)
            }
            guard FileManager.default.createFile(atPath: config, contents: Data(Self.starter.utf8)) else {
                throw Failure(message: "cannot write \(config)", status: .internalError)
            }
            print("wrote \(config)\n\nNext:")
            for (number, step) in Self.nextSteps(config: config).enumerated() {
                print("  \(number + 1). " + step.replacingOccurrences(of: "\n", with: "\n     "))
            }
        }
    }

    /// What is left before `ratchet run` works, for the folder the config was written in: a
    /// repository with a commit, a base branch that exists, the commands filled in. Each step
    /// is a few lines of at most 75 columns.
    static func nextSteps(config: String) -> [String] {
        let folder = URL(fileURLWithPath: config).deletingLastPathComponent().path
        var steps: [String] = []
        do throws(GitError) {
            let repository = try Repository(discovering: folder)
            var branch: String?
            if let head = try? repository.headReferenceName(), head.hasPrefix("refs/heads/") {
                branch = String(head.dropFirst("refs/heads/".count))
            }
            if (try? repository.resolveCommit("HEAD")) == nil {
                steps.append("Commit your code: a loop starts from a commit.\n`git add -A && git commit -m initial`")
            }
            if (try? repository.resolveCommit("main")) == nil, let branch, branch != "main" {
                steps.append("Set base = \"\(branch)\" in [loop]: there is no branch main here.")
            }
        } catch  where error.code == .notARepository {
            steps.append(
                "Make this folder a git repository with your code committed: a loop\nstarts from a commit.\n"
                    + "`git init -b main && git add -A && git commit -m initial`")
        } catch {
            steps.append("Fix the repository: \(error)")
        }
        steps.append("Edit \(config): the loop's name and scope, and the build, test and\nbench commands (bench is required).")
        steps.append("Check it with `ratchet status`, then start the loop with `ratchet run`.")
        return steps
    }

    static let starter = """
        # Ratchet loop configuration. Relative paths are relative to this file.

        [loop]
        name = "my-loop"              # the loop branch is ratchet/<name>
        base = "main"                 # the commit the loop starts from
        scope = ["src/**"]            # globs a candidate may change; everything else is refused
        # repository = "."            # the git repository (default: this file's folder)
        # state_dir = ".git/ratchet"  # where slots and the database live (default: inside .git)

        [commands.build]              # optional; runs in the slot before tests
        run = "make -s"
        timeout = "5m"

        [commands.test]               # optional; must pass before any benchmark runs
        run = "make -s test"
        timeout = "5m"

        [commands.bench]              # required; run for baseline and candidate, interleaved
        run = "./bench"
        timeout = "60s"

        [metric]
        source = "wall_time"          # wall_time | regex | json | hyperfine
        # pattern = 'time: ([0-9.]+)' # regex: the first group is the number
        # path = "results[0].mean"    # json: path into stdout, or into `file`
        # file = "bench.json"         # json/hyperfine: a file the bench command writes in the slot
        direction = "lower"           # lower | higher is better
        min_effect = 0.02             # accept only improvements of at least 2%…
        confidence = 0.95             # …at this confidence
        min_pairs = 5                 # baseline/candidate pairs before the first look
        max_pairs = 30                # give up (inconclusive) after this many
        # futility = 0.1              # stop early when even an optimistic reading gives < 10% chance to accept
        warmup = 1                    # discarded runs of each side first
        # aa_pairs = 10               # A/A pairs across the two slots per best commit (0 = off)
        # confirm = true              # a fresh round confirms every accept…
        # confirm_confidence = 0.9    # …at this confidence (the false-accept bound is the first round's)
        # confirm_with = "same"       # or "wall_time" (the default for source = "callgrind")

        [proposer]
        kind = "tuner"                # tuner | patches, or a list: ["tuner", "patches"]
        seed = 1

        # [proposer.patches]
        # dir = "patches"             # *.diff / *.patch, replayed in name order

        [[proposer.tuner.knob]]
        name = "block_size"
        file = "src/config.h"
        pattern = '#define BLOCK_SIZE (\\d+)'   # group 1 is the value the tuner replaces
        values = [16, 32, 64, 128]

        """
}
