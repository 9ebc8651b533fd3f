import CGit2

/// Process-wide libgit2 initialisation. Every entry point that creates a handle calls
/// `GitLibrary.ensureInitialized()`; the static `let` runs `git_libgit2_init` exactly once
/// and keeps its answer, so a failed initialisation is reported by every caller.
enum GitLibrary {
    private static let initialization: Int32 = {
        let count = git_libgit2_init()
        guard count >= 0 else { return count }
        return ratchet_relax_object_creation_checks()
    }()

    /// - Throws: `GitError` when libgit2 could not be initialised.
    static func ensureInitialized() throws(GitError) {
        try check(initialization, "initialise libgit2")
    }
}
