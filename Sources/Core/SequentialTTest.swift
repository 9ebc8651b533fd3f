import Foundation

/// Wald's invariant sequential t-test as a mixture e-process.
///
/// With x_i = g_i - m, S1 = sum x_i, S2 = sum x_i^2 and r = S1 / sqrt(S2), the
/// likelihood ratio of the scale-invariant data between mean delta * sigma and
/// mean 0 is
///   R_n(r; delta) = exp(-n delta^2 / 2) * J_{n-1}(delta r) / J_{n-1}(0),
/// J_k(a) = integral over v > 0 of v^k exp(-v^2 / 2 + a v) dv. R_n is a
/// nonnegative martingale with mean 1 under the null for every sigma, so a
/// weighted average of R_n over several deltas is one too.
enum SequentialTTest {
    /// Standardized effects (mean over sigma of g) and their weights. With the level
    /// calibrated to the looks the weights only shape the boundary: most at 0.9 (effects the
    /// horizon can decide but only with 10-20 pairs, where pairs are dear; smaller ones rarely
    /// clear a 30-pair horizon at all), the rest at 3 and 10 so large effects stop after a few
    /// pairs. Simulated against the previous (0.8, 1.2, 3, 10 at 0.4, 0.35, 0.15, 0.1), both
    /// calibrated: +0.7 points of power and -0.2 pairs at 0.9 s.d. per pair, +0.1 to +0.4
    /// pairs at 1.2-2.5 s.d.
    static let alternatives: [(delta: Double, weight: Double)] = [
        (0.9, 0.8), (3, 0.1), (10, 0.1),
    ]

    /// The share of the false-accept budget left unspent for the crossing computation's
    /// numerical error (measured below 0.2%; see `Statistics.tFirstCrossings`).
    static let numericalMargin = 0.01

    /// log J_k(a) for a >= 0, by the recurrence J_{k+1} = a J_k + k J_{k-1}
    /// (all terms positive, so it is stable) from J_0 = e^{a^2/2} sqrt(2 pi) Phi(a)
    /// and J_1 = 1 + a J_0.
    static func logHalfLineMoment(order k: Int, tilt a: Double) -> Double {
        guard a >= 0 else { return logHalfLineMomentByQuadrature(order: k, tilt: a) }
        let logJ0 = a * a / 2 + 0.5 * log(2 * Double.pi) + log(Statistics.normalCDF(a))
        if k == 0 { return logJ0 }
        var ratio = a + exp(-logJ0)  // J_1 / J_0
        var logJ = logJ0 + log(ratio)
        var order = 1
        while order < k {
            ratio = a + Double(order) / ratio  // J_{order+1} / J_order
            logJ += log(ratio)
            order += 1
        }
        return logJ
    }

    /// log J_k(a) by the trapezoid rule after v = e^u, for any a (used for a < 0,
    /// where the recurrence would lose digits, and to cross-check it in tests).
    static func logHalfLineMomentByQuadrature(order k: Int, tilt a: Double) -> Double {
        // In u the integrand is exp(f(u)), f(u) = n u - e^{2u} / 2 + a e^u, with one
        // peak where e^u = (a + sqrt(a^2 + 4n)) / 2 and curvature -(e^{2u} + n) there.
        let n = Double(k + 1)
        let peakExp = (a + (a * a + 4 * n).squareRoot()) / 2
        let peak = log(peakExp)
        let h = 0.1 / (peakExp * peakExp + n).squareRoot()
        func f(_ u: Double) -> Double { n * u - exp(2 * u) / 2 + a * exp(u) }
        let top = f(peak)
        var sum = 1.0
        for direction in [-1.0, 1.0] {
            var step = 1
            while step < 1_000_000 {
                let term = exp(f(peak + direction * Double(step) * h) - top)
                sum += term
                if term < 1e-18 { break }
                step += 1
            }
        }
        return top + log(sum * h)
    }

    /// log R_n(r; delta) for one alternative.
    static func logLikelihoodRatio(pairs n: Int, r: Double, delta: Double) -> Double {
        let k = n - 1
        let logNull = (Double(n) / 2 - 1) * log(2.0) + Statistics.logGamma(Double(n) / 2)
        return -Double(n) * delta * delta / 2 + logHalfLineMoment(order: k, tilt: delta * r) - logNull
    }

    /// log of the mixture e-value after n pairs at statistic r.
    static func logEValue(pairs n: Int, r: Double) -> Double {
        let terms = alternatives.map { log($0.weight) + logLikelihoodRatio(pairs: n, r: r, delta: $0.delta) }
        let top = terms.max() ?? -.infinity
        guard top.isFinite else { return top }
        return top + log(terms.reduce(0) { $0 + exp($1 - top) })
    }

    /// The t value at which the e-value reaches 1 / alpha after n pairs (Ville's level), or
    /// infinity when it cannot (too few pairs for this alpha).
    static func criticalT(pairs n: Int, alpha: Double) -> Double {
        guard alpha > 0, alpha < 1 else { return .infinity }
        return criticalT(pairs: n, level: -log(alpha))
    }

