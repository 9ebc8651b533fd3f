import Foundation
import Git

/// Everything measured for one repository size.
struct SizeResult {
    var size: Int
    var ratchet: Summary?
    /// Ratchet sub-steps: slot back to the base, apply, slot to the candidate, commit.
    var syncToBase: Summary?
    var apply: Summary?
    var syncToCandidate: Summary?
    var commit: Summary?
    /// Diagnostic: `Repository.changes(from: base, to: candidate)` alone, the tree diff every
    /// `Slot.sync` starts with.
    var treeDiff: Summary?
    var cliReset: Summary?
    var cliFresh: Summary?
    var freshRemoval: Summary?
    var fastImportSeconds: Double = 0
    var slotFillSeconds: Double = 0
    var worktreeAddSeconds: Double = 0
}

/// Runs the three measurements on one generated repository.
struct SizeBenchmark {
    let size: Int
    let options: Options
    let root: String
    let runner: CommandRunner
    let fixture: Fixture
    let clock = ContinuousClock()

    init(size: Int, options: Options, root: String, runner: CommandRunner) {
        self.size = size
        self.options = options
        self.root = root
        self.runner = runner
        self.fixture = Fixture(count: size)
    }

    private var repoDirectory: String { root + "/repo" }
    private var label: String { "[\(size) files]" }

    func run() throws -> SizeResult {
        var result = SizeResult(size: size)
        let ratchetCandidates = options.warmup + options.ratchetReps
        let resetCandidates = 1 + options.resetReps
        let freshCandidates = options.freshReps(for: size)
        let total = ratchetCandidates + resetCandidates + freshCandidates
        guard 2 * total <= size else {
            throw BenchError("\(total) candidates × 2 files exceed the \(size) files of the repository; lower the repetitions")
        }

        result.fastImportSeconds = try generateRepository()
        let repository = try Repository(discovering: repoDirectory)
        let base = try repository.resolveCommit("refs/heads/main")
        let baseTree = try repository.tree(ofCommit: base)

        // Every candidate edits its own two files, so no blob or tree is reused across candidates.
        progress("\(label) generating \(total) two-file patches")
        var patches: [String] = []
        for candidate in 0..<total {
            let (first, second) = fixture.touchedFiles(candidate: candidate)
            var text = ""
            for file in [first, second] {
                text += try repository.makePatch(
                    path: fixture.path(file),
                    old: fixture.content(file),
                    new: fixture.candidateContent(file, candidate: candidate)
                )
            }
            patches.append(text)
        }

        try measureRatchet(
            repository: repository, base: base, baseTree: baseTree,
            patches: Array(patches[0..<ratchetCandidates]), firstCandidate: 0, into: &result)

        let patchDirectory = root + "/patches"
        try FileManager.default.createDirectory(atPath: patchDirectory, withIntermediateDirectories: true)
        var patchFiles: [String] = []
        for candidate in ratchetCandidates..<total {
            let file = patchDirectory + "/candidate-\(candidate).diff"
            guard FileManager.default.createFile(atPath: file, contents: Data(patches[candidate].utf8)) else {
                throw BenchError("cannot write \(file)")
            }
            patchFiles.append(file)
        }
        try measureCLIReset(base: base, patchFiles: Array(patchFiles[0..<resetCandidates]), into: &result)
        if freshCandidates > 0 {
            try measureCLIFresh(base: base, patchFiles: Array(patchFiles[resetCandidates...]), into: &result)
        } else {
            progress("\(label) cli fresh: skipped (--quick)")
        }
        return result
    }

    /// `git init` + `git fast-import` of one commit holding every file; returns the seconds taken.
    private func generateRepository() throws -> Double {
        progress("\(label) generating the repository with git fast-import")
        let start = clock.now
        let stream = root + "/fast-import.stream"
        try fixture.writeFastImportStream(to: stream)
        try runner.run(["git", "init", "--quiet", "--initial-branch=main", repoDirectory])
        for (key, value) in [
            ("user.name", "Bench"), ("user.email", "bench@example.com"), ("gc.auto", "0"),
            ("maintenance.auto", "false"), ("commit.gpgSign", "false"), ("core.autocrlf", "false"),
        ] {
            try runner.git(["config", key, value], in: repoDirectory)
        }
        try runner.git(["fast-import", "--quiet", "--done"], in: repoDirectory, stdinPath: stream)
        try FileManager.default.removeItem(atPath: stream)
        let seconds = (clock.now - start).milliseconds / 1000
        progress("\(label)   repository ready in \(format(seconds, decimals: 1)) s")
        return seconds
    }

