import Foundation
import Testing

@testable import Core

@Suite struct StatisticsTests {
    @Test func meanAndSampleVariance() throws {
        let values = [2.0, 4, 4, 4, 5, 5, 7, 9]
        #expect(Statistics.mean(values) == 5)
        let variance = try #require(Statistics.sampleVariance(values))
        #expect(abs(variance - 32.0 / 7.0) < 1e-12)
        #expect(Statistics.mean([]) == nil)
        #expect(Statistics.sampleVariance([1]) == nil)
    }

    @Test func summaryKeepsPrecisionForNearlyEqualValues() {
        // A naive sum-of-squares formula loses every digit here.
        let values = (0..<1000).map { 1e9 + Double($0 % 2) }
        let summary = Statistics.Summary(values)
        #expect(abs(summary.mean - (1e9 + 0.5)) < 1e-6)
        #expect(abs(summary.sampleVariance - 0.25 * 1000 / 999) < 1e-9)
        #expect(summary.minimum == 1e9)
        #expect(summary.maximum == 1e9 + 1)
    }

    @Test func normalQuantileAndCDF() {
        #expect(abs(Statistics.normalQuantile(0.975) - 1.959963984540054) < 1e-12)
        #expect(abs(Statistics.normalQuantile(1e-10) - -6.361340902404056) < 1e-9)
        #expect(abs(Statistics.normalQuantile(0.9999999) - 5.199337582290661) < 1e-7)
        #expect(Statistics.normalQuantile(0.5) == 0)
        #expect(abs(Statistics.normalCDF(1.96) - 0.9750021048517795) < 1e-14)
        #expect(Statistics.normalQuantile(0) == -.infinity)
        #expect(Statistics.normalQuantile(1) == .infinity)
        #expect(Statistics.normalQuantile(1.5).isNaN)
        #expect(Statistics.normalQuantile(.nan).isNaN)
    }

    @Test(arguments: [
        (0.975, 1.0, 12.7062),
        (0.975, 10.0, 2.2281),
        (0.995, 30.0, 2.7500),
    ])
    func studentTQuantileMatchesTables(p: Double, df: Double, expected: Double) {
        #expect(abs(Statistics.studentTQuantile(p, df: df) - expected) < 5e-5)
    }

    @Test(arguments: [
        // Reference values from SciPy's stats.t.ppf.
        (0.999, 1000.0, 3.0984021639129233),
        (0.9, 3.0, 1.637744353696209),
        (0.99, 7.0, 2.9979515668685277),
        (0.9999, 5.0, 9.677566300882814),
        (0.995, 1000.0, 2.580754698065951),
        (0.6, 2.0, 0.2886751345948128),
        (0.95, 1.0, 6.313751514675037),
    ])
    func studentTQuantileIsAccurate(p: Double, df: Double, expected: Double) {
        let value = Statistics.studentTQuantile(p, df: df)
        #expect(abs(value - expected) < 1e-8 * expected)
        #expect(abs(Statistics.studentTQuantile(1 - p, df: df) + expected) < 1e-8 * expected)
    }

    @Test(arguments: [
        // Reference values from SciPy's stats.t.cdf.
        (2.5, 7.0, 0.9795038907071235),
        (-1.3, 4.0, 0.13172579823561206),
        (0.1, 1000.0, 0.539817815488198),
        (4.0, 30.0, 0.9998090771819581),
        (10.0, 2.0, 0.9950737714883372),
        (-3.0, 1.0, 0.10241638234956672),
    ])
    func studentTCDFIsAccurate(t: Double, df: Double, expected: Double) {
        #expect(abs(Statistics.studentTCDF(t, df: df) - expected) < 1e-12)
    }

    @Test func studentTQuantileInvertsCDFForAllDegreesOfFreedom() {
        for df in [1.0, 2, 3, 4, 5, 7, 10, 20, 30, 50, 100, 300, 1000] {
            for p in [0.5001, 0.6, 0.9, 0.975, 0.995, 0.9999, 1e-6] {
                let t = Statistics.studentTQuantile(p, df: df)
                #expect(abs(Statistics.studentTCDF(t, df: df) - p) < 1e-9 * max(p, 1e-3), "df \(df) p \(p)")
            }
        }
        #expect(Statistics.studentTQuantile(0.5, df: 5) == 0)
        #expect(Statistics.studentTQuantile(0.9, df: 0).isNaN)
        #expect(Statistics.studentTCDF(1, df: -1).isNaN)
    }

