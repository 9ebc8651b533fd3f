// ratchet-bench-decision: how well the keep-or-discard rule works.
//
// Simulated benchmarks (seeded, so every run prints the same numbers) measure
// the A/A false-accept rate, the power for a true 5% improvement and the pairs
// spent per decision against a fixed 30 + 30 protocol; one real command on this
// machine checks A/A behaviour on real timing noise. The last line is one JSON
// object with the headline numbers.

import Core
import Foundation

let started = monotonicSeconds()
var json: [(String, String)] = []

func fixed(_ value: Double, _ digits: Int = 4) -> String {
    guard value.isFinite else { return "null" }
    var scale = 1.0
    for _ in 0..<digits { scale *= 10 }
    let scaled = (abs(value) * scale).rounded()
    let whole = Int(scaled / scale)
    let fraction = Int(scaled - Double(whole) * scale)
    var fractionText = String(fraction)
    while fractionText.count < digits { fractionText = "0" + fractionText }
    let sign = value < 0 && scaled > 0 ? "-" : ""
    return digits > 0 ? "\(sign)\(whole).\(fractionText)" : "\(sign)\(whole)"
}

func pad(_ text: String, _ width: Int, right: Bool = false) -> String {
    let padding = String(repeating: " ", count: max(0, width - text.count))
    return right ? padding + text : text + padding
}

/// Fixed-width columns: the first left-aligned, the rest right-aligned.
struct Table {
    var widths: [Int]

    func line(_ cells: String...) -> String { line(cells) }

    func line(_ cells: [String]) -> String {
        zip(cells, widths).enumerated()
            .map { index, cell in pad(cell.0, cell.1, right: index > 0) }
            .joined(separator: " ")
    }
}

func percent(_ value: Double) -> String { fixed(100 * value, 1) + "%" }

let maxPairs = 30
let alpha = 0.01

extension Tally {
    static func += (total: inout Tally, part: Tally) {
        total.trials += part.trials
        total.accepts += part.accepts
        total.rejects += part.rejects
        total.inconclusive += part.inconclusive
        total.pairs += part.pairs
    }
}

// MARK: - A/A false accepts

let aaPolicy = DecisionPolicy(
    direction: .lower, minEffect: 0, confidence: 1 - alpha, minPairs: 3, maxPairs: maxPairs)
// The rule spends its whole alpha (it is calibrated to its looks), so the A/A rate sits just
// under 1%: 10,000 trials per model put its standard error near 0.1 point.
let aaTrialsPerModel = 10_000
print("Ratchet decision rule benchmark (sequential t-test calibrated to its looks, with an outlier screen, run")
print("through the loop's Core DecisionPipeline; seeded simulation)")
print("")
print("A/A: baseline vs itself, alpha \(percent(alpha)), minEffect 0, pairs 3..\(maxPairs), ", terminator: "")
print("\(aaTrialsPerModel) trials per model; last column: Bonferroni t at every look")
let aaTable = Table(widths: [22, 7, 10, 8, 8, 8, 11, 11])
print(aaTable.line("noise model", "trials", "false acc", "rate", "rejects", "inconcl", "mean pairs", "Bonf. rate"))
var aaTotal = Tally()
var aaBonferroniTotal = Tally()
var aaWorstRate = 0.0
for (index, model) in NoiseModel.all.enumerated() {
    let tallies = simulate(
        [PipelineRule(aaPolicy), BonferroniRule(aaPolicy)],
        series: SimulatedSeries(model: model, effect: 0),
        trials: aaTrialsPerModel, seed: 1000 + UInt64(index))
    let t = tallies[0]
    aaTotal += t
    aaBonferroniTotal += tallies[1]
    aaWorstRate = max(aaWorstRate, t.acceptRate)
    print(
        aaTable.line(
            model.name, "\(t.trials)", "\(t.accepts)", percent(t.acceptRate), "\(t.rejects)", "\(t.inconclusive)",
            fixed(t.meanPairs, 1), percent(tallies[1].acceptRate)))
}
print(
    aaTable.line(
        "all", "\(aaTotal.trials)", "\(aaTotal.accepts)", percent(aaTotal.acceptRate), "\(aaTotal.rejects)",
        "\(aaTotal.inconclusive)", fixed(aaTotal.meanPairs, 1), percent(aaBonferroniTotal.acceptRate)))
