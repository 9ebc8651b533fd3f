import Logging
import ServiceLifecycle
import Synchronization
import UnixSignals

/// Runs `operation` as the one service of a `ServiceGroup` that shuts down gracefully on
/// `gracefulShutdownSignals`: the lifecycle of `ratchet run` and `ratchet worker`, as of
/// `ratchet daemon`. On graceful shutdown (or if the group is cancelled) `onShutdown` is
/// called; it should make `operation` return at its next safe point. The group ends when
/// `operation` returns.
/// - Throws: what `operation` throws.
func runAsService<T: Sendable>(
    gracefulShutdownSignals: [UnixSignal],
    onShutdown: @escaping @Sendable () -> Void,
    _ operation: @escaping @Sendable () async throws -> T
) async throws -> T {
    let outcome = Outcome<T>()
    let service = ClosureService {
        do {
            let value = try await withTaskCancellationOrGracefulShutdownHandler(operation: operation, onCancelOrGracefulShutdown: onShutdown)
            outcome.result.withLock { $0 = .success(value) }
        } catch {
            outcome.result.withLock { $0 = .failure(error) }
        }
    }
    let group = ServiceGroup(
        configuration: ServiceGroupConfiguration(
            services: [.init(service: service, successTerminationBehavior: .gracefullyShutdownGroup)],
            gracefulShutdownSignals: gracefulShutdownSignals,
            logger: Logger(label: "ratchet", factory: { _ in SwiftLogNoOpLogHandler() })))
    try await group.run()
    guard let result = outcome.result.withLock({ $0 }) else { throw CancellationError() }
    return try result.get()
}

/// What the service's operation returned or threw.
private final class Outcome<T: Sendable>: Sendable {
    let result = Mutex<Result<T, any Error>?>(nil)
}
