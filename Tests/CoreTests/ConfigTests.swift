import Core
import Foundation
import Testing

let validConfig = """
    [loop]
    name = "demo"
    base = "main"
    scope = ["src/**"]

    [commands.build]
    run = "make"
    timeout = "2m"
    [commands.test]
    run = "make test"
    [commands.bench]
    run = "./bench"
    timeout = 30

    [metric]
    source = "regex"
    pattern = 'time: ([0-9.]+)'
    direction = "higher"
    min_effect = 0.05
    confidence = 0.99
    min_pairs = 3
    max_pairs = 12
    warmup = 0

    [proposer]
    kind = ["tuner", "patches"]
    seed = 9

    [proposer.patches]
    dir = "patches"

    [[proposer.tuner.knob]]
    name = "n"
    file = "src/config.h"
    pattern = '#define N (\\d+)'
    values = [1, 2, 4.5, true, "fast"]
    """

@Suite struct ConfigTests {
    @Test func parallelAndExecutorSections() throws {
        let plain = try LoopConfig.parse(validConfig, file: "r.toml", directory: "/w")
        #expect(plain.parallel == ParallelSpec() && plain.parallel.candidates == 1 && plain.executor.kind == .local)
        let text =
            validConfig + """

                [parallel]
                candidates = 4
                cpus_per_measurement = 2
                overlap_builds = true
                lock_dir = "locks"

                [executor]
                kind = "slurm"
                partition = "debug"
                time = "0-00:30:00"
                exclusive = false
                sbatch_args = ["--qos=low"]
                shared_dir = "/shared/ratchet"
                """
        let config = try LoopConfig.parse(text, file: "r.toml", directory: "/w")
        #expect(config.parallel == ParallelSpec(candidates: 4, cpusPerMeasurement: 2, overlapBuilds: true, lockDirectory: "/w/locks"))
        #expect(
            config.executor
                == ExecutorSpec(
                    kind: .slurm, partition: "debug", time: "0-00:30:00", exclusive: false, sbatchArguments: ["--qos=low"],
                    sharedDirectory: "/shared/ratchet"))
        let bad = validConfig + "\n[parallel]\ncandidates = 0\nspeed = 2\n[executor]\nkind = \"cloud\"\ntime = \"soon\"\nshared_dir = \"rel\"\n"
        let error = try #require(throws: ConfigError.self) { try LoopConfig.parse(bad, file: "r.toml", directory: "/w") }
        #expect(Set(error.problems.map(\.key)) == ["parallel.speed", "parallel.candidates", "executor.kind", "executor.time", "executor.shared_dir"])
        #expect(error.problems.first { $0.key == "executor.kind" }?.message.contains("use \"local\" or \"slurm\"") == true)
        let local = validConfig + "\n[executor]\npartition = \"debug\"\n"
        let misplaced = try #require(throws: ConfigError.self) { try LoopConfig.parse(local, file: "r.toml", directory: "/w") }
        #expect(misplaced.problems.map(\.message) == ["applies only to kind = \"slurm\""])
    }

    @Test func parsesEveryKey() throws {
        let config = try LoopConfig.parse(validConfig, file: "/w/ratchet.toml", directory: "/w")
        #expect(config.name == "demo")
        #expect(config.repository == "/w")
        #expect(config.base == "main")
        #expect(config.scope == ["src/**"])
        #expect(config.build == CommandSpec(run: "make", timeout: 120))
        #expect(config.test == CommandSpec(run: "make test", timeout: 600))
        #expect(config.bench == CommandSpec(run: "./bench", timeout: 30))
        #expect(config.metric.source == .regex(pattern: "time: ([0-9.]+)"))
        #expect(config.metric.decision == DecisionPolicy(direction: .higher, minEffect: 0.05, confidence: 0.99, minPairs: 3, maxPairs: 12))
        #expect(config.metric.warmup == 0)
        #expect(config.seed == 9)
        #expect(config.proposers.map(\.kind) == ["tuner", "patches"])
        #expect(config.proposers.last == .patches(directory: "/w/patches"))
        guard case .tuner(let knobs) = config.proposers.first else {
            Issue.record("first proposer is not the tuner")
            return
        }
        #expect(knobs == [KnobSpec(name: "n", file: "src/config.h", pattern: "#define N (\\d+)", values: ["1", "2", "4.5", "true", "fast"])])
        #expect(config.branch == "refs/heads/ratchet/demo")
        #expect(config.stateDirectory(gitDirectory: "/w/.git/") == "/w/.git/ratchet")
    }

    @Test func unknownKeysAreNamedWithTheirLine() throws {
        let text = validConfig.replacingOccurrences(of: "warmup = 0", with: "warmup = 0\nwarmups = 3")
        let error = try #require(throws: ConfigError.self) { try LoopConfig.parse(text, file: "r.toml", directory: "/w") }
        let problem = try #require(error.problems.first)
        #expect(problem.key == "metric.warmups")
        #expect(problem.line == 24)
        #expect(problem.message.contains("allowed here"))
        #expect(error.description.contains("r.toml"))
    }

    /// `[sandbox] writable`: relative globs, kept; a path that leaves the repository is refused by name.
    @Test func sandboxWritableGlobs() throws {
        let good = try LoopConfig.parse(validConfig + "\n[sandbox]\nwritable = [\"src/gen/**\"]\n", file: "r.toml", directory: "/w")
        #expect(good.sandbox.writable == ["src/gen/**"])
        let text = validConfig + "\n[sandbox]\nwritable = [\"src/gen/**\", \"/etc/passwd\", \"../x\"]\n"
        let error = try #require(throws: ConfigError.self) { try LoopConfig.parse(text, file: "r.toml", directory: "/w") }
        #expect(error.problems.map(\.key) == ["sandbox.writable[1]", "sandbox.writable[2]"])
        #expect(error.problems.first?.message.contains("'/etc/passwd' must be a glob relative to the repository") == true)
        // Validate's and extra benchmarks' files are the evaluator's too.
        let config = try LoopConfig.parse(
            validConfig.replacingOccurrences(of: "[commands.bench]", with: "[commands.validate]\nrun = \"sh check/compare.sh\"\n[commands.bench]"),
            file: "r.toml",
            directory: "/w")
        #expect(config.protectedPaths(fileExists: { $0 == "check/compare.sh" }).contains("check/compare.sh"))
    }

    @Test func wrongTypesMissingCommandsAndBadValuesAreAllReported() throws {
        let text = """
            [loop]
            name = 5
            scope = "src/**"
            [commands.build]
            run = "make"
            timeout = "soon"
            [metric]
            direction = "faster"
            min_effect = 2
            min_pairs = 10
            max_pairs = 4
            [proposer]
            kind = "oracle"
            """
        let error = try #require(throws: ConfigError.self) { try LoopConfig.parse(text, file: "r.toml", directory: "/w") }
        let keys = error.problems.map(\.key)
        #expect(keys.contains("loop.name"))
        #expect(keys.contains("commands.build.timeout"))
        #expect(keys.contains("commands.bench"))
        #expect(keys.contains("metric.direction"))
        #expect(keys.contains("metric.min_effect"))
        #expect(keys.contains("metric.max_pairs"))
        #expect(keys.contains("proposer.kind"))
        let name = try #require(error.problems.first { $0.key == "loop.name" })
        #expect(name.message.contains("must be a string"))
        #expect(name.line == 2)
        let bench = try #require(error.problems.first { $0.key == "commands.bench" })
        #expect(bench.message.contains("needs a bench command"))
    }

    @Test func invalidTOMLGivesTheLine() throws {
        let error = try #require(throws: ConfigError.self) {
            try LoopConfig.parse("[loop]\nname = \"x\"\nbad line here\n", file: "r.toml", directory: "/w")
        }
        #expect(error.problems.first?.line == 3)
        #expect(error.description.contains("not valid TOML"))
    }

    @Test func loopNameMustBeUsableAsABranch() throws {
        for bad in ["a b", "../x", "x.lock", ""] {
            let text = validConfig.replacingOccurrences(of: "name = \"demo\"", with: "name = \"\(bad)\"")
            #expect(throws: ConfigError.self) { try LoopConfig.parse(text, file: "r.toml", directory: "/w") }
        }
    }

    @Test func knobPatternNeedsACaptureGroup() throws {
        let text = validConfig.replacingOccurrences(of: "pattern = '#define N (\\d+)'", with: "pattern = '#define N \\d+'")
        let error = try #require(throws: ConfigError.self) { try LoopConfig.parse(text, file: "r.toml", directory: "/w") }
        #expect(error.problems.contains { $0.key == "proposer.tuner.knob[0].pattern" && $0.message.contains("capture group") })
    }

    @Test func durations() {
        #expect(Durations.seconds("90s") == 90)
        #expect(Durations.seconds("5m") == 300)
        #expect(Durations.seconds("1.5h") == 5400)
        #expect(Durations.seconds("250ms") == 0.25)
        #expect(Durations.seconds("12") == 12)
        #expect(Durations.seconds("soon") == nil)
        #expect(Durations.seconds("-1s") == nil)
    }

    @Test func paths() {
        #expect(Paths.resolve("../b/./c", from: "/w/a") == "/w/b/c")
        #expect(Paths.resolve("/abs", from: "/w") == "/abs")
        #expect(Paths.relative("/w/a/patches", to: "/w/a") == "patches")
        #expect(Paths.relative("/elsewhere", to: "/w/a") == nil)
    }
}

