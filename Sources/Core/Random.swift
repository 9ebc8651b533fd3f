import Foundation

/// xoshiro256**: a fast seeded generator so simulations and tests reproduce.
/// Seeded through `SplitMix64`, as its authors recommend.
public struct Xoshiro256StarStar: RandomNumberGenerator, Sendable {
    private var s0: UInt64, s1: UInt64, s2: UInt64, s3: UInt64

    public init(seed: UInt64) {
        var seeder = SplitMix64(seed: seed)
        s0 = seeder.next()
        s1 = seeder.next()
        s2 = seeder.next()
        s3 = seeder.next()
    }

    public mutating func next() -> UInt64 {
        let result = ((s1 &* 5) << 7 | (s1 &* 5) >> 57) &* 9
        let t = s1 << 17
        s2 ^= s0
        s3 ^= s1
        s1 ^= s2
        s0 ^= s3
        s2 ^= t
        s3 = s3 << 45 | s3 >> 19
        return result
    }
}

extension Statistics {
    /// A standard normal draw (Box-Muller) from any generator.
    public static func standardNormal(using generator: inout some RandomNumberGenerator) -> Double {
        // u1 in (0, 1] so log never sees 0.
        let u1 = 1 - Double.random(in: 0..<1, using: &generator)
        let u2 = Double.random(in: 0..<1, using: &generator)
        return (-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2)
    }

    /// A log-normal draw with mean 1 and coefficient of variation `cv`:
    /// the usual model of run-to-run noise in a timing benchmark.
    public static func logNormalNoise(cv: Double, using generator: inout some RandomNumberGenerator) -> Double {
        let sigma = log1p(cv * cv).squareRoot()
        return exp(sigma * standardNormal(using: &generator) - sigma * sigma / 2)
    }
}
