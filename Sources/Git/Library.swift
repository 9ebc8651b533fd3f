import CGit2

/// Process-wide libgit2 initialisation. Every entry point that creates a handle calls
/// `GitLibrary.ensureInitialized()`; the static `let` runs `git_libgit2_init` exactly once.
enum GitLibrary {
    private static let initialized: Bool = {
        git_libgit2_init()
        ratchet_relax_object_creation_checks()
        return true
    }()

    static func ensureInitialized() {
        _ = initialized
    }
}