json.append(("aa_false_accept_rate", fixed(aaTotal.acceptRate)))
json.append(("aa_false_accept_rate_worst_model", fixed(aaWorstRate)))
json.append(("aa_false_accept_rate_bonferroni", fixed(aaBonferroniTotal.acceptRate)))
json.append(("aa_trials", "\(aaTotal.trials)"))
json.append(("alpha", fixed(alpha)))

// MARK: - Power and pairs

let powerPolicy = DecisionPolicy(
    direction: .lower, minEffect: 0.01, confidence: 0.99, minPairs: 3, maxPairs: maxPairs)
print("")
print("True +5% improvement: minEffect 1%, confidence 99%, pairs 3..\(maxPairs); 'vs 30+30' = mean pairs / 30")
let powerTable = Table(widths: [22, 18, 7, 8, 8, 11, 9])
print(powerTable.line("noise model", "rule", "trials", "power", "rejects", "mean pairs", "vs 30+30"))
struct PowerCase {
    var label: String
    var series: SimulatedSeries
    var trials: Int
    /// Prefix of the JSON keys for this case, if it is reported there.
    var key: String?
}
let powerCases = [
    PowerCase(
        label: "CV 3% per run", series: SimulatedSeries(model: .cv3, effect: 0.05), trials: 20_000, key: "cv3"),
    PowerCase(label: "CV 1% per run", series: SimulatedSeries(model: .cv1, effect: 0.05), trials: 2000),
    PowerCase(label: "CV 10% per run", series: SimulatedSeries(model: .cv10, effect: 0.05), trials: 2000),
    PowerCase(label: "CV 2% + 5% drift", series: SimulatedSeries(model: .drift, effect: 0.05), trials: 2000),
    PowerCase(
        label: "CV 3% + outliers", series: SimulatedSeries(model: .outliers, effect: 0.05), trials: 10_000,
        key: "outliers"),
    PowerCase(
        label: "CV 3% per pair", series: SimulatedSeries(model: .cv3, effect: 0.05, pairLevelCV: 0.03),
        trials: 2000, key: "pair_cv3"),
]
var powerAtCV3 = 0.0
var powerAtCV3Pairs = Double(maxPairs)
let rules: [(name: String, rule: any Rule, key: String)] = [
    ("sequential (this)", PipelineRule(powerPolicy), ""),
    ("Bonferroni t", BonferroniRule(powerPolicy), "_bonferroni"),
    ("fixed 30+30 t", FixedRule(policy: powerPolicy), "_fixed"),
]
for (caseIndex, powerCase) in powerCases.enumerated() {
    let tallies = simulate(
        rules.map(\.rule), series: powerCase.series, trials: powerCase.trials, seed: 2000 + UInt64(caseIndex))
    for (ruleIndex, tally) in tallies.enumerated() {
        print(
            powerTable.line(
                ruleIndex == 0 ? powerCase.label : "", rules[ruleIndex].name, "\(tally.trials)",
                percent(tally.acceptRate), "\(tally.rejects)", fixed(tally.meanPairs, 2),
                fixed(tally.meanPairs / Double(maxPairs), 3)))
    }
    guard let key = powerCase.key else { continue }
    let ruleCount = key == "cv3" ? rules.count : 1
    for ruleIndex in 0..<ruleCount {
        let tally = tallies[ruleIndex]
        let ruleKey = rules[ruleIndex].key
        let ratioKey = key == "cv3" ? "pairs_vs_fixed_ratio" : "pairs_vs_fixed_ratio_" + key
        json.append(("power_5pct_" + key + ruleKey, fixed(tally.acceptRate)))
        json.append((ratioKey + ruleKey, fixed(tally.meanPairs / Double(maxPairs))))
    }
    if key == "cv3" {
        json.append(("mean_pairs_5pct_cv3", fixed(tallies[0].meanPairs, 2)))
        powerAtCV3 = tallies[0].acceptRate
        powerAtCV3Pairs = tallies[0].meanPairs
    }
}

// MARK: - The boundary