    @Test func regularizedIncompleteBeta() {
        #expect(abs(Statistics.regularizedIncompleteBeta(a: 2, b: 3, x: 0.5) - 0.6875) < 1e-14)
        #expect(abs(Statistics.regularizedIncompleteBeta(a: 0.5, b: 0.5, x: 0.2) - 0.2951672353008665) < 1e-13)
        #expect(abs(Statistics.regularizedIncompleteBeta(a: 500, b: 0.5, x: 0.99) - 0.0015273578790529906) < 1e-12)
        #expect(Statistics.regularizedIncompleteBeta(a: 2, b: 3, x: 0) == 0)
        #expect(Statistics.regularizedIncompleteBeta(a: 2, b: 3, x: 1) == 1)
        #expect(Statistics.regularizedIncompleteBeta(a: 2, b: 3, x: 1.5).isNaN)
    }

    @Test func logGammaMatchesFactorialsAndHalfIntegers() {
        #expect(abs(Statistics.logGamma(1)) < 1e-14)
        #expect(abs(Statistics.logGamma(2)) < 1e-14)
        #expect(abs(Statistics.logGamma(11) - log(3_628_800.0)) < 1e-12)
        #expect(abs(Statistics.logGamma(0.5) - 0.5 * log(Double.pi)) < 1e-14)
        #expect(abs(Statistics.logGamma(500.5) - 2608.2229044109863) < 1e-9)
        #expect(abs(Statistics.logGamma(1e-8) - 18.42068073818021) < 1e-8)
        #expect(Statistics.logGamma(0) == .infinity)
        #expect(Statistics.logGamma(-2) == .infinity)
    }

    @Test func seededGeneratorsReproduce() {
        var first = Xoshiro256StarStar(seed: 42)
        var second = Xoshiro256StarStar(seed: 42)
        var other = Xoshiro256StarStar(seed: 43)
        let a = (0..<5).map { _ in first.next() }
        #expect(a == (0..<5).map { _ in second.next() })
        #expect(a != (0..<5).map { _ in other.next() })
    }

    @Test func normalDrawsHaveUnitVarianceAndLogNormalHasRequestedCV() {
        var rng = Xoshiro256StarStar(seed: 7)
        let draws = (0..<20_000).map { _ in Statistics.standardNormal(using: &rng) }
        let summary = Statistics.Summary(draws)
        #expect(abs(summary.mean) < 0.03)
        #expect(abs(summary.sampleVariance - 1) < 0.05)
        let noise = Statistics.Summary((0..<20_000).map { _ in Statistics.logNormalNoise(cv: 0.1, using: &rng) })
        #expect(abs(noise.mean - 1) < 0.005)
        #expect(abs(noise.standardDeviation - 0.1) < 0.005)
    }

    // MARK: - The sequential t-test behind SequentialDecision

    @Test func halfLineMomentRecurrenceMatchesQuadrature() {
        for k in [0, 1, 2, 5, 29, 99] {
            for a in [0.0, 0.3, 2.0, 17.0, 120.0] {
                let recurrence = SequentialTTest.logHalfLineMoment(order: k, tilt: a)
                let quadrature = SequentialTTest.logHalfLineMomentByQuadrature(order: k, tilt: a)
                #expect(abs(recurrence - quadrature) < 1e-9 * max(1, abs(quadrature)), "k \(k) a \(a)")
            }
        }
        // J_k(0) = 2^((k-1)/2) Gamma((k+1)/2).
        let exact = 2 * log(2.0) + log(2.0)  // 2^2 * Gamma(3) = 8
        #expect(abs(SequentialTTest.logHalfLineMoment(order: 5, tilt: 0) - exact) < 1e-12)
    }

    /// Under the null, r / sqrt(n) is the cosine of a uniform direction, so
    /// E[R_n] = integral of R_n(sqrt(n) cos theta) sin^(n-2) theta over [0, pi],
    /// divided by the integral of sin^(n-2) theta. A martingale has mean 1.
    @Test(arguments: [2, 3, 5, 10, 30])
    func likelihoodRatioHasMeanOneUnderTheNull(n: Int) {
        for delta in [0.8, 1.2, 3.0] {
            let steps = 2000
            var weighted = 0.0
            var total = 0.0
            for i in 1..<steps {
                let theta = Double.pi * Double(i) / Double(steps)
                let weight = pow(sin(theta), Double(n - 2))
                let r = Double(n).squareRoot() * cos(theta)
                weighted += weight * exp(SequentialTTest.logLikelihoodRatio(pairs: n, r: r, delta: delta))
                total += weight
            }
            if n == 2 {  // endpoints carry weight 1 when sin^0 = 1
                let ends = [Double(n).squareRoot(), -Double(n).squareRoot()]
                for r in ends {
                    weighted += 0.5 * exp(SequentialTTest.logLikelihoodRatio(pairs: n, r: r, delta: delta))
                    total += 0.5
                }
            }
            // The sin weight has kinks at 0 and pi for odd n, which limits the trapezoid rule to ~1e-5.
            #expect(abs(weighted / total - 1) < 1e-4, "n \(n) delta \(delta)")
        }
    }

