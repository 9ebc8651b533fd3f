import Core
import Foundation
import Git
import HTTPTypes
import Runner
import Store

/// The human actions the API and the UI offer, on top of `LoopOperations` and `PauseSwitch`:
/// each is recorded in the store and the audit log with the authenticated actor, and wakes the
/// loop's service so a loop held for review continues at once.
struct Actions: Sendable {
    let state: DaemonState

    var lookups: Lookups { Lookups(state: state) }

    func entry(_ loop: String) throws(RequestFailure) -> LoopEntry { try lookups.entry(loop) }

    /// - Throws: as `Lookups.locate`, or a store failure as a 500.
    func locate(_ id: Int64, loop: String?) throws(RequestFailure) -> (LoopEntry, CandidateRecord) {
        do { return try lookups.locate(id, loop: loop) } catch { throw RequestFailure(error) }
    }

    static func note(_ raw: String?) throws(RequestFailure) -> String? {
        guard let raw else { return nil }
        let trimmed = raw.trimmingCharacters(in: .whitespacesAndNewlines)
        guard trimmed.count <= 10_000 else { throw RequestFailure(.badRequest, "the note is longer than 10000 characters") }
        return trimmed.isEmpty ? nil : trimmed
    }

    /// The loop's operations on a fresh workspace.
    func operations(_ entry: LoopEntry) throws(RequestFailure) -> LoopOperations {
        do {
            return LoopOperations(workspace: try Workspace(configPath: entry.configPath))
        } catch {
            throw RequestFailure(.internalServerError, "cannot open loop '\(entry.name)': \(error.message)")
        }
    }

    /// Runs an operation on a fresh workspace of the loop, mapping its errors to statuses.
    func operate<T>(_ entry: LoopEntry, _ body: (LoopOperations) throws -> T) throws(RequestFailure) -> T {
        let operations = try operations(entry)
        do {
            let result = try body(operations)
            state.control(entry.name).wakeup.signal()
            return result
        } catch {
            throw RequestFailure(error)
        }
    }

    /// A store read in an action: a failure is a 500 naming the database.
    static func reading<T>(_ body: () throws -> T) throws(RequestFailure) -> T {
        do { return try body() } catch { throw RequestFailure(error) }
    }

    /// More approvals than this by one person within `burstWindow` need an explicit confirmation.
    static let burstLimit = 5
    static let burstWindow: TimeInterval = 60

    /// What a reviewer brings to an approval besides their name.
    struct Evidence: Sendable {
        /// The API's `"reviewed": true`.
        var reviewed: Bool?
        /// The UI: the page view the form came from; the reviewer must have loaded the diff.
        var view: Int64?
        var requireView = false
        /// The reviewer confirmed an approval in a burst.
        var confirmBurst = false
    }

    /// Approves as `actor`; the message says whether the change now has all its approvals.
    /// - Throws: 409 when `requireView` and the reviewer never loaded the change's diff, or
    ///   when the approval comes in a burst (more than 5 in a minute) without `confirmBurst`
    ///   (code `burst`).
    func approve(_ id: Int64, loop: String?, actor: Actor, note: String?, evidence: Evidence = Evidence()) throws(RequestFailure) -> (
        String, ApprovalTally
    ) {
        let note = try Self.note(note)
        let (entry, _) = try locate(id, loop: loop)
        var seconds: Double?
        if evidence.requireView {
            let view = try Self.reading {
                try evidence.view.flatMap { try entry.store.view(id: $0, candidate: id, actor: actor.name) }
                    ?? entry.store.latestView(candidate: id, actor: actor.name)
            }
            guard let view else {
                throw RequestFailure(
                    .conflict, "\(actor.name) has not loaded candidate \(id)'s diff: open the change's page and read it before approving")
            }
            seconds = max(0, Date().timeIntervalSince(view.openedAt))
        }
        let recent = try Self.reading { try entry.store.approvalCount(actor: actor.name, since: Date().addingTimeInterval(-Self.burstWindow)) }
        let burst = recent >= Self.burstLimit
        if burst && !evidence.confirmBurst {
            throw RequestFailure(
                .conflict,
                "\(actor.name) approved \(recent) changes in the last minute; approving more in a burst needs an explicit confirmation "
                    + "(the UI asks; the API takes \"confirm_burst\": true) and is flagged in the audit log",
                code: "burst")
        }
        let tally = try operate(entry) {
            try $0.approve(id, by: actor, note: note, reviewed: evidence.reviewed, reviewSeconds: seconds, burst: burst)
        }
        let state = tally.isMet ? "approved" : "approval recorded, not yet approved"
        return ("candidate \(id): \(state) by \(actor.name): \(tally.summary)", tally)
    }

