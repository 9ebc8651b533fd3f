import Synchronization

/// A flag the loop checks at every safe point: set by a signal handler (or a test) to stop
/// the loop gracefully. Thread-safe.
public final class StopSwitch: Sendable {
    private let state = Mutex<String?>(nil)

    public init() {}

    /// Asks the loop to stop, with the reason it will record.
    public func stop(_ reason: String) {
        state.withLock { if $0 == nil { $0 = reason } }
    }

    public var reason: String? { state.withLock { $0 } }
    public var isSet: Bool { reason != nil }
}
