import Core
import Foundation
import Testing

@Suite struct TunerTests {
    let knobs = [
        KnobSpec(name: "a", file: "f", pattern: "A (\\d+)", values: ["1", "2", "3"]),
        KnobSpec(name: "b", file: "f", pattern: "B (\\d+)", values: ["x", "y"]),
    ]

    @Test func triesNeighboursOfTheBestAndRemembers() throws {
        let search = TunerSearch(knobs: knobs, seed: 0)
        var tried: Set<String> = ["a=1;b=x"]
        var seen: [String] = []
        while let next = search.next(current: ["a": "1", "b": "x"], tried: tried) {
            #expect(!tried.contains(next.key))
            tried.insert(next.key)
            seen.append(next.key)
        }
        // Every single-knob neighbour of the best, once each; never two knobs at a time.
        #expect(Set(seen) == ["a=2;b=x", "a=3;b=x", "a=1;b=y"])
    }

    @Test func nearestValueFirst() throws {
        let search = TunerSearch(knobs: [knobs[0]], seed: 0)
        let next = try #require(search.next(current: ["a": "2"], tried: []))
        #expect(next.changed.from == "2")
        #expect(["1", "3"].contains(next.changed.to))
    }

    @Test func sameSeedSameOrderDifferentSeedsCanDiffer() {
        let many = (0..<6).map { KnobSpec(name: "k\($0)", file: "f", pattern: "(\\d)", values: ["0", "1"]) }
        let current = Dictionary(uniqueKeysWithValues: many.map { ($0.name, "0") })
        let first = TunerSearch(knobs: many, seed: 42).next(current: current, tried: [])
        let again = TunerSearch(knobs: many, seed: 42).next(current: current, tried: [])
        #expect(first == again)
        let others = Set((0..<10).compactMap { TunerSearch(knobs: many, seed: UInt64($0)).next(current: current, tried: [])?.changed.knob })
        #expect(others.count > 1)
    }

    @Test func unknownCurrentValueStillSearches() throws {
        let search = TunerSearch(knobs: [knobs[0]], seed: 0)
        let next = try #require(search.next(current: ["a": "7"], tried: []))
        #expect(next.changed.from == "7")
    }
}

@Suite struct CandidateStateTests {
    @Test func forwardOnly() throws {
        let state = CandidateState.running(.apply)
        #expect(try state.advanced(to: .running(.build)) == .running(.build))
        #expect(throws: CandidateState.InvalidTransition.self) { try state.advanced(to: .running(.propose)) }
        #expect(throws: CandidateState.InvalidTransition.self) { try state.advanced(to: .finished(.accepted)) }
        #expect(try CandidateState.running(.decide).advanced(to: .finished(.accepted)) == .finished(.accepted))
        #expect(try state.advanced(to: .finished(.rejected)) == .finished(.rejected))
        #expect(throws: CandidateState.InvalidTransition.self) { try CandidateState.finished(.rejected).advanced(to: .running(.measure)) }
    }
}

@Suite struct MetricTests {
    @Test func wallTime() throws {
        #expect(try MetricExtractor.value(source: .wallTime, wallSeconds: 1.5, output: "", file: nil) == 1.5)
    }

    @Test func regex() throws {
        let source = MetricSource.regex(pattern: "took ([0-9.]+) ms")
        #expect(try MetricExtractor.value(source: source, wallSeconds: 0, output: "x\ntook 12.5 ms\n", file: nil) == 12.5)
        let error = try #require(throws: MetricError.self) { try MetricExtractor.value(source: source, wallSeconds: 0, output: "nothing", file: nil) }
        #expect(error.message.contains("did not match"))
    }

    @Test func jsonPathInOutputOrFile() throws {
        let json = #"{"results": [{"mean": 0.25, "name": "x"}], "n": "3"}"#
        #expect(try MetricExtractor.value(source: .json(path: "results[0].mean", file: nil), wallSeconds: 0, output: json, file: nil) == 0.25)
        #expect(try MetricExtractor.value(source: .json(path: "n", file: "o.json"), wallSeconds: 0, output: "", file: json) == 3)
        let missing = try #require(throws: MetricError.self) {
            try MetricExtractor.value(source: .json(path: "results[1].mean", file: nil), wallSeconds: 0, output: json, file: nil)
        }
        #expect(missing.message.contains("no element [1]"))
        #expect(throws: MetricError.self) {
            try MetricExtractor.value(source: .json(path: "results[0].name", file: nil), wallSeconds: 0, output: json, file: nil)
        }
        #expect(throws: MetricError.self) {
            try MetricExtractor.value(source: .json(path: "a", file: nil), wallSeconds: 0, output: "not json", file: nil)
        }
    }

    @Test func hyperfineExport() throws {
        let export = #"{"results":[{"command":"./b","mean":0.0123,"stddev":0.001,"times":[0.012,0.0126]}]}"#
        #expect(try MetricExtractor.value(source: .hyperfine(file: "h.json"), wallSeconds: 9, output: "", file: export) == 0.0123)
        let error = try #require(throws: MetricError.self) {
            try MetricExtractor.value(source: .hyperfine(file: "h.json"), wallSeconds: 9, output: "", file: nil)
        }
        #expect(error.message.contains("--export-json"))
    }

    @Test func jsonPathParsing() {
        #expect(JSONPath.parse("a.b[2].c") == [.key("a"), .key("b"), .index(2), .key("c")])
        #expect(JSONPath.parse("$.a") == [.key("a")])
        #expect(JSONPath.parse("a[x]") == nil)
        #expect(JSONPath.parse("") == nil)
    }
}

