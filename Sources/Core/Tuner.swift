/// One proposal of the tuner: a full assignment of knob values.
public struct TunerProposal: Sendable, Equatable {
    /// Knob name to value, in the knobs' order.
    public var assignment: [(knob: String, value: String)]
    /// The knob changed from the current best, and its old and new values.
    public var changed: (knob: String, from: String, to: String)

    /// A stable text form used as the tuner's memory key, e.g. `a=1;b=32`.
    public var key: String { TunerSearch.key(assignment) }

    public static func == (a: TunerProposal, b: TunerProposal) -> Bool {
        a.key == b.key && a.changed.knob == b.changed.knob && a.changed.from == b.changed.from && a.changed.to == b.changed.to
    }
}

/// Coordinate descent over knob values with memory of what was tried.
///
/// From the current best assignment, the tuner changes one knob at a time, trying the
/// values nearest the current one first, and skips assignments already tried. After an
/// accept the search continues from the new best; it is exhausted when every single-knob
/// neighbour of the best has been tried. Deterministic for a given seed.
public struct TunerSearch: Sendable {
    public let knobs: [KnobSpec]
    private let order: [Int]

    public init(knobs: [KnobSpec], seed: UInt64) {
        self.knobs = knobs
        var rng = SplitMix64(seed: seed)
        var order = Array(knobs.indices)
        // Fisher-Yates with the seeded generator: the seed picks the knob order.
        if order.count > 1 {
            for i in stride(from: order.count - 1, to: 0, by: -1) {
                let j = Int(rng.next() % UInt64(i + 1))
                order.swapAt(i, j)
            }
        }
        self.order = order
    }

    public static func key(_ assignment: [(knob: String, value: String)]) -> String {
        assignment.map { "\($0.knob)=\($0.value)" }.joined(separator: ";")
    }

    /// The next assignment to try from `current` (values read from the best code), or `nil`
    /// when all neighbours were tried.
    public func next(current: [String: String], tried: Set<String>) -> TunerProposal? {
        let base = knobs.map { (knob: $0.name, value: current[$0.name] ?? "") }
        for knobIndex in order {
            let knob = knobs[knobIndex]
            let now = current[knob.name] ?? ""
            let position = knob.values.firstIndex(of: now)
            // Nearest values first, alternating up and down.
            let candidates = knob.values.indices.sorted { a, b in
                let da = position.map { abs(a - $0) } ?? a
                let db = position.map { abs(b - $0) } ?? b
                return da == db ? a > b : da < db
            }
            for index in candidates where knob.values[index] != now {
                var assignment = base
                assignment[knobIndex].value = knob.values[index]
                if tried.contains(Self.key(assignment)) { continue }
                return TunerProposal(assignment: assignment, changed: (knob.name, now, knob.values[index]))
            }
        }
        return nil
    }
}

/// A small, fast, seedable generator (Steele, Lea and Flood's SplitMix64).
public struct SplitMix64: RandomNumberGenerator, Sendable {
    private var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
