import Adapters
import Core
import Execution
import Foundation
import Git
import Store

/// A candidate's evaluation: apply and gate, build and test, then the measurement and the
/// decision against the best in force when the measurement starts (locally; Slurm jobs in
/// SlurmEvaluation.swift).
extension LoopRunner {
    func evaluate(_ candidate: inout CandidateRecord) async throws -> CandidateOutcome {
        let diff = candidate.diff ?? ""
        // apply: parse the diff, check what it touches, then build the candidate tree from
        // objects (nothing is written to any working folder yet).
        var step = try await enter(.apply, &candidate)
        let summary: PatchSummary
        do {
            summary = try repository.parsePatch(diff)
        } catch {
            let reason = "not a usable diff: \(error.message)"
            try close(&step, ok: false, detail: reason)
            try finish(&candidate, .rejected, .invalidDiff, reason)
            return .decided
        }
        candidate.linesChanged = summary.addedLines + summary.deletedLines
        candidate.paths = Set(summary.files.flatMap { [$0.oldPath, $0.newPath] }.filter { !$0.isEmpty }).sorted().joined(separator: "\n")
        // Path, mode and content rules first: a hostile path is reported as such, not as a
        // diff that failed to apply.
        var violations = gateViolations(summary, tree: nil)
        var tree: ObjectID?
        if violations.isEmpty {
            switch try await applyToBest(diff, &candidate) {
            case .success(let applied):
                tree = applied
            case .failure(let error):
                let kind: RejectionKind = (error.code == .applyFailed || error.code == .conflict) ? .applyFailed : .invalidDiff
                let reason = kind == .applyFailed ? "diff does not apply to the best code: \(error.message)" : "not a usable diff: \(error.message)"
                try close(&step, ok: false, detail: reason)
                try finish(&candidate, .rejected, kind, reason)
                return .decided
            }
        }
        candidate.tree = tree?.hex
        try close(&step, ok: tree != nil, detail: "\(summary.files.count) file(s), +\(summary.addedLines) -\(summary.deletedLines)")
        if let tree, tree == bestTree {
            try finish(&candidate, .rejected, .invalidDiff, "the diff changes nothing")
            return .decided
        }

        // gate: the rules above, plus the sizes of the files the candidate writes.
        step = try await enter(.gate, &candidate)
        if let tree { violations = gateViolations(summary, tree: tree) }
        guard violations.isEmpty, let tree else {
            let reason = "gate: " + violations.map(\.description).joined(separator: "; ")
            try close(&step, ok: false, detail: reason)
            try finish(&candidate, .rejected, .gate, reason)
            return .decided
        }
        try close(&step, ok: true, detail: "\(summary.files.count) path(s) checked")
        if config.executor.kind == .slurm { return try await evaluateOnSlurm(&candidate, tree: tree, summary: summary) }

        var candidateTree = tree
        while true {
            try await calibrateBeforeBuilding()
            let built: CandidateOutcome?
            do {
                built = try await buildAndTest(&candidate, tree: candidateTree)
            } catch {
                pendingCalibration = false
                throw error
            }
            // An A/A built beside this candidate is measured whatever became of it.
            try await measurePendingCalibration()
            if let built { return built }
            // Another lane accepted meanwhile (this one's build or test was stopped then): onto
            // the new best now, built again beside the new best's calibration, not after it.
            if await coordinator.best.commit != bestCommit {
                guard let rebased = try await rebase(&candidate, onto: await coordinator.best) else { return .decided }
                candidateTree = rebased
                continue
            }
            try await prepareBaseline()
            try await enterMeasurement()
            // Decided against the best in force when the measurement starts: when another
            // lane accepted first, the candidate goes onto the new best, and is built and
            // tested again before it is measured against it.
            let current = await coordinator.best
            if current.commit != bestCommit {
                leaveMeasurement()
                guard let rebased = try await rebase(&candidate, onto: current) else { return .decided }
                candidateTree = rebased
                continue
            }
            let outcome: CandidateOutcome?
            do {
                try await measureOwedDrift()
                step = try await enter(.measure, &candidate)
                outcome = try await measureAndDecide(&candidate, tree: candidateTree, summary: summary, step: &step)
                leaveMeasurement()
            } catch {
                leaveMeasurement()
                throw error
            }
            if let outcome { return outcome }
            // Measured beside another lane (pinned cores) that accepted first: measured again on its best.
            guard let rebased = try await rebase(&candidate, onto: await coordinator.best) else { return .decided }
            candidateTree = rebased
        }
    }

    /// The candidate's tree: its diff applied to the best. A diff that does not apply while
    /// other lanes have candidates in flight may be written on top of one of them: it waits
    /// for the best to move and tries again.
    func applyToBest(_ diff: String, _ candidate: inout CandidateRecord) async throws -> Result<ObjectID, GitError> {
        while true {
            let failure: GitError
            do {
                return .success(try repository.apply(patch: diff, to: bestTree))
            } catch {
                failure = error
            }
            guard failure.code == .applyFailed || failure.code == .conflict, try await waitForTheBestToMove(candidate) else {
                return .failure(failure)
            }
            candidate.parentCommit = bestCommit.hex
        }
    }

