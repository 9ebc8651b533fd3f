import Core
import Execution
import Foundation
import Git

/// A write a command made where it may not, found after the command (sealed evaluation).
struct SealBroken: Error, CustomStringConvertible {
    var message: String
    var description: String { message }
}

extension LoopRunner {
    /// The guard of `slot`, made (and the slot scrubbed) on first use.
    func slotGuard(_ slot: Slot) throws -> SlotGuard {
        if let existing = guards.first(where: { $0.slot === slot }) { return existing }
        let made: SlotGuard
        do {
            made = try SlotGuard(slot: slot, repository: repository)
        } catch {
            throw RunnerError(.io, "cannot check worktree slot \(slot.directory): \(error.description)")
        }
        if !made.watch.isWatching, !warnedAboutWatch {
            warnedAboutWatch = true
            emit(.note("the kernel cannot watch \(slot.directory) (\(made.watch.problem ?? "unknown")): every slot check hashes the whole slot"))
        }
        guards.append(made)
        return made
    }

    /// Globs of the evaluator's files: tests, benches, the files the commands run from,
    /// `[gate] protected`, the config, the patches folder and the guidance file.
    var evaluatorGlobs: [Glob] {
        let repository = self.repository
        let best = bestTree
        return config.protectedPaths(fileExists: { (try? repository.entry(at: $0, inTree: best)) != nil }).map(Glob.init)
    }

    func isEvaluator(_ path: String) -> Bool {
        let lowered = path.lowercased()
        return sealGlobs.evaluator.contains { $0.matches(lowered) }
    }

    func isWritable(_ path: String) -> Bool {
        sealGlobs.writable.contains { $0.matches(path) }
    }

    /// Checks every guarded slot after (or before) a command that ran in `slot`, putting each
    /// right; throws `SealBroken` naming what was written where it may not be.
    func settleSlots(after phase: SlotGuard.Phase, in slot: Slot?, step: String, keep: (String) -> Bool = { _ in false }) throws {
        try settleSlots(after: phase, inEach: slot.map { [$0] } ?? [], step: step, keep: keep)
    }

    /// The same after commands that ran at once, one in each of `slots` (under bubblewrap,
    /// where none of them could reach another's slot).
    func settleSlots(after phase: SlotGuard.Phase, inEach slots: [Slot], step: String, keep: (String) -> Bool = { _ in false }) throws {
        var problems: [String] = []
        for guarded in guards {
            let own = slots.contains { $0 === guarded.slot }
            let findings: [SlotGuard.Finding]
            do {
                findings = try guarded.settle(own ? phase : .run, evaluator: isEvaluator, writable: isWritable, keep: own ? keep : { _ in false })
            } catch {
                throw RunnerError(.io, "cannot check worktree slot \(guarded.slot.directory): \(error.description)")
            }
            for finding in findings {
                let place = own ? finding.path : guarded.slot.directory + "/" + finding.path
                // With no command just ended (no slots), a write comes from a process left running.
                let intruder =
                    slots.isEmpty
                    ? "a process left running wrote into \(place) (\(step))" : "wrote into the other slot at run time (\(step)): \(place)"
                switch finding.kind {
                case .evaluator:
                    problems.append(own ? "evaluator file changed at run time (\(step)): \(place)" : intruder)
                case .tracked:
                    problems.append(own ? "tracked file changed at run time (\(step)): \(place)" : intruder)
                case .writable, .created, .output:
                    if !own && finding.kind != .writable { problems.append(intruder) }
                }
            }
        }
        if !problems.isEmpty {
            let shown = problems.prefix(5).joined(separator: "; ")
            throw SealBroken(message: problems.count > 5 ? shown + "; and \(problems.count - 5) more" : shown)
        }
    }

    /// The evaluator's files of `tree` (regular files only), cached per tree.
    func sealedFiles(_ tree: ObjectID) throws -> [TreeFile] {
        if let cached = sealedCache[tree] { return cached }
        let files = try repository.treeFiles(tree).filter { ($0.mode == 0o100644 || $0.mode == 0o100755) && isEvaluator($0.path) }
        if sealedCache.count > 4 { sealedCache.removeAll() }
        sealedCache[tree] = files
        return files
    }

    /// The read-only binds that seal the evaluator's files in `slot`: copies from the slot's
    /// commit, kept under the state folder, bound over the slot's own (bubblewrap only).
    func sealedBinds(for slot: Slot) throws -> [(source: String, target: String)] {
        guard executor.sandbox.bubblewrap != nil, let tree = slot.tree else { return [] }
        let files = try sealedFiles(tree)
        guard !files.isEmpty else { return [] }
        let root = slotRoot + "/sealed/\(tree.hex)"
        let fm = FileManager.default
        if !fm.fileExists(atPath: root + "/.complete") {
            try? fm.removeItem(atPath: root)
            for file in files {
                let target = root + "/" + file.path
                try fm.createDirectory(atPath: (target as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
                guard let bytes = try repository.file(at: file.path, inTree: tree) else { continue }
                guard fm.createFile(atPath: target, contents: Data(bytes), attributes: [.posixPermissions: file.mode == 0o100755 ? 0o555 : 0o444])
                else {
                    throw RunnerError(.io, "cannot write the sealed copy \(target)")
                }
            }
            _ = fm.createFile(atPath: root + "/.complete", contents: Data())
            // Copies of commits no slot of this lane holds are not needed any more. (Kept by
            // the cache's trees, a copy a side-by-side build had just bound for the best was
            // removed when the cache was cleared, and bubblewrap refused that build.)
            let held = Set(([slots, [calibrationSlot, referenceSlot, scratch].compactMap { $0 }].joined()).compactMap { $0.tree?.hex })
            let parent = slotRoot + "/sealed"
            for name in (try? fm.contentsOfDirectory(atPath: parent)) ?? [] where name != tree.hex && !held.contains(name) {
                try? fm.removeItem(atPath: parent + "/" + name)
            }
        }
        return files.map { (root + "/" + $0.path, slot.directory + "/" + $0.path) }
    }

    /// Names the files that differ between the two slots, for an A/A bias too large to be noise.
    func slotDifferences() -> String {
        guard guards.count >= 2 else { return "" }
        let a = guards[0].outputs
        let b = guards[1].outputs
        var differing: [String] = []
        for path in Set(a.keys).union(b.keys).sorted() where a[path] != b[path] {
            differing.append(path)
        }
        if differing.isEmpty {
            return "no file differs between the slots (tracked files match the commit in both; build output matches by content), "
                + "so the difference comes from outside the files: the bench's use of its folder path, or the machine"
        }
        return "files that differ between the slots: " + differing.prefix(10).joined(separator: ", ")
            + (differing.count > 10 ? " and \(differing.count - 10) more" : "")
    }
}