@Suite struct MeasurementConfigTests {
    @Test func constraintsAndHonestyKeysParse() throws {
        let text = validConfig.replacingOccurrences(
            of: "warmup = 0",
            with: """
                warmup = 0
                aa_pairs = 4
                confirm = false
                drift_every = 0
                outputs_must_match = true
                match_ignore = '^took '
                [[metric.constraint]]
                name = "memory"
                source = "peak_memory"
                max_regression = 0.05
                [[metric.constraint]]
                name = "instructions"
                source = "callgrind"
                max_regression = 0.0
                """
        ).replacingOccurrences(of: "[commands.bench]", with: "[commands.validate]\nrun = \"./check-against-baseline\"\n[commands.bench]")
        let config = try LoopConfig.parse(text, file: "r.toml", directory: "/w")
        #expect(config.metric.aaPairs == 4)
        #expect(!config.metric.confirm)
        #expect(config.metric.driftEvery == 0)
        #expect(config.metric.outputsMustMatch)
        #expect(config.metric.matchIgnore == "^took ")
        #expect(
            config.metric.constraints == [
                ConstraintSpec(name: "memory", source: .peakMemory, direction: .lower, maxRegression: 0.05),
                ConstraintSpec(name: "instructions", source: .callgrind, direction: .lower, maxRegression: 0),
            ])
        #expect(config.metric.needsCallgrind)
        #expect(config.validate == CommandSpec(run: "./check-against-baseline", timeout: 600))
    }

    @Test func confirmWithDefaultsToWallTimeForInstructionCounts() throws {
        #expect(try LoopConfig.parse(validConfig, file: "r.toml", directory: "/w").metric.confirmWith == .same)
        let callgrind = validConfig.replacingOccurrences(
            of: "source = \"regex\"\npattern = 'time: ([0-9.]+)'\ndirection = \"higher\"", with: "source = \"callgrind\"")
        #expect(try LoopConfig.parse(callgrind, file: "r.toml", directory: "/w").metric.confirmWith == .wallTime)
        let same = callgrind.replacingOccurrences(of: "warmup = 0", with: "warmup = 0\nconfirm_with = \"same\"")
        #expect(try LoopConfig.parse(same, file: "r.toml", directory: "/w").metric.confirmWith == .same)
        let regexTimed = validConfig.replacingOccurrences(of: "warmup = 0", with: "warmup = 0\nconfirm_with = \"wall_time\"")
        #expect(try LoopConfig.parse(regexTimed, file: "r.toml", directory: "/w").metric.confirmWith == .wallTime)
        let bad = validConfig.replacingOccurrences(of: "warmup = 0", with: "warmup = 0\nconfirm_with = \"cpu\"")
        let error = try #require(throws: ConfigError.self) { try LoopConfig.parse(bad, file: "r.toml", directory: "/w") }
        #expect(error.problems.contains { $0.key == "metric.confirm_with" && $0.message.contains("'cpu' is not allowed") })
        // Memory is not confirmed by speed.
        let memory = validConfig.replacingOccurrences(
            of: "source = \"regex\"\npattern = 'time: ([0-9.]+)'\ndirection = \"higher\"", with: "source = \"peak_memory\""
        )
        .replacingOccurrences(of: "warmup = 0", with: "warmup = 0\nconfirm_with = \"wall_time\"")
        let memoryError = try #require(throws: ConfigError.self) { try LoopConfig.parse(memory, file: "r.toml", directory: "/w") }
        #expect(memoryError.problems.contains { $0.key == "metric.confirm_with" && $0.message.contains("peak_memory") })
        // With [[benchmark]]s the decision is a combined gain: the default falls back to
        // "same", and asking for wall time is an error.
        let extra = "\n[[benchmark]]\nname = \"other\"\nrun = \"./other\"\nsource = \"wall_time\"\n"
        #expect(try LoopConfig.parse(callgrind + extra, file: "r.toml", directory: "/w").metric.confirmWith == .same)
        let combinedError = try #require(throws: ConfigError.self) { try LoopConfig.parse(regexTimed + extra, file: "r.toml", directory: "/w") }
        #expect(combinedError.problems.contains { $0.key == "metric.confirm_with" && $0.message.contains("combined gain") })
        // The confirmation round's confidence: the smaller of 0.9 and the decision's by default.
        #expect(try LoopConfig.parse(validConfig, file: "r.toml", directory: "/w").metric.effectiveConfirmConfidence == 0.9)
        let looser = validConfig.replacingOccurrences(of: "confidence = 0.99", with: "confidence = 0.8")
        #expect(try LoopConfig.parse(looser, file: "r.toml", directory: "/w").metric.effectiveConfirmConfidence == 0.8)
        let strict = validConfig.replacingOccurrences(of: "warmup = 0", with: "warmup = 0\nconfirm_confidence = 0.99")
        #expect(try LoopConfig.parse(strict, file: "r.toml", directory: "/w").metric.effectiveConfirmConfidence == 0.99)
        let badLevel = validConfig.replacingOccurrences(of: "warmup = 0", with: "warmup = 0\nconfirm_confidence = 1.5")
        #expect((try? LoopConfig.parse(badLevel, file: "r.toml", directory: "/w")) == nil)
        // The futility limit: default 0.1, 0 turns it off, 0.5 and above refused.
        #expect(try LoopConfig.parse(validConfig, file: "r.toml", directory: "/w").metric.decision.futility == 0.1)
        let noFutility = validConfig.replacingOccurrences(of: "warmup = 0", with: "warmup = 0\nfutility = 0")
        #expect(try LoopConfig.parse(noFutility, file: "r.toml", directory: "/w").metric.decision.futility == 0)
        let badFutility = validConfig.replacingOccurrences(of: "warmup = 0", with: "warmup = 0\nfutility = 0.7")
        let futilityError = try #require(throws: ConfigError.self) { try LoopConfig.parse(badFutility, file: "r.toml", directory: "/w") }
        #expect(futilityError.problems.contains { $0.key == "metric.futility" })
        // One A/A pair cannot show its own uncertainty.
        let onePair = validConfig.replacingOccurrences(of: "warmup = 0", with: "warmup = 0\naa_pairs = 1")
        let onePairError = try #require(throws: ConfigError.self) { try LoopConfig.parse(onePair, file: "r.toml", directory: "/w") }
        #expect(onePairError.problems.contains { $0.key == "metric.aa_pairs" })
    }

    @Test func badConstraintIsNamed() throws {
        let text = validConfig.replacingOccurrences(
            of: "warmup = 0", with: "warmup = 0\n[[metric.constraint]]\nname = \"m\"\nsource = \"peak_memory\"")
        let error = try #require(throws: ConfigError.self) { try LoopConfig.parse(text, file: "r.toml", directory: "/w") }
        #expect(error.problems.contains { $0.key == "metric.constraint[0].max_regression" })
    }

    @Test func callgrindTotalsAndComparableOutput() throws {
        let out1 = "events: Ir\nfn=main\n5 100\nsummary: 123456\n"
        let out2 = "totals: 1000\n"
        #expect(MetricExtractor.callgrindInstructions([out1, out2]) == 124_456)
        #expect(MetricExtractor.callgrindInstructions(["nothing"]) == nil)
        #expect(MetricExtractor.comparable("result: 5\ntook 12 ms\n", ignoring: ["^took "]) == "result: 5\n")
        #expect(
            try MetricExtractor.value(source: .peakMemory, inputs: MetricInputs(wallSeconds: 1, output: "", peakMemoryBytes: 4096)) == 4096)
        #expect(throws: MetricError.self) { try MetricExtractor.value(source: .callgrind, inputs: MetricInputs(wallSeconds: 1, output: "")) }
    }
}