// The decision's critical values c(n) (accept when the lower bound mean - c(n) s / sqrt(n)
// clears the minimum) against Ville's level for the same mixture (a rule allowed more than
// 100 pairs keeps it), and the false-accept chance each spends over looks 3..30, computed
// (`Statistics.tFirstCrossings`), as a share of the test's alpha (0.9 alpha; the outlier
// screen has the rest).
do {
    let calibrated = SequentialDecision(policy: powerPolicy)
    var anytimePolicy = powerPolicy
    anytimePolicy.maxPairs = 1000
    let anytime = SequentialDecision(policy: anytimePolicy)
    let testAlpha = alpha * (1 - DecisionPolicy.outlierShare)
    func spent(_ rule: SequentialDecision) -> Double {
        let boundary = (0...maxPairs).map { rule.criticalT(pairs: $0) }
        return Statistics.tFirstCrossings(critical: boundary, firstLook: 3).reduce(0, +) / testAlpha
    }
    let looks = [4, 5, 6, 8, 10, 15, 20, 30]
    let boundaryTable = Table(widths: [30] + looks.map { _ in 6 } + [14])
    print("")
    print("Boundary c(n) at 99%, looks 3..\(maxPairs) (c(3) is infinite for both)")
    print(boundaryTable.line(["rule"] + looks.map { "n=\($0)" } + ["alpha spent"]))
    for (name, rule) in [("calibrated to the looks (this)", calibrated), ("Ville's level (1 / alpha)", anytime)] {
        print(boundaryTable.line([name] + looks.map { fixed(rule.criticalT(pairs: $0), 2) } + [percent(spent(rule))]))
    }
    json.append(("alpha_spent_calibrated", fixed(spent(calibrated))))
    json.append(("alpha_spent_ville", fixed(spent(anytime))))
}

// MARK: - The lower bound for any rule

// Wald's bound on the expected sample size of ANY sequential test with false-accept rate
// alpha and power 1 - beta between two normal means delta standard deviations apart, even
// one that knows the standard deviation: E[N] >= ((1-b) ln((1-b)/a) + b ln(b/(1-a))) / (delta^2/2).
do {
    let cv3 = NoiseModel.cv3
    let sigmaRun = log1p(cv3.cv * cv3.cv).squareRoot()
    let delta = (log(1.05) - log1p(powerPolicy.minEffect)) / (2.0.squareRoot() * sigmaRun)
    let power = powerAtCV3
    let beta = 1 - power
    let accepting: Double = power * log(power / alpha)
    let missing: Double = beta > 0 ? beta * log(beta / (1 - alpha)) : 0
    let bound: Double = (accepting + missing) / (delta * delta / 2)
    print("")
    print(
        "Lower bound (Wald) for any valid sequential rule at this power (\(percent(power))), even with the noise known: "
            + "\(fixed(bound, 2)) pairs = \(fixed(bound / Double(maxPairs), 3)) of 30+30 (effect \(fixed(delta, 3)) sd per pair)")
    json.append(("wald_bound_pairs_5pct_cv3", fixed(bound, 2)))
    json.append(("wald_bound_ratio", fixed(bound / Double(maxPairs))))
}

// MARK: - Other scenarios

print("")
print("Other scenarios (sequential rule, confidence 99%, minEffect 1%)")
let otherTable = Table(widths: [34, 7, 8, 8, 8, 11])
print(otherTable.line("scenario", "trials", "accepts", "rejects", "inconcl", "mean pairs"))
let others: [(label: String, series: SimulatedSeries, key: String)] = [
    ("+30% improvement, CV 3% per run", SimulatedSeries(model: .cv3, effect: 0.30), "mean_pairs_30pct_cv3"),
    (
        "-5% regression, CV 3% per run", SimulatedSeries(model: .cv3, effect: -0.05 / 1.05),
        "mean_pairs_5pct_regression_cv3"
    ),
    ("+1% (at the minimum), CV 3%", SimulatedSeries(model: .cv3, effect: 0.01), "accept_rate_at_minimum_cv3"),
    (
        "deterministic +5% (no noise)", SimulatedSeries(model: NoiseModel(name: "none", cv: 0), effect: 0.05),
        "mean_pairs_deterministic"
    ),
    ("no change, CV 3% per run", SimulatedSeries(model: .cv3, effect: 0), "mean_pairs_no_change_cv3"),
]
var meanPairsOf: [String: Double] = [:]
for (index, other) in others.enumerated() {
    let t = simulate([PipelineRule(powerPolicy)], series: other.series, trials: 1000, seed: 3000 + UInt64(index))[0]
    print(
        otherTable.line(
            other.label, "\(t.trials)", "\(t.accepts)", "\(t.rejects)", "\(t.inconclusive)", fixed(t.meanPairs, 2)))
    json.append((other.key, other.key.hasPrefix("accept") ? fixed(t.acceptRate) : fixed(t.meanPairs, 2)))
    meanPairsOf[other.key] = t.meanPairs
}