    private func measureRatchet(
        repository: Repository,
        base: ObjectID,
        baseTree: ObjectID,
        patches: [String],
        firstCandidate: Int,
        into result: inout SizeResult
    ) throws {
        progress("\(label) ratchet: filling the slot (untimed)")
        let fillStart = clock.now
        let slot = try Slot(repository: repository, root: root + "/slot")
        let fill = try slot.sync(to: baseTree)
        result.slotFillSeconds = (clock.now - fillStart).milliseconds / 1000
        guard fill.written == size else {
            throw BenchError("the slot's initial fill wrote \(fill.written) files, expected \(size)")
        }
        progress("\(label)   slot filled in \(format(result.slotFillSeconds, decimals: 1)) s")

        progress("\(label) ratchet: \(options.warmup) warm-up + \(options.ratchetReps) timed candidates")
        let author = Signature(name: "Bench", email: "bench@example.com")
        var totals: [Double] = []
        var toBase: [Double] = []
        var applies: [Double] = []
        var toCandidate: [Double] = []
        var commits: [Double] = []
        var diffs: [Double] = []
        var lastCandidate: (index: Int, tree: ObjectID)?
        for (offset, patch) in patches.enumerated() {
            let candidate = firstCandidate + offset
            let t0 = clock.now
            let restored = try slot.sync(to: baseTree)
            let t1 = clock.now
            let candidateTree = try repository.apply(patch: patch, to: baseTree)
            let t2 = clock.now
            let moved = try slot.sync(to: candidateTree)
            let t3 = clock.now
            _ = try repository.commit(
                tree: candidateTree, parents: [base], message: "candidate \(candidate)\n", author: author)
            let t4 = clock.now

            // Untimed checks that each step did exactly the expected work.
            if offset > 0 && (restored.written != 2 || restored.removed != 0) {
                throw BenchError("restoring the slot wrote \(restored.written) and removed \(restored.removed) files, expected 2 and 0")
            }
            guard moved.written == 2 && moved.removed == 0 else {
                throw BenchError("moving the slot to candidate \(candidate) wrote \(moved.written) files, expected 2")
            }
            let diffStart = clock.now
            let changes = try repository.changes(from: baseTree, to: candidateTree)
            let diffTime = clock.now - diffStart
            guard changes.count == 2 else {
                throw BenchError("candidate \(candidate) changes \(changes.count) files, expected 2")
            }
            lastCandidate = (candidate, candidateTree)

            guard offset >= options.warmup else { continue }
            totals.append((t4 - t0).milliseconds)
            toBase.append((t1 - t0).milliseconds)
            applies.append((t2 - t1).milliseconds)
            toCandidate.append((t3 - t2).milliseconds)
            commits.append((t4 - t3).milliseconds)
            diffs.append(diffTime.milliseconds)
        }
        if let lastCandidate {
            try checkSlot(slot, holdsCandidate: lastCandidate.index)
        }
        result.ratchet = Summary(totals)
        result.syncToBase = Summary(toBase)
        result.apply = Summary(applies)
        result.syncToCandidate = Summary(toCandidate)
        result.commit = Summary(commits)
        result.treeDiff = Summary(diffs)
        progress("\(label)   ratchet median \(format(result.ratchet?.median)) ms")
    }

    /// The slot's copies of the last candidate's files must hold the candidate's content.
    private func checkSlot(_ slot: Slot, holdsCandidate candidate: Int) throws {
        let (first, second) = fixture.touchedFiles(candidate: candidate)
        for file in [first, second] {
            let path = slot.directory + "/" + fixture.path(file)
            guard let data = FileManager.default.contents(atPath: path),
                Array(data) == fixture.candidateContent(file, candidate: candidate)
            else {
                throw BenchError("the slot's \(fixture.path(file)) does not hold candidate \(candidate)'s content")
            }
        }
    }

    /// Candidate steps shared by both CLI variants, run in `worktree`: apply, stage, commit.
    private func applyAndCommit(_ patchFile: String, in worktree: String, candidate: Int) throws -> Duration {
        var elapsed = try runner.git(["apply", patchFile], in: worktree)
        elapsed += try runner.git(["add", "-A"], in: worktree)
        elapsed += try runner.git(["commit", "--quiet", "--no-verify", "-m", "candidate \(candidate)"], in: worktree)
        return elapsed
    }

    private func measureCLIReset(base: ObjectID, patchFiles: [String], into result: inout SizeResult) throws {
        let worktree = root + "/wt-reset"
        progress("\(label) cli reset: git worktree add (untimed)")
        let addTime = try runner.git(["worktree", "add", "--quiet", "--detach", worktree, base.hex], in: repoDirectory)
        result.worktreeAddSeconds = addTime.milliseconds / 1000
        progress("\(label)   worktree added in \(format(result.worktreeAddSeconds, decimals: 1)) s")
        progress("\(label) cli reset: 1 warm-up + \(patchFiles.count - 1) timed candidates")
        var samples: [Double] = []
        for (offset, patchFile) in patchFiles.enumerated() {
            var elapsed = try runner.git(["reset", "--quiet", "--hard", base.hex], in: worktree)
            elapsed += try applyAndCommit(patchFile, in: worktree, candidate: offset)
            if offset > 0 { samples.append(elapsed.milliseconds) }
        }
        result.cliReset = Summary(samples)
        progress("\(label)   cli reset median \(format(result.cliReset?.median)) ms; removing the worktree (untimed)")
        try runner.git(["worktree", "remove", "--force", worktree], in: repoDirectory)
    }

    private func measureCLIFresh(base: ObjectID, patchFiles: [String], into result: inout SizeResult) throws {
        progress("\(label) cli fresh: \(patchFiles.count) candidates, each in a new worktree")
        var samples: [Double] = []
        var removals: [Double] = []
        for (offset, patchFile) in patchFiles.enumerated() {
            let worktree = root + "/wt-fresh-\(offset)"
            var elapsed = try runner.git(["worktree", "add", "--quiet", "--detach", worktree, base.hex], in: repoDirectory)
            elapsed += try applyAndCommit(patchFile, in: worktree, candidate: offset)
            samples.append(elapsed.milliseconds)
            let removal = try runner.git(["worktree", "remove", "--force", worktree], in: repoDirectory)
            removals.append(removal.milliseconds)
            progress("\(label)   fresh candidate \(offset + 1): \(format(elapsed.milliseconds, decimals: 0)) ms (+ removal \(format(removal.milliseconds, decimals: 0)) ms)")
        }
        result.cliFresh = Summary(samples)
        result.freshRemoval = Summary(removals)
    }
}
