/// A user command from `[commands.*]`: a shell line run in the slot, with a time limit.
public struct CommandSpec: Sendable, Equatable, Codable {
    public var run: String
    /// Seconds before the command's whole process group is killed.
    public var timeout: Double

    public init(run: String, timeout: Double) {
        self.run = run
        self.timeout = timeout
    }
}

/// A validated `ratchet.toml`.
public struct LoopConfig: Sendable, Equatable, Codable {
    public var name: String
    /// Absolute path of the repository the loop improves.
    public var repository: String
    /// The revision the loop starts from.
    public var base: String
    /// Globs of the paths a candidate may change.
    public var scope: [String]
    /// Absolute path of the state folder, or `nil` for the default inside the repository's `.git`.
    public var stateDirectory: String?
    public var build: CommandSpec?
    public var test: CommandSpec?
    public var bench: CommandSpec
    /// Runs in the candidate slot after the tests, with `RATCHET_BASELINE_SLOT` naming the
    /// best code's slot, to compare their outputs on inputs the proposer never sees.
    public var validate: CommandSpec?
    /// Extra benchmarks (`[[benchmark]]`); with any, candidates are judged on the combined gain.
    public var benchmarks: [BenchmarkSpec] = []
    public var metric: MetricSpec
    /// Proposers in the order they are used; the next starts when one has nothing left.
    public var proposers: [ProposerSpec]
    public var seed: UInt64
    /// The folder the config file is in; relative paths in the config are resolved from here.
    public var configDirectory: String
    public var budget: BudgetSpec = BudgetSpec()
    public var checkpoint: CheckpointSpec = CheckpointSpec()
    public var gate: GateSpec = GateSpec()
    public var sandbox: SandboxSpec = SandboxSpec()
    /// When `ratchet daemon` runs the loop (`[schedule]`, see ScheduleConfig.swift).
    public var schedule: ScheduleSpec = ScheduleSpec()
    /// Candidates in flight and how measurements share the machine (`[parallel]`, ScaleConfig.swift).
    public var parallel: ParallelSpec = ParallelSpec()
    /// Where candidates are evaluated (`[executor]`).
    public var executor: ExecutorSpec = ExecutorSpec()
}

extension LoopConfig {
    /// The state folder: the configured one, or `<git dir>/ratchet`.
    public func stateDirectory(gitDirectory: String) -> String {
        if let stateDirectory { return stateDirectory }
        return (gitDirectory.hasSuffix("/") ? gitDirectory : gitDirectory + "/") + "ratchet"
    }

    /// The loop's branch, `ratchet/<name>`.
    public var branch: String { "refs/heads/ratchet/\(name)" }

    /// Paths a candidate may never touch, whatever the scope says: the built-in defaults
    /// (which the config can add to but not remove), `[gate] protected`, the patches folder,
    /// and the files the commands run from.
    /// - Parameter fileExists: whether a path exists in the repository, to find command scripts.
    public func protectedPaths(fileExists: (String) -> Bool = { _ in false }) -> [String] {
        var paths = Self.defaultProtected + gate.protected
        for proposer in proposers {
            switch proposer {
            case .patches(let directory):
                if let relative = Paths.relative(directory, to: repository), !relative.isEmpty { paths.append(relative + "/**") }
            case .openai(let spec), .anthropic(let spec):
                // The guidance file steers the model: the model must not edit it.
                if let guidance = spec.prompt.guidance, let relative = Paths.relative(guidance, to: repository) { paths.append(relative) }
            case .command(let spec):
                if let guidance = spec.prompt.guidance, let relative = Paths.relative(guidance, to: repository) { paths.append(relative) }
            default:
                break
            }
        }
        paths += commandFiles(fileExists: fileExists)
        return paths
    }

    /// Protected whatever the config says: git metadata and attributes, hooks, CI, the loop
    /// config, and conventional test and benchmark folders.
    public static let defaultProtected = [
        ".git*", "**/.git*", ".git/**", "ratchet.toml", "**/ratchet.toml",
        ".ci/**", ".github/**", ".gitlab-ci.yml", ".circleci/**", ".travis.yml", "Jenkinsfile", ".buildkite/**",
        ".githooks/**", ".husky/**", "**/hooks/**",
        "test/**", "tests/**", "Tests/**", "spec/**", "**/test/**", "**/tests/**",
        "bench/**", "benchmarks/**", "**/benchmarks/**",
    ]

    /// Files the build, test and bench commands run from: script paths named on the command
    /// line (outside the scope), and the build file of the tool that starts the command
    /// (`make` → Makefile, …), always.
    public func commandFiles(fileExists: (String) -> Bool) -> [String] {
        let toolFiles: [String: [String]] = [
            "make": ["Makefile", "makefile", "GNUmakefile", "*.mk", "**/*.mk"],
            "npm": ["package.json"], "yarn": ["package.json"], "pnpm": ["package.json"], "node": ["package.json"],
            "cargo": ["Cargo.toml", "**/Cargo.toml", "build.rs"], "swift": ["Package.swift"], "go": ["go.mod"],
            "python": ["pyproject.toml", "setup.py", "setup.cfg", "tox.ini", "conftest.py", "**/conftest.py"],
            "python3": ["pyproject.toml", "setup.py", "setup.cfg", "tox.ini", "conftest.py", "**/conftest.py"],
            "pytest": ["pyproject.toml", "pytest.ini", "setup.cfg", "tox.ini", "conftest.py", "**/conftest.py"],
            "cmake": ["CMakeLists.txt", "**/CMakeLists.txt"], "ninja": ["build.ninja"], "just": ["justfile", "Justfile"],
            "hyperfine": [],
        ]
        var result: [String] = []
        for command in [build, test, validate, bench].compactMap({ $0 }) + benchmarks.map(\.command) {
            let words = command.run.split(whereSeparator: { " \t;&|()<>\"'".contains($0) }).map(String.init)
            if let first = words.first, let files = toolFiles[first.split(separator: "/").last.map(String.init) ?? first] { result += files }
            // A script named on the command line is the evaluator's driver unless the scope says
            // it is the program being improved (`sh src/work.sh` with scope `src/**`).
            let scopeGlobs = scope.map(Glob.init)
            for word in words {
                var path = word
                while path.hasPrefix("./") { path.removeFirst(2) }
                if !path.isEmpty, !path.hasPrefix("-"), !path.hasPrefix("/"), !path.contains("="), fileExists(path),
                    !scopeGlobs.contains(where: { $0.matches(path) })
                {
                    result.append(path)
                }
            }
        }
        return Array(Set(result)).sorted()
    }
}