    func reject(_ id: Int64, loop: String?, actor: Actor, reason: String?) throws(RequestFailure) -> String {
        guard let reason = try Self.note(reason) else {
            throw RequestFailure(.badRequest, "a rejection needs a reason: send \"reason\" (or \"note\")")
        }
        let (entry, _) = try locate(id, loop: loop)
        let revert = try operate(entry) { try $0.reject(id, by: actor, reason: reason) }
        return "candidate \(id) rejected by \(actor.name) and rolled back (revert \(revert.short))"
    }

    func rollback(_ id: Int64, loop: String?, actor: Actor, reason: String?) throws(RequestFailure) -> String {
        let reason = try Self.note(reason)
        let (entry, _) = try locate(id, loop: loop)
        let revert = try operate(entry) { try $0.rollback(id, by: actor, reason: reason) }
        return "candidate \(id) rolled back by \(actor.name) (revert \(revert.short))"
    }

    func pause(_ loop: String, actor: Actor, note: String?) throws(RequestFailure) -> String {
        let note = try Self.note(note)
        let entry = try entry(loop)
        let flag = PauseSwitch(stateDirectory: entry.stateDirectory, loop: entry.name)
        do {
            try flag.pause(note: "by \(actor.name) at \(Date().formatted(.iso8601))" + (note.map { ": \($0)" } ?? ""))
            try entry.audit.append(
                loop: entry.name, kind: "pause_requested", actor: actor.name,
                actor.auditFields.merging(["scope": "loop", "note": note ?? "", "via": "http"]) { _, new in new })
        } catch {
            throw RequestFailure(error)
        }
        state.control(entry.name).wakeup.signal()
        return "loop \(entry.name) paused by \(actor.name)"
    }

    func resume(_ loop: String, actor: Actor) throws(RequestFailure) -> String {
        let entry = try entry(loop)
        let flag = PauseSwitch(stateDirectory: entry.stateDirectory, loop: entry.name)
        let cleared = flag.resume()
        do {
            try entry.audit.append(
                loop: entry.name, kind: "resume_requested", actor: actor.name,
                actor.auditFields.merging(["scope": "loop", "via": "http"]) { _, new in new })
        } catch {
            throw RequestFailure(error)
        }
        state.control(entry.name).wakeup.signal()
        var message = cleared ? "loop \(entry.name) resumed by \(actor.name)" : "loop \(entry.name) was not paused"
        if let still = flag.reason { message += "; still \(still)" }
        return message
    }

    func promote(_ loop: String, to branch: String?, actor: Actor) async throws(RequestFailure) -> String {
        guard let branch, !branch.isEmpty else { throw RequestFailure(.badRequest, "name the target branch: ?to=BRANCH") }
        let entry = try entry(loop)
        let operations = try operations(entry)
        do {
            let result = try await operations.promote(to: branch, by: actor)
            return "promoted \(result.commits) approved change(s) of \(entry.name) to \(branch) at \(result.commit.prefix(10)) by \(actor.name)"
                + (result.fastForward ? " (fast-forward)" : " (replayed and re-tested)")
                + (result.stoppedAt.map { "; stopped before \($0)" } ?? "")
        } catch {
            throw RequestFailure(error)
        }
    }
}
