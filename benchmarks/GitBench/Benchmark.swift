import Foundation
import Git

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The timed operations of one Ratchet candidate, in the order they run.
///
/// To time one more operation per candidate: add a case here (`label` heads its column in
/// the breakdown table, the raw value names `<raw value>_ms` in each size's JSON object,
/// `countsInTotal` says whether `ratchet_ms` includes it), then run it inside
/// `RatchetCandidates.run(candidate:)` wrapped in `timer.time(.<case>) { … }`.
enum Step: String, CaseIterable {
    case syncToBase = "sync_to_base"
    case apply
    case syncToCandidate = "sync_to_candidate"
    case commit
    /// The sealed-evaluation slot check (`SlotGuard.settle`) when a command wrote nothing:
    /// what every step and every benchmark arm pays.
    case slotCheck = "slot_check"
    /// Diagnostic: the same check after a command rewrote one tracked file (found, hashed,
    /// reported, restored): what a hostile run costs.
    case slotCheckOneFile = "slot_check_one_file"

    var label: String {
        switch self {
        case .syncToBase: "sync→base"
        case .apply: "apply"
        case .syncToCandidate: "sync→cand"
        case .commit: "commit"
        case .slotCheck: "slot check"
        case .slotCheckOneFile: "check+1 w."
        }
    }

    /// Part of the per-candidate total, `ratchet_ms`.
    var countsInTotal: Bool { self != .slotCheckOneFile }
}

/// Times the steps of one candidate, back to back.
struct StepTimer {
    private let clock = ContinuousClock()
    private(set) var milliseconds: [Step: Double] = [:]

    mutating func time<T>(_ step: Step, _ body: () throws -> T) rethrows -> T {
        let start = clock.now
        defer { milliseconds[step, default: 0] += (clock.now - start).milliseconds }
        return try body()
    }

    /// The candidate's total: the steps that count in it.
    var total: Double {
        Step.allCases.filter(\.countsInTotal).reduce(0) { $0 + (milliseconds[$1] ?? 0) }
    }
}

/// Everything measured for one repository size.
struct SizeResult {
    var size: Int
    /// The per-candidate total (`ratchet_ms`) and each step of it.
    var ratchet: Summary?
    var steps: [Step: Summary] = [:]
    /// Diagnostic: `Repository.changes(from: base, to: candidate)` alone, libgit2's full tree
    /// diff, measured apart from the candidate (`Slot.sync` uses `changedFiles`).
    var treeDiff: Summary?
    var cliReset: Summary?
    var cliFresh: Summary?
    var freshRemoval: Summary?
    var fastImportSeconds: Double = 0
    var slotFillSeconds: Double = 0
    /// Opening the slot's guard: every file hashed, every folder watched (once per process).
    var guardOpenSeconds: Double = 0
    var worktreeAddSeconds: Double = 0
}

/// One size's repository, slot and patches, set up untimed, then driven one candidate at a
/// time so that the candidates of every size can be interleaved (see `main.swift`).
final class RatchetCandidates {
    let size: Int
    private let repository: Repository
    private let slot: Slot
    private let guarded: SlotGuard
    private let fixture: Fixture
    let base: ObjectID
    private let baseTree: ObjectID
    private let patches: [String]
    private let warmup: Int
    private let author = Signature(name: "Bench", email: "bench@example.com")
    private var samples: [Step: [Double]] = [:]
    private var totals: [Double] = []
    private var treeDiffs: [Double] = []
    private var lastCandidate: Int?

    var count: Int { patches.count }

    init(
        size: Int, repository: Repository, slot: Slot, guarded: SlotGuard, fixture: Fixture, base: ObjectID, baseTree: ObjectID,
        patches: [String], warmup: Int
    ) {
        self.size = size
        self.repository = repository
        self.slot = slot
        self.guarded = guarded
        self.fixture = fixture
        self.base = base
        self.baseTree = baseTree
        self.patches = patches
        self.warmup = warmup
    }

    /// Runs candidate `candidate` (an index into the patches): the slot back to the base, the
    /// patch applied, the slot moved to the candidate, a commit. Candidates before `warmup`
    /// are not recorded. Untimed checks afterwards confirm each step did exactly its work.
    func run(candidate: Int) throws {
        let patch = patches[candidate]
        var timer = StepTimer()
        let restored = try timer.time(.syncToBase) { try slot.sync(to: baseTree) }
        let candidateTree = try timer.time(.apply) { try repository.apply(patch: patch, to: baseTree) }
        let moved = try timer.time(.syncToCandidate) { try slot.sync(to: candidateTree) }
        _ = try timer.time(.commit) {
            try repository.commit(tree: candidateTree, parents: [base], message: "candidate \(candidate)\n", author: author)
        }
        // The runner forgets the events of its own moves, then checks the slot around every command.
        guarded.ownWritesDone()
        let quiet = try timer.time(.slotCheck) { try guarded.settle(.run, evaluator: { _ in false }, writable: { _ in false }) }
        // A hostile run rewrites one of the candidate's files (same size: only the content tells).
        let (touched, _) = fixture.touchedFiles(candidate: candidate)
        let hostilePath = fixture.path(touched)
        let honest = try String(contentsOfFile: slot.directory + "/" + hostilePath, encoding: .utf8)
        try String(honest.reversed()).write(toFile: slot.directory + "/" + hostilePath, atomically: false, encoding: .utf8)
        let found = try timer.time(.slotCheckOneFile) { try guarded.settle(.run, evaluator: { _ in false }, writable: { _ in false }) }
        guard quiet.isEmpty else { throw BenchError("[\(size) files] the slot check found \(quiet) when nothing was written") }
        guard found == [SlotGuard.Finding(kind: .tracked, path: hostilePath)] || String(honest.reversed()) == honest,
            try String(contentsOfFile: slot.directory + "/" + hostilePath, encoding: .utf8) == honest
        else { throw BenchError("[\(size) files] the slot check found \(found) after \(hostilePath) was rewritten, and must restore it") }

        if candidate > 0 && (restored.written != 2 || restored.removed != 0) {
            throw BenchError("[\(size) files] restoring the slot wrote \(restored.written) and removed \(restored.removed) files, expected 2 and 0")
        }
        guard moved.written == 2 && moved.removed == 0 else {
            throw BenchError("[\(size) files] moving the slot to candidate \(candidate) wrote \(moved.written) files, expected 2")
        }
        let clock = ContinuousClock()
        let diffStart = clock.now
        let changes = try repository.changes(from: baseTree, to: candidateTree)
        let diffTime = clock.now - diffStart
        guard changes.count == 2 else {
            throw BenchError("[\(size) files] candidate \(candidate) changes \(changes.count) files, expected 2")
        }
        lastCandidate = candidate

        guard candidate >= warmup else { return }
        totals.append(timer.total)
        for (step, milliseconds) in timer.milliseconds { samples[step, default: []].append(milliseconds) }
        treeDiffs.append(diffTime.milliseconds)
    }

