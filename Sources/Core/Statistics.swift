import Foundation

/// Numeric helpers for the decision rule: summaries, the normal and Student-t
/// distributions, and a seeded random number generator for simulations.
///
/// Everything here is pure. Functions return `nil` or NaN for inputs outside
/// their domain instead of trapping, so callers can pass user data straight in.
public enum Statistics {

    // MARK: - Summaries

    /// The arithmetic mean, or `nil` for an empty array.
    public static func mean(_ values: [Double]) -> Double? {
        guard !values.isEmpty else { return nil }
        return Summary(values).mean
    }

    /// The sample variance (divisor n - 1), or `nil` with fewer than two values.
    public static func sampleVariance(_ values: [Double]) -> Double? {
        guard values.count >= 2 else { return nil }
        return Summary(values).sampleVariance
    }

    /// Count, mean and sum of squared deviations, accumulated with Welford's
    /// update so that long runs of nearly equal values keep their precision.
    public struct Summary: Sendable, Equatable {
        public private(set) var count: Int = 0
        public private(set) var mean: Double = 0
        /// Sum of squared deviations from the mean.
        public private(set) var sumOfSquares: Double = 0
        public private(set) var minimum: Double = .infinity
        public private(set) var maximum: Double = -.infinity

        public init() {}

        public init(_ values: some Sequence<Double>) {
            for value in values { add(value) }
        }

        public mutating func add(_ value: Double) {
            count += 1
            let delta = value - mean
            mean += delta / Double(count)
            sumOfSquares += delta * (value - mean)
            minimum = Swift.min(minimum, value)
            maximum = Swift.max(maximum, value)
        }

        /// Sample variance (n - 1 divisor); 0 with fewer than two values.
        public var sampleVariance: Double {
            count >= 2 ? Swift.max(sumOfSquares, 0) / Double(count - 1) : 0
        }

        public var standardDeviation: Double { sampleVariance.squareRoot() }
    }

    // MARK: - Normal distribution

    /// Standard normal cumulative distribution function.
    public static func normalCDF(_ x: Double) -> Double {
        0.5 * erfc(-x / 2.0.squareRoot())
    }

    /// Standard normal density.
    public static func normalPDF(_ x: Double) -> Double {
        exp(-0.5 * x * x) / (2 * Double.pi).squareRoot()
    }