// What a night of candidates costs: most proposals change nothing or make things worse. The
// mix is an assumption, printed with the figure; every part is measured above.
do {
    let mix: [(share: Double, key: String, label: String)] = [
        (0.60, "mean_pairs_no_change_cv3", "no change"), (0.25, "mean_pairs_5pct_regression_cv3", "-5%"),
        (0.10, "mean_pairs_5pct_cv3", "+5%"), (0.05, "mean_pairs_30pct_cv3", "+30%"),
    ]
    meanPairsOf["mean_pairs_5pct_cv3"] = powerAtCV3Pairs
    let perDecision = mix.reduce(0.0) { $0 + $1.share * (meanPairsOf[$1.key] ?? Double(maxPairs)) }
    print("")
    print(
        "A night's mix (" + mix.map { "\(Int($0.share * 100))% \($0.label)" }.joined(separator: ", ")
            + ", CV 3%): \(fixed(perDecision, 2)) pairs per decision = \(fixed(perDecision / Double(maxPairs), 3)) of 30+30")
    json.append(("pairs_vs_fixed_ratio_night_mix", fixed(perDecision / Double(maxPairs))))
}

// MARK: - The loop's pipeline: slot-bias floor, decision, confirmation

print("")
print("Loop pipeline (Core DecisionPipeline: A/A calibration -> minimum -> decision -> confirmation round),")
print("  CV 3% per run, min_effect 1%, confidence 99% (confirmation round 90%); slot bias: the candidate slot reads that much faster")
// Accept rates near 1% and 90% need about 10,000 trials for a standard error of 0.1 and 0.3 point.
let pipelineTrials = 10_000
let pipelineTable = Table(widths: [34, 30, 7, 8, 11, 11])
print(pipelineTable.line("scenario", "floor rule", "trials", "accepts", "mean min.", "mean pairs"))
do {
    var headline: [(String, String)] = []
    defer { json += headline }
    let scenarios: [(label: String, effect: Double, bias: Double, key: String)] = [
        ("+5% improvement, no slot bias", 0.05, 0, "power"),
        ("no change, no slot bias", 0, 0, "null"),
        ("no change, +2% slot bias", 0, 0.02, "bias2"),
        ("no change, +5% slot bias", 0, 0.05, "bias5"),
        ("+5% improvement, +2% slot bias", 0.05, 0.02, "power_bias2"),
    ]
    for (scenarioIndex, scenario) in scenarios.enumerated() {
        for (ruleIndex, floorRule) in PipelineFloor.allCases.enumerated() {
            var rng = Xoshiro256StarStar(seed: 4000 + UInt64(scenarioIndex))
            let result = simulatePipeline(
                floor: floorRule, effect: scenario.effect, slotBias: scenario.bias, model: .cv3, policy: powerPolicy,
                trials: pipelineTrials, using: &rng)
            print(
                pipelineTable.line(
                    ruleIndex == 0 ? scenario.label : "", floorRule.label, "\(result.tally.trials)", percent(result.tally.acceptRate),
                    percent(result.meanMinimum), fixed(result.tally.meanPairs, 2)))
            json.append(("pipeline_\(scenario.key)_\(floorRule.key)_accept_rate", fixed(result.tally.acceptRate)))
            if floorRule == .slotBias {
                switch scenario.key {
                case "power": headline.append(("pipeline_power_5pct_cv3", fixed(result.tally.acceptRate)))
                case "null": headline.append(("pipeline_null_accept_rate", fixed(result.tally.acceptRate)))
                case "bias2": headline.append(("pipeline_bias2_null_accept_rate", fixed(result.tally.acceptRate)))
                default: break
                }
            }
        }
    }
}

// MARK: - Cost of one evaluation