    /// Checks the slot holds the last candidate and stores the summaries in `result`.
    func finish(into result: inout SizeResult) throws {
        if let lastCandidate {
            let (first, second) = fixture.touchedFiles(candidate: lastCandidate)
            for file in [first, second] {
                let path = slot.directory + "/" + fixture.path(file)
                guard let data = FileManager.default.contents(atPath: path),
                    Array(data) == fixture.candidateContent(file, candidate: lastCandidate)
                else {
                    throw BenchError("the slot's \(fixture.path(file)) does not hold candidate \(lastCandidate)'s content")
                }
            }
        }
        result.ratchet = Summary(totals)
        for (step, values) in samples { result.steps[step] = Summary(values) }
        result.treeDiff = Summary(treeDiffs)
    }
}

/// Sets up one generated repository and runs the git CLI measurements on it.
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
    private var patchDirectory: String { root + "/patches" }
    private var label: String { "[\(size) files]" }
    private var ratchetCandidates: Int { options.warmup + options.ratchetReps }
    private var resetCandidates: Int { 1 + options.resetReps }
    private var freshCandidates: Int { options.freshReps(for: size) }

    /// Untimed: generates the repository and every candidate's patch (Ratchet's in memory,
    /// the CLI's as files) and fills the slot. Records setup costs in `result`.
    func prepare(into result: inout SizeResult) throws -> RatchetCandidates {
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
        try FileManager.default.createDirectory(atPath: patchDirectory, withIntermediateDirectories: true)
        for candidate in ratchetCandidates..<total {
            let file = patchFile(candidate)
            guard FileManager.default.createFile(atPath: file, contents: Data(patches[candidate].utf8)) else {
                throw BenchError("cannot write \(file)")
            }
        }

        progress("\(label) ratchet: filling the slot (untimed)")
        let fillStart = clock.now
        let slot = try Slot(repository: repository, root: root + "/slot")
        let fill = try slot.sync(to: baseTree)
        result.slotFillSeconds = (clock.now - fillStart).milliseconds / 1000
        guard fill.written == size else {
            throw BenchError("the slot's initial fill wrote \(fill.written) files, expected \(size)")
        }
        progress("\(label)   slot filled in \(format(result.slotFillSeconds, decimals: 1)) s")
        let guardStart = clock.now
        let guarded = try SlotGuard(slot: slot, repository: repository)
        result.guardOpenSeconds = (clock.now - guardStart).milliseconds / 1000
        guard guarded.watch.isWatching else {
            throw BenchError("the kernel cannot watch the slot: \(guarded.watch.problem ?? "unknown") (raise fs.inotify.max_user_watches)")
        }
        progress("\(label)   slot guard opened (every file hashed, every folder watched) in \(format(result.guardOpenSeconds, decimals: 1)) s")
        return RatchetCandidates(
            size: size, repository: repository, slot: slot, guarded: guarded, fixture: fixture, base: base, baseTree: baseTree,
            patches: Array(patches[0..<ratchetCandidates]), warmup: options.warmup)
    }

    private func patchFile(_ candidate: Int) -> String { patchDirectory + "/candidate-\(candidate).diff" }

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

    /// The git CLI runs, on the patches `prepare` wrote: a persistent worktree reset per
    /// candidate, then (unless skipped) a fresh worktree per candidate.
    func measureCLI(base: ObjectID, into result: inout SizeResult) throws {
        let first = ratchetCandidates
        try measureCLIReset(base: base, patchFiles: (first..<first + resetCandidates).map(patchFile), into: &result)
        if freshCandidates > 0 {
            let start = first + resetCandidates
            try measureCLIFresh(base: base, patchFiles: (start..<start + freshCandidates).map(patchFile), into: &result)
        } else {
            progress("\(label) cli fresh: skipped (--quick)")
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
        flushFileSystem()
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
            progress(
                "\(label)   fresh candidate \(offset + 1): \(format(elapsed.milliseconds, decimals: 0)) ms (+ removal \(format(removal.milliseconds, decimals: 0)) ms)"
            )
        }
        result.cliFresh = Summary(samples)
        result.freshRemoval = Summary(removals)
    }
}

/// Writes every dirty page to disk (`sync(2)`) and waits, so a timed phase does not pay for
/// the write-back of the untimed setup before it (a slot fill writes up to 100k files).
func flushFileSystem() {
    progress("flushing the file system (untimed)")
    sync()
}
