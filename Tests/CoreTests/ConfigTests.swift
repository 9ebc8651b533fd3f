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
            validConfig.replacingOccurrences(of: "[commands.bench]", with: "[commands.validate]\nrun = \"sh check/compare.sh\"\n[commands.bench]"), file: "r.toml",
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