    /// Standard normal quantile (inverse CDF). Returns -inf / +inf at 0 / 1 and
    /// NaN outside [0, 1]. Acklam's rational approximation refined by one Halley
    /// step, accurate to about 1e-15 relative.
    public static func normalQuantile(_ p: Double) -> Double {
        guard p.isFinite, p >= 0, p <= 1 else { return .nan }
        if p == 0 { return -.infinity }
        if p == 1 { return .infinity }
        let a = [
            -3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02,
            1.383577518672690e+02, -3.066479806614716e+01, 2.506628277459239e+00,
        ]
        let b = [
            -5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02,
            6.680131188771972e+01, -1.328068155288572e+01,
        ]
        let c = [
            -7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00,
            -2.549732539343734e+00, 4.374664141464968e+00, 2.938163982698783e+00,
        ]
        let d = [
            7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00,
            3.754408661907416e+00,
        ]
        let low = 0.02425
        var x: Double
        if p < low {
            let q = (-2 * log(p)).squareRoot()
            x =
                (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5])
                / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1)
        } else if p <= 1 - low {
            let q = p - 0.5
            let r = q * q
            x =
                (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q
                / (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1)
        } else {
            let q = (-2 * log1p(-p)).squareRoot()
            x =
                -(((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5])
                / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1)
        }
        // One Halley step on the tail that is closer to zero keeps full precision.
        let e = p < 0.5 ? normalCDF(x) - p : (1 - p) - normalCDF(-x)
        let u = e * (2 * Double.pi).squareRoot() * exp(x * x / 2)
        x -= u / (1 + x * u / 2)
        return x
    }

    // MARK: - Gamma and beta functions

    /// Natural log of |Gamma(x)|, by the Lanczos approximation (g = 7, 9 terms;
    /// about 1e-15 relative). Written out rather than calling the C library's
    /// `lgamma`, which writes the global `signgam` and so is not thread-safe.
    public static func logGamma(_ x: Double) -> Double {
        guard x.isFinite else { return x.isNaN ? .nan : .infinity }
        if x <= 0, x == x.rounded() { return .infinity }  // poles at 0, -1, -2, ...
        if x < 0.5 {
            // Reflection: Gamma(x) Gamma(1 - x) = pi / sin(pi x).
            let s = sin(Double.pi * x)
            return log(Double.pi / abs(s)) - logGamma(1 - x)
        }
        let coefficients = [
            0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313,
            -176.61502916214059, 12.507343278686905, -0.13857109526572012,
            9.9843695780195716e-6, 1.5056327351493116e-7,
        ]
        let z = x - 1
        var sum = coefficients[0]
        for index in 1..<coefficients.count {
            sum += coefficients[index] / (z + Double(index))
        }
        let t = z + 7.5
        return 0.5 * log(2 * Double.pi) + (z + 0.5) * log(t) - t + log(sum)
    }

    /// Regularized incomplete beta function I_x(a, b) for a, b > 0 and x in [0, 1].
    /// Returns NaN outside the domain.
    public static func regularizedIncompleteBeta(a: Double, b: Double, x: Double) -> Double {
        regularizedIncompleteBeta(a: a, b: b, x: x, oneMinusX: 1 - x)
    }

    /// Same as `regularizedIncompleteBeta(a:b:x:)` but takes 1 - x separately, so a
    /// caller that knows it exactly (as the t distribution does) loses no digits.
    static func regularizedIncompleteBeta(a: Double, b: Double, x: Double, oneMinusX y: Double) -> Double {
        guard a > 0, b > 0, x >= 0, x <= 1, a.isFinite, b.isFinite else { return .nan }
        if x == 0 { return 0 }
        if y == 0 { return 1 }
        let logFront = logGamma(a + b) - logGamma(a) - logGamma(b) + a * log(x) + b * log(y)
        let front = exp(logFront)
        if x < (a + 1) / (a + b + 2) {
            return front * betaContinuedFraction(a: a, b: b, x: x) / a
        } else {
            return 1 - front * betaContinuedFraction(a: b, b: a, x: y) / b
        }
    }

    /// Continued fraction for the incomplete beta function (modified Lentz).
    private static func betaContinuedFraction(a: Double, b: Double, x: Double) -> Double {
        let tiny = 1e-300
        let epsilon = 1e-15
        let qab = a + b
        let qap = a + 1
        let qam = a - 1
        var c = 1.0
        var d = 1 - qab * x / qap
        if abs(d) < tiny { d = tiny }
        d = 1 / d
        var h = d
        for m in 1...20_000 {
            let m = Double(m)
            let m2 = 2 * m
            var aa = m * (b - m) * x / ((qam + m2) * (a + m2))
            d = 1 + aa * d
            if abs(d) < tiny { d = tiny }
            c = 1 + aa / c
            if abs(c) < tiny { c = tiny }
            d = 1 / d
            h *= d * c
            aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
            d = 1 + aa * d
            if abs(d) < tiny { d = tiny }
            c = 1 + aa / c
            if abs(c) < tiny { c = tiny }
            d = 1 / d
            let delta = d * c
            h *= delta
            if abs(delta - 1) < epsilon { break }
        }
        return h
    }

    // MARK: - Student's t distribution

    /// P(T <= t) for Student's t with `df` > 0 degrees of freedom (df need not be
    /// an integer). NaN for df <= 0 or NaN t.
    public static func studentTCDF(_ t: Double, df: Double) -> Double {
        guard df > 0, !t.isNaN else { return .nan }
        let tail = studentTUpperTail(abs(t), df: df)
        return t >= 0 ? 1 - tail : tail
    }

    /// P(T > t) for t >= 0, computed without cancellation.
    static func studentTUpperTail(_ t: Double, df: Double) -> Double {
        if t == .infinity { return 0 }
        if df == .infinity { return normalCDF(-t) }
        let t2 = t * t
        // x = df / (df + t^2) and 1 - x = t^2 / (df + t^2), each computed directly.
        let x = df / (df + t2)
        let y = t2 / (df + t2)
        return 0.5 * regularizedIncompleteBeta(a: df / 2, b: 0.5, x: x, oneMinusX: y)
    }

    /// Student's t density.
    public static func studentTPDF(_ t: Double, df: Double) -> Double {
        guard df > 0 else { return .nan }
        let logDensity =
            logGamma((df + 1) / 2) - logGamma(df / 2) - 0.5 * log(df * Double.pi)
            - (df + 1) / 2 * log1p(t * t / df)
        return exp(logDensity)
    }

    /// Quantile of Student's t: the t with P(T <= t) = p. Exact formulas for df 1
    /// and 2; otherwise Newton steps on the tail probability inside a bisection
    /// bracket, accurate to about 1e-12 relative. Returns -inf / +inf at p = 0 / 1
    /// and NaN for p outside [0, 1] or df <= 0.
    public static func studentTQuantile(_ p: Double, df: Double) -> Double {
        guard df > 0, p.isFinite, p >= 0, p <= 1 else { return .nan }
        if p == 0 { return -.infinity }
        if p == 1 { return .infinity }
        if p == 0.5 { return 0 }
        if p < 0.5 { return -studentTUpperQuantile(p, df: df) }
        return studentTUpperQuantile(1 - p, df: df)
    }

    /// The t >= 0 with P(T > t) = q, for 0 < q < 0.5.
    private static func studentTUpperQuantile(_ q: Double, df: Double) -> Double {
        if df == 1 { return tan(Double.pi * (0.5 - q)) }
        if df == 2 { return (1 - 2 * q) / (2 * q * (1 - q)).squareRoot() }
        if df == .infinity { return -normalQuantile(q) }
        // Bracket [low, high] with tail(low) >= q >= tail(high).
        var low = 0.0
        var high = Swift.max(1, -normalQuantile(q))
        while studentTUpperTail(high, df: df) > q {
            low = high
            high *= 2
            if high > 1e300 { return .infinity }
        }
        var t = Swift.max(low, Swift.min(high, -normalQuantile(q) * 1.1))
        for _ in 0..<200 {
            let tail = studentTUpperTail(t, df: df)
            if tail > q { low = t } else { high = t }
            let density = studentTPDF(t, df: df)
            var next = t + (tail - q) / Swift.max(density, .leastNormalMagnitude)
            if !(next > low && next < high) { next = (low + high) / 2 }
            if abs(next - t) <= 1e-13 * Swift.max(1, abs(t)) || high - low <= 1e-13 * Swift.max(1, t) {
                return next
            }
            t = next
        }
        return t
    }
}