/// `[checkpoint] approvals`, `[[checkpoint.rule]]` and `forbid_self_approval`, and how many
/// approvals a change needs.
@Suite struct ApprovalConfigTests {
    static let rules = """

        [checkpoint]
        approvals = 1
        forbid_self_approval = true

        [[checkpoint.rule]]
        paths = ["src/crypto/**"]
        approvals = 2

        [[checkpoint.rule]]
        paths = ["src/keys/*.pem", "deploy/**"]
        approvals = 3
        """

    @Test func parsesApprovalsRulesAndSelfApproval() throws {
        let config = try LoopConfig.parse(validConfig + Self.rules, file: "r.toml", directory: "/w")
        #expect(config.checkpoint.approvals == 1)
        #expect(config.checkpoint.forbidSelfApproval)
        #expect(
            config.checkpoint.rules == [
                ApprovalRule(paths: ["src/crypto/**"], approvals: 2), ApprovalRule(paths: ["src/keys/*.pem", "deploy/**"], approvals: 3),
            ])
        let plain = try LoopConfig.parse(validConfig, file: "r.toml", directory: "/w")
        #expect(plain.checkpoint.approvals == 1 && plain.checkpoint.rules.isEmpty && !plain.checkpoint.forbidSelfApproval)
    }

    @Test func theStrictestMatchingRuleDecides() throws {
        let checkpoint = try LoopConfig.parse(validConfig + Self.rules, file: "r.toml", directory: "/w").checkpoint
        #expect(checkpoint.requiredApprovals(paths: ["src/main.c"]) == ApprovalRequirement(count: 1, because: nil))
        #expect(checkpoint.requiredApprovals(paths: ["src/main.c", "src/crypto/aes.c"]).count == 2)
        let both = checkpoint.requiredApprovals(paths: ["src/crypto/aes.c", "src/keys/a.pem"])
        #expect(both.count == 3)
        #expect(both.because == "src/keys/a.pem matches src/keys/*.pem")
    }

    /// Every problem at once, each with its key and the line of that rule, not the first one's.
    @Test func badRulesAreAllReportedWithKeyAndLine() throws {
        let text =
            validConfig + """

                [checkpoint]
                approvals = 0
                forbid_self_approval = "yes"

                [[checkpoint.rule]]
                paths = ["src/crypto/**"]
                approvals = 2

                [[checkpoint.rule]]
                paths = ["/etc/**"]
                approvals = 11
                colour = "red"

                [[checkpoint.rule]]
                approvals = 2
                """
        let error = try #require(throws: ConfigError.self) { try LoopConfig.parse(text, file: "r.toml", directory: "/w") }
        let byKey = Dictionary(error.problems.map { ($0.key, $0) }, uniquingKeysWith: { first, _ in first })
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        func line(_ prefix: String, after: Int = 0) -> Int? {
            lines.indices.first { $0 >= after && lines[$0].hasPrefix(prefix) }.map { $0 + 1 }
        }
        #expect(byKey["checkpoint.approvals"]?.message.contains("between 1 and 10") == true)
        #expect(byKey["checkpoint.forbid_self_approval"]?.message.contains("true or false") == true)
        let second = try #require(line("[[checkpoint.rule]]", after: (line("[[checkpoint.rule]]") ?? 0)))
        #expect(byKey["checkpoint.rule[1].paths[0]"]?.message.contains("relative to the repository") == true)
        #expect(byKey["checkpoint.rule[1].approvals"]?.line == line("approvals = 11"))
        #expect(byKey["checkpoint.rule[1].colour"]?.line == line("colour"))
        #expect((byKey["checkpoint.rule[1].approvals"]?.line ?? 0) > second)
        #expect(byKey["checkpoint.rule[2].paths"]?.message.contains("missing") == true)
        #expect(byKey["checkpoint.rule[0].approvals"] == nil)
    }

    /// Distinct people count once; the loop never counts; the run's starter does not count
    /// when self-approval is forbidden.
    @Test func tallyCountsDistinctPeopleOnly() {
        let two = ApprovalRequirement(count: 2, because: "src/a.c matches src/**")
        let tally = ApprovalTally(approvers: ["ada", "Ada ", "ratchet", "root"], required: two, starter: "root", forbidSelfApproval: true)
        #expect(tally.counted == ["ada"])
        #expect(tally.ignored.map { $0.name } == ["Ada ", "ratchet", "root"])
        #expect(!tally.isMet && tally.missing == 1)
        #expect(tally.summary == "1 of 2 approvals (by ada); needs 1 more from another reviewer (src/a.c matches src/** needs 2)")
        let allowed = ApprovalTally(approvers: ["ada", "root"], required: two, starter: "root", forbidSelfApproval: false)
        #expect(allowed.isMet && allowed.counted == ["ada", "root"])
    }

    @Test func rolesAllowWhatTheyName() {
        #expect(Role.viewer.allows(.view) && !Role.viewer.allows(.review) && !Role.viewer.allows(.pause) && !Role.viewer.allows(.promote))
        #expect(Role.reviewer.allows(.review) && Role.reviewer.allows(.pause) && !Role.reviewer.allows(.promote))
        #expect(Role.admin.allows(.promote))
        #expect(Permission.promote.leastRole == .admin && Permission.review.leastRole == .reviewer)
    }
}
