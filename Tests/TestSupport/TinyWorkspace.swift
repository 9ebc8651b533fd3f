import Foundation

/// A tiny, real loop workspace in a fresh git repository: a "program" whose score depends on
/// a knob in `src/config.txt` and an optional `src/bonus.txt`, a test that fails for
/// speed 3, and four patches (a real win, one touching a protected file, garbage, a neutral edit).
/// Runs in milliseconds and gives deterministic scores.
public enum TinyWorkspace {
    public static let bench =
        #"s=$(sed -n 's/^speed = //p' src/config.txt); b=$(cat src/bonus.txt 2>/dev/null || echo 1); echo "score: $((1200 / (s * b)))""#

    public static func config(extra: String = "", test: String = "sh test.sh", build: String? = nil, kinds: String = #"["tuner", "patches"]"#)
        -> String
    {
        """
        [loop]
        name = "tiny"
        base = "main"
        scope = ["src/**"]

        \(build.map { "[commands.build]\nrun = \"\($0)\"\ntimeout = \"10s\"\n" } ?? "")
        [commands.test]
        run = "\(test)"
        timeout = "2s"

        [commands.bench]
        run = "sh bench.sh"
        timeout = "10s"

        [metric]
        source = "regex"
        pattern = 'score: (\\d+)'
        direction = "lower"
        min_effect = 0.01
        min_pairs = 2
        max_pairs = 4
        warmup = 1

        [proposer]
        kind = \(kinds)
        seed = 1

        [proposer.patches]
        dir = "patches"

        [[proposer.tuner.knob]]
        name = "speed"
        file = "src/config.txt"
        pattern = 'speed = (\\d+)'
        values = [1, 2, 3, 4]
        \(extra)

        # Each test's own machine lock: tests run side by side and must not wait on each other.
        [parallel]
        lock_dir = ".git/ratchet-locks"
        """
    }

    /// A tuner loop with a drift check every 2 candidates whose bench reads the original
    /// base, measured again in the reference slot, as 600 instead of 1200: the improvement the
    /// accepts claimed is gone.
    public static func driftingConfig() -> String {
        config(kinds: #"["tuner"]"#)
            .replacingOccurrences(of: "warmup = 1", with: "warmup = 1\ndrift_every = 2")
            .replacingOccurrences(
                of: "run = \"sh bench.sh\"", with: "run = \"case $RATCHET_SLOT in */reference/work) echo score: 600;; *) sh bench.sh;; esac\"")
            // The bench tells the slots apart by their paths, which only differ without bubblewrap.
            + "\n[sandbox]\nmode = \"off\"\n"
    }

    public static let patches: [String: String] = [
        "patches/01-bonus.diff": """
        diff --git a/src/bonus.txt b/src/bonus.txt
        new file mode 100644
        --- /dev/null
        +++ b/src/bonus.txt
        @@ -0,0 +1 @@
        +2

        """,
        "patches/02-touch-bench.diff": """
        diff --git a/bench.sh b/bench.sh
        --- a/bench.sh
        +++ b/bench.sh
        @@ -1 +1 @@
        -\(bench)
        +echo "score: 1"

        """,
        "patches/03-garbage.diff": "I would make it faster by thinking harder.\n",
        "patches/04-neutral.diff": """
        diff --git a/src/notes.txt b/src/notes.txt
        --- a/src/notes.txt
        +++ b/src/notes.txt
        @@ -1 +1,2 @@
         notes
        +more notes

        """,
    ]

    /// Creates the workspace repository with its config committed on `main`.
    public static func make(config text: String? = nil) throws -> GitFixture {
        var files = patches
        files["src/config.txt"] = "speed = 1\n"
        files["src/notes.txt"] = "notes\n"
        files["bench.sh"] = bench + "\n"
        files["test.sh"] = "grep -q '^speed = 3$' src/config.txt && { echo 'speed 3 is broken' >&2; exit 1; }\nexit 0\n"
        files["ratchet.toml"] = text ?? config()
        files[".gitignore"] = "*.out\n"
        return try GitFixture(files: files, label: "tiny")
    }
}