    /// Build, test and validate the candidate in its slot; an outcome when it failed. With
    /// other lanes, a command running or about to start when one of them accepts is stopped
    /// (its step says so) and this returns `nil`: the caller puts the candidate onto the new
    /// best, where it is built again anyway.
    func buildAndTest(_ candidate: inout CandidateRecord, tree: ObjectID) async throws -> CandidateOutcome? {
        defer { leaveBuildGroup() }
        buildingOn = laneCount > 1 ? bestCommit : nil
        defer { buildingOn = nil }
        do {
            return try await buildAndTestSteps(&candidate, tree: tree)
        } catch is Interrupted where bestMovedUnderfoot {
            if var open = currentStep { try close(&open, ok: false, detail: "stopped: another lane moved the best to \(coordinator.bestNow.short)") }
            return nil
        }
    }

    /// Whether another lane replaced the best this lane's candidate is being built on (and
    /// the loop is not stopping): its commands are stopped then (`control`).
    var bestMovedUnderfoot: Bool { buildingOn.map { $0 != coordinator.bestNow } == true && !options.stop.isSet }

    func buildAndTestSteps(_ candidate: inout CandidateRecord, tree: ObjectID) async throws -> CandidateOutcome? {
        var step: StepRecord
        try sync(candidateSlot, to: tree)
        for (stepName, command, kind) in [(Step.build, config.build, RejectionKind.buildFailed), (.test, config.test, .testFailed)] {
            guard let command else { continue }
            step = try await enter(stepName, &candidate)
            try await enterBuildGroup()
            // While it waited for the build group, another lane may have accepted.
            if bestMovedUnderfoot { throw Interrupted(reason: "the best moved") }
            let result =
                stepName == .build && (baselineBuiltTree != bestTree || calibrationNeedsBuild || referenceNeedsBuild)
                    && executor.sandbox.bubblewrap != nil
                ? try await buildSideBySide(command, step: step)
                : try await runCommand(command, in: candidateSlot, role: "candidate", step: step, phase: stepName == .build ? .build : .run)
            if result.stopped, bestMovedUnderfoot { throw Interrupted(reason: "the best moved") }  // its step closed by `buildAndTest`
            try close(&step, ok: result.succeeded, detail: result.summary, result: result)
            if result.stopped { throw Interrupted(reason: options.stop.reason ?? "stopped") }
            if !result.succeeded {
                let what = stepName == .build ? "build failed" : "tests failed"
                try finish(&candidate, .rejected, kind, "\(what) (\(result.summary)): \(result.tail(lines: 5))")
                return .decided
            }
        }

        // validate: the candidate's results against the best's, on inputs the proposer never saw
        if let validate = config.validate {
            try await prepareBaseline()
            step = try await enter(.validate, &candidate)
            try await enterBuildGroup()
            let result = try await runCommand(
                validate, in: candidateSlot, role: "candidate", step: step, extra: ["RATCHET_BASELINE_SLOT": baselineSlot.directory],
                label: "validate")
            if result.stopped, bestMovedUnderfoot { throw Interrupted(reason: "the best moved") }  // its step closed by `buildAndTest`
            try close(&step, ok: result.succeeded, detail: "validate: " + result.summary, result: result)
            if result.stopped { throw Interrupted(reason: options.stop.reason ?? "stopped") }
            if !result.succeeded {
                try finish(&candidate, .rejected, .validateFailed, "validate failed (\(result.summary)): \(result.tail(lines: 5))")
                return .decided
            }
        }
        return nil
    }

    /// Puts a candidate whose best moved (another lane accepted) onto the new best: its diff
    /// applied again and the gate checked again; returns the new tree, or `nil` when it was
    /// rejected (it conflicts, or the new best already holds it).
    func rebase(_ candidate: inout CandidateRecord, onto best: LaneCoordinator.Best) async throws -> ObjectID? {
        let previous = bestCommit
        var step = try await enter(.apply, &candidate)
        bestCommit = best.commit
        bestTree = best.tree
        let by = best.acceptedBy.map { "#\($0)" } ?? best.commit.short
        let diff = candidate.diff ?? ""
        let tree: ObjectID
        do {
            tree = try repository.apply(patch: diff, to: bestTree)
        } catch {
            let reason =
                "conflicts with \(by): accepted while this candidate waited, and the diff no longer applies to the new best \(best.commit.short) (\(error.message))"
            try close(&step, ok: false, detail: "conflicts with \(by)")
            try finish(&candidate, .rejected, .conflict, reason)
            return nil
        }
        if tree == bestTree {
            try close(&step, ok: false, detail: "already in the best")
            try finish(&candidate, .rejected, .invalidDiff, "the new best \(best.commit.short) (\(by)) already holds this change")
            return nil
        }
        if let summary = try? repository.parsePatch(diff) {
            let violations = gateViolations(summary, tree: tree)
            if !violations.isEmpty {
                let reason = "gate, on the new best \(best.commit.short) (\(by)): " + violations.map(\.description).joined(separator: "; ")
                try close(&step, ok: false, detail: reason)
                try finish(&candidate, .rejected, .gate, reason)
                return nil
            }
        }
        candidate.parentCommit = best.commit.hex
        candidate.tree = tree.hex
        try store.update(candidate)
        try audit.append(
            loop: config.name, kind: "rebase",
            [
                "candidate": String(candidate.id ?? 0), "from": previous.hex, "to": best.commit.hex,
                "accepted": best.acceptedBy.map { String($0) } ?? "",
            ])
        try close(
            &step, ok: true,
            detail: "the best moved to \(best.commit.short) (\(by)) while this candidate waited: re-applied onto it, to be built and tested again")
        emit(.note("#\(candidate.sequence): the best moved to \(best.commit.short) (\(by)); re-applied onto it, building and testing again"))
        return tree
    }