    /// The t value at which the log e-value reaches `level` after n pairs, or infinity when it
    /// cannot (too few pairs for this level).
    static func criticalT(pairs n: Int, level target: Double) -> Double {
        guard n >= 2, !target.isNaN, target < .infinity else { return .infinity }
        let rootN = Double(n).squareRoot()
        // r ranges over [0, sqrt(n)); r = sqrt(n) means zero variance. The e-value rises with
        // r: a bracketed regula falsi (Illinois) finds the crossing in about ten evaluations.
        var high = rootN
        var fHigh = logEValue(pairs: n, r: high) - target
        guard fHigh > 0 else { return .infinity }
        var low = 0.0
        var fLow = logEValue(pairs: n, r: low) - target
        guard fLow < 0 else { return 0 }
        var side = 0
        for _ in 0..<200 {
            guard high - low > 1e-14 * rootN else { break }
            var next = (low * fHigh - high * fLow) / (fHigh - fLow)
            if !(next > low && next < high) { next = (low + high) / 2 }
            let f = logEValue(pairs: n, r: next) - target
            if f > 0 {
                (high, fHigh) = (next, f)
                if side == 1 { fLow /= 2 }
                side = 1
            } else {
                (low, fLow) = (next, f)
                if side == -1 { fHigh /= 2 }
                side = -1
            }
            if f > 0, f < 1e-12 { break }
        }
        let r2 = high * high
        let count = Double(n)
        guard r2 < count else { return .infinity }
        return (Double(n - 1) * r2 / (count - r2)).squareRoot()
    }

    /// The chance, for normal g whose mean is exactly the threshold, that the rule with this
    /// level crosses at some look from `firstLook` to `lastLook` (`Statistics.tFirstCrossings`).
    static func falseAcceptChance(level: Double, firstLook: Int, lastLook: Int) -> Double {
        guard lastLook >= 0 else { return 0 }
        let critical = (0...lastLook).map { n in n >= firstLook ? criticalT(pairs: n, level: level) : .infinity }
        return Statistics.tFirstCrossings(critical: critical, firstLook: firstLook).reduce(0, +)
    }

    /// The lowest level whose `falseAcceptChance` over the looks is at most
    /// `alpha * (1 - numericalMargin)`, to 0.2% of that budget; Ville's log(1 / alpha) when
    /// that is already at the budget (it is valid whatever the looks) or there is no look.
    /// The chance falls as the level rises (every c(n) rises), so the search is a bracketed
    /// regula falsi on log(chance), which is close to linear in the level.
    static func calibratedLevel(alpha: Double, firstLook: Int, lastLook: Int) -> Double {
        let ville = -log(alpha)
        let first = Swift.max(firstLook, SequentialDecision.earliestLook)
        guard alpha > 0, alpha < 1, lastLook >= first else { return ville }
        let target = alpha * (1 - numericalMargin)
        func chance(_ level: Double) -> Double { falseAcceptChance(level: level, firstLook: first, lastLook: lastLook) }
        // high: at or below the budget; low: above it.
        var high = ville
        var highChance = chance(high)
        guard highChance <= target, highChance.isFinite else { return ville }
        // Ville's level spends 10-70% of alpha and the chance falls about as exp(-level): the
        // first guess is usually within a few percent.
        var low = highChance > 0 ? high - Swift.min(1.15 * log(target / highChance) + 0.02, 3) : high - 1
        var lowChance = chance(low)
        while lowChance <= target {
            guard low > ville - 20, lowChance.isFinite else { return high }
            (high, highChance) = (low, lowChance)
            low -= 0.5
            lowChance = chance(low)
        }
        guard lowChance.isFinite else { return high }
        // Regula falsi on log(chance / target) (positive at low, at most 0 at high), with the
        // Illinois halving when one end is kept twice.
        var fLow = log(lowChance / target)
        var fHigh = highChance > 0 ? log(highChance / target) : -Double.infinity
        var side = 0
        for _ in 0..<30 {
            guard high - low > 1e-7, highChance < target * (1 - 2e-3) else { break }
            var next = (low + high) / 2
            if fHigh.isFinite {
                let candidate = (low * fHigh - high * fLow) / (fHigh - fLow)
                if candidate > low, candidate < high { next = candidate }
            }
            let nextChance = chance(next)
            guard nextChance.isFinite else { break }
            let f = nextChance > 0 ? log(nextChance / target) : -Double.infinity
            if nextChance <= target {
                (high, highChance, fHigh) = (next, nextChance, f)
                if side == -1 { fLow /= 2 }
                side = -1
            } else {
                (low, lowChance, fLow) = (next, nextChance, f)
                if side == 1 { fHigh /= 2 }
                side = 1
            }
        }
        return high
    }
}