do {
    // A confidence no other part of the benchmark uses, so the level is calibrated here.
    var fresh = powerPolicy
    fresh.confidence = 0.985
    let initStart = monotonicSeconds()
    _ = SequentialDecision(policy: fresh)
    let initMillis = (monotonicSeconds() - initStart) * 1e3
    let rule = SequentialDecision(policy: powerPolicy)
    var rng = Xoshiro256StarStar(seed: 5)
    let data = SimulatedSeries(model: .cv3, effect: 0.05).pairs(count: 30, using: &rng)
    let calls = 20_000
    var checksum = 0.0
    let start = monotonicSeconds()
    for _ in 0..<calls { checksum += (try? rule.evaluate(data))?.estimate ?? 0 }
    let micros = (monotonicSeconds() - start) / Double(calls) * 1e6
    print("")
    print(
        "evaluate() with 30 pairs: \(fixed(micros, 2)) us per call (checksum \(fixed(checksum, 1))); ", terminator: "")
    print("init (level calibrated to 28 looks, once per confidence and looks): \(fixed(initMillis, 1)) ms")
    json.append(("evaluate_us", fixed(micros, 2)))
    json.append(("calibration_ms", fixed(initMillis, 1)))
}

// MARK: - Real command A/A

let script = "i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done"
let realTrials = 20
print("")
print("Real A/A on this machine: /bin/sh -c '\(script)'")
print("  \(realTrials) trials, alpha 1%, minEffect 0, pairs 3..\(maxPairs), order alternating AB/BA")
do {
    _ = try timeShell(script)  // warm up the page cache
    var tally = Tally()
    var allPairs: [SamplePair] = []
    var runTimes = Statistics.Summary()
    for _ in 0..<realTrials {
        var pairs: [SamplePair] = []
        var pipeline = DecisionPipeline(metric: PipelineRule.metric(aaPolicy), calibration: nil)
        var verdict = Verdict.needMore
        while !verdict.isFinal {
            let first = try timeShell(script)
            let second = try timeShell(script)
            let pair =
                pairs.count % 2 == 0
                ? SamplePair(baseline: first, candidate: second) : SamplePair(baseline: second, candidate: first)
            runTimes.add(first)
            runTimes.add(second)
            pairs.append(pair)
            pipeline.add(MeasuredPair(baseline: RunSample(objective: pair.baseline), candidate: RunSample(objective: pair.candidate)))
            if case .done(let outcome) = pipeline.next {
                if case .decided(let report) = outcome { verdict = report.verdict } else { verdict = .inconclusive }
            }
        }
        tally.record(verdict, after: pairs.count)
        allPairs += pairs
    }
    let floor = SequentialDecision.noiseFloor(aaPairs: allPairs, direction: .lower).floor
    let gains = (try? SequentialDecision.logImprovements(allPairs, direction: .lower)) ?? []
    let pairSD = Statistics.Summary(gains).standardDeviation
    let realTable = Table(widths: [8, 9, 8, 8, 8, 8, 11, 11, 12])
    print(
        realTable.line(
            "runs", "mean ms", "run CV", "accepts", "rejects", "inconcl", "mean pairs", "sd of g", "noise floor"))
    print(
        realTable.line(
            "\(runTimes.count)", fixed(runTimes.mean * 1e3, 2), percent(runTimes.standardDeviation / runTimes.mean),
            "\(tally.accepts)", "\(tally.rejects)", "\(tally.inconclusive)", fixed(tally.meanPairs, 1),
            percent(pairSD), percent(floor)))
    json.append(("real_aa_trials", "\(tally.trials)"))
    json.append(("real_aa_false_accepts", "\(tally.accepts)"))
    json.append(("real_aa_false_accept_rate", fixed(tally.acceptRate)))
    json.append(("real_run_cv", fixed(runTimes.standardDeviation / runTimes.mean)))
    json.append(("real_noise_floor", fixed(floor)))
} catch {
    print("  skipped: \(error)")
    json.append(("real_aa_trials", "0"))
}

let elapsed = monotonicSeconds() - started
print("")
print("total benchmark time: \(fixed(elapsed, 1)) s")
json.append(("runtime_s", fixed(elapsed, 1)))
print("{" + json.map { "\"\($0.0)\": \($0.1)" }.joined(separator: ", ") + "}")