    /// The A/A calibration when due, the measurement, and the decision (an accept is
    /// committed here, while the measurement lock is held). `nil` when the candidate won
    /// against a best that another lane replaced while both measured on their own cores
    /// (`cpus_per_measurement`): it is not committed, and is measured again on the new best.
    func measureAndDecide(_ candidate: inout CandidateRecord, tree: ObjectID, summary: PatchSummary, step: inout StepRecord) async throws
        -> CandidateOutcome?
    {
        // Once per best commit the best is measured in both slots (A/A); that borrows the
        // candidate slot, which then gets the candidate back and is built again.
        if try await calibrateNoise(step: step) {
            try sync(candidateSlot, to: tree)
            if let build = config.build {
                let result = try await runCommand(build, in: candidateSlot, role: "candidate", step: step, phase: .build)
                if result.stopped { throw Interrupted(reason: options.stop.reason ?? "stopped") }
                if !result.succeeded {
                    let reason = "build failed when rebuilt after the A/A calibration (\(result.summary)): \(result.tail(lines: 5))"
                    try close(&step, ok: false, detail: reason, result: result)
                    try finish(&candidate, .rejected, .buildFailed, reason)
                    return .decided
                }
            }
        }
        let measured = try await measure(&candidate, step: step)
        switch measured {
        case .failed(let reason):
            try close(&step, ok: false, detail: reason)
            try finish(&candidate, .rejected, .benchFailed, reason)
            return .decided
        case .rejected(let kind, let reason):
            try close(&step, ok: false, detail: reason)
            try finish(&candidate, .rejected, kind, reason)
            return .decided
        case .decided(let report):
            guard report.verdict == .accept, laneCount > 1 else {
                try close(&step, ok: true, detail: report.reason)
                return try await decide(&candidate, report, tree: tree, summary: summary)
            }
            // Accepts are committed one at a time, each on the best it was measured against.
            await coordinator.accepts.take()
            defer { coordinator.accepts.give() }
            let current = await coordinator.best
            guard current.commit == bestCommit else {
                let by = current.acceptedBy.map { "#\($0)" } ?? "another lane"
                try close(&step, ok: true, detail: report.reason + "; not committed: \(by) replaced the best while this was measured")
                return nil
            }
            try close(&step, ok: true, detail: report.reason)
            return try await decide(&candidate, report, tree: tree, summary: summary)
        }
    }

    /// Records the decision's numbers and acts on its verdict: an accept is committed on the
    /// loop branch (and becomes every lane's best), anything else finishes the candidate.
    /// `place` says where it was measured, for the step's detail.
    func decide(_ candidate: inout CandidateRecord, _ report: DecisionReport, tree: ObjectID, summary: PatchSummary, place: String = "") async throws
        -> CandidateOutcome
    {
        candidate.estimate = report.estimate
        candidate.lower = report.lower
        candidate.upper = report.upper
        candidate.threshold = report.threshold
        candidate.pairs = report.pairs
        var step = try await enter(.decide, &candidate)
        switch report.verdict {
        case .accept:
            let checkpoint = try accept(&candidate, tree: tree, report: report, paths: summary.files.map(\.path))
            await coordinator.accepted(commit: bestCommit, tree: bestTree, by: candidate.id)
            try close(&step, ok: true, detail: "committed \(candidate.commit ?? "")" + place)
            if let checkpoint { return .checkpoint(checkpoint) }
        case .reject, .needMore:
            try close(&step, ok: true, detail: Outcome.rejected.rawValue)
            try finish(&candidate, .rejected, .notBetter, report.reason)
        case .inconclusive:
            try close(&step, ok: true, detail: Outcome.inconclusive.rawValue)
            try finish(&candidate, .inconclusive, .inconclusive, report.reason)
        }
        return .decided
    }
}
