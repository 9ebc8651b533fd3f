// Swift Testing is not there in a build with the static Swift runtime (the release builds
// of the benchmarks, which use the cluster but not the trait).
#if canImport(Testing)
    import Testing

    /// Runs a suite inside one Slurm cluster: started before its first test, stopped after its
    /// last, and reachable from every test as `SlurmCluster.current`. Use with `.serialized`
    /// when tests must not share the node. A cluster that cannot start fails the suite with the
    /// daemon's error and log.
    public struct SlurmClusterTrait: SuiteTrait, TestScoping {
        public init() {}

        public func provideScope(for test: Test, testCase: Test.Case?, performing function: @Sendable () async throws -> Void) async throws {
            let cluster = try await SlurmCluster.start()
            do {
                try await SlurmCluster.$current.withValue(cluster) { try await function() }
            } catch {
                await cluster.stop()
                throw error
            }
            await cluster.stop()
        }
    }

    extension Trait where Self == SlurmClusterTrait {
        /// One real Slurm cluster for the whole suite.
        public static var slurmCluster: Self { Self() }
    }
#endif