    @Test func criticalValuesShrinkTowardTheFixedSampleQuantile() {
        let alpha = 0.01
        #expect(SequentialTTest.criticalT(pairs: 2, alpha: alpha) == .infinity)
        let c = (4...30).map { SequentialTTest.criticalT(pairs: $0, alpha: alpha) }
        #expect(c.allSatisfy { $0.isFinite })
        #expect(c.first ?? 0 > c.last ?? .infinity)
        // Anytime validity costs something over a single fixed-n test, but not much.
        let fixed = Statistics.studentTQuantile(1 - alpha, df: 29)
        let last = SequentialTTest.criticalT(pairs: 30, alpha: alpha)
        #expect(last > fixed)
        #expect(last < 1.6 * fixed)
    }

    // MARK: - First crossings of the t statistic

    @Test func gaussLegendreIntegratesPolynomialsExactly() {
        let rule = Statistics.gaussLegendre(32)
        #expect(rule.count == 32)
        #expect(abs(rule.reduce(0) { $0 + $1.weight } - 2) < 1e-13)
        // Exact up to degree 63: the integral of x^62 over [-1, 1] is 2 / 63.
        let high = rule.reduce(0) { $0 + $1.weight * pow($1.node, 62) }
        #expect(abs(high - 2.0 / 63) < 1e-12)
        #expect(Statistics.gaussLegendre(1).first?.weight == 2)
    }

    /// With a single look, the first-crossing chance is a Student-t tail exactly: the
    /// recursion (which carries the density from 3 pairs to the look) must reproduce it,
    /// far in the tail too (t = 13 at 4 pairs is where the early looks of a 99% rule sit).
    @Test(arguments: [(3, 2.5), (4, 2.5), (5, 2.5), (10, 2.5), (30, 2.5), (30, 3.5), (4, 13.0), (6, 9.0)])
    func crossingAtOneLookIsTheStudentTail(look: Int, critical: Double) {
        var boundary = [Double](repeating: .infinity, count: 31)
        boundary[look] = critical
        let crossings = Statistics.tFirstCrossings(critical: boundary, firstLook: 3)
        let exact = 1 - Statistics.studentTCDF(critical, df: Double(look - 1))
        #expect(abs(crossings[look] / exact - 1) < 1e-3, "look \(look) c \(critical): \(crossings[look]) vs \(exact)")
        #expect(crossings.enumerated().allSatisfy { $0.offset == look || $0.element == 0 })
    }

    /// The numerical error of the crossing computation, on the boundary the 99% rule uses over
    /// 3 to 30 pairs: the default grid against one twice as fine must agree far inside the 1%
    /// of alpha the calibration leaves for it.
    @Test func crossingsAreConvergedOnTheDefaultGrid() {
        let rule = SequentialDecision(policy: DecisionPolicy(direction: .lower, minEffect: 0.01, confidence: 0.99, minPairs: 3, maxPairs: 30))
        let boundary = (0...30).map { rule.criticalT(pairs: $0) }
        let coarse = Statistics.tFirstCrossings(critical: boundary, firstLook: 3).reduce(0, +)
        let fine = Statistics.tFirstCrossings(critical: boundary, firstLook: 3, grid: 401, nodes: 48).reduce(0, +)
        #expect(abs(coarse / fine - 1) < 0.003, "\(coarse) vs \(fine)")
    }

    /// Over many looks the chance is a first-passage probability with no closed form: a
    /// seeded simulation of the t statistic (normal data, sigma 7 to show it does not matter)
    /// must agree within its own sampling error.
    @Test func crossingsOverManyLooksAgreeWithASimulation() {
        var boundary = [Double](repeating: .infinity, count: 21)
        for n in 4...20 { boundary[n] = 2.2 + 6 / Double(n) }
        let computed = Statistics.tFirstCrossings(critical: boundary, firstLook: 4)
        let total = computed.reduce(0, +)
        var rng = Xoshiro256StarStar(seed: 31)
        let paths = 20_000
        var crossed = 0
        for _ in 0..<paths {
            var summary = Statistics.Summary()
            for n in 1...20 {
                summary.add(7 * Statistics.standardNormal(using: &rng))
                guard n >= 4 else { continue }
                let t = summary.mean / (summary.standardDeviation / Double(n).squareRoot())
                if t > boundary[n] {
                    crossed += 1
                    break
                }
            }
        }
        let simulated = Double(crossed) / Double(paths)
        let error = (total * (1 - total) / Double(paths)).squareRoot()
        #expect(total > 0.02 && total < 0.2, "\(total)")
        #expect(abs(simulated - total) < 3 * error, "simulated \(simulated), computed \(total) +/- \(error)")
    }
}