@Suite struct MultiBenchmarkTests {
    @Test func combinedIsTheWeightedMean() {
        let combined = MultiBenchmark.combined([[0.2, 0.4], [-0.1, -0.1]], weights: [1, 1])
        #expect(combined.count == 2)
        #expect(abs(combined[0] - 0.05) < 1e-12 && abs(combined[1] - 0.15) < 1e-12)
        #expect(MultiBenchmark.combined([], weights: []).isEmpty)
    }

    @Test func onlySignificantRegressionsAreReportedWithCorrection() {
        // A clear regression, a noisy non-regression, an improvement.
        let clear = [-0.10, -0.11, -0.09, -0.10, -0.105]
        let noisy = [-0.05, 0.06, -0.04, 0.05, -0.01]
        let better = [0.1, 0.12, 0.09, 0.11, 0.1]
        let found = MultiBenchmark.significantRegressions(names: ["a", "b", "c"], improvements: [clear, noisy, better], alpha: 0.05)
        #expect(found.map(\.name) == ["a"])
        #expect(found.first.map { $0.upper < 0 } == true)
        // Deterministic (zero-variance) regression counts too.
        #expect(MultiBenchmark.significantRegressions(names: ["d"], improvements: [[-0.2, -0.2]], alpha: 0.05).map(\.name) == ["d"])
    }
}
