import Core
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import Report
import Store

/// The review UI: the queue (`/`), a loop (`/loops/{loop}`), a candidate
/// (`/candidates/{id}`), the audit log (`/audit`), and the forms that act on them. A form
/// POST needs the session's CSRF token and must come from this site; what it does is
/// recorded under the session's token. Errors become pages (`ErrorPages`).
struct PageRoutes: Sendable {
    let lookups: Lookups
    let actions: Actions

    var collection: RouteCollection<ReviewContext> {
        let routes = RouteCollection(context: ReviewContext.self)
        routes.get("/", use: queue)
        routes.get("loops/:loop", use: loop)
        routes.get("candidates/:id", use: candidate)
        routes.get("audit", use: audit)
        routes.post("candidates/:id/act", use: actOnCandidate)
        routes.post("loops/:loop/act", use: actOnLoop)
        return routes
    }

    struct PageQuery: Decodable {
        var loop: String?
        var outcome: String?
        /// What a form just did, for the page's flash message.
        var done: String?
    }

    @Sendable func queue(_ request: Request, context: ReviewContext) throws -> HTMLPage {
        let query = try request.query(as: PageQuery.self, context: context)
        let page = Pages.queue(
            rows: try lookups.queueRows(), problems: lookups.state.catalog.problems, depth: try lookups.reviewDepth(), viewer: context.viewer,
            done: query.done)
        return HTMLPage(html: page)
    }

    @Sendable func loop(_ request: Request, context: ReviewContext) throws -> HTMLPage {
        let query = try request.query(as: PageQuery.self, context: context)
        let entry = try lookups.entry(try context.parameters.require("loop"))
        let candidates = try lookups.candidates(loop: entry.name, outcome: query.outcome)
        return HTMLPage(html: Pages.loop(entry, candidates: candidates, outcome: query.outcome, viewer: context.viewer))
    }

    /// A reviewer who opens a change waiting for review has loaded its diff: that is
    /// recorded, and the form names this view so the decision knows how long it took.
    @Sendable func candidate(_ request: Request, context: ReviewContext) throws -> HTMLPage {
        let query = try request.query(as: PageQuery.self, context: context)
        let id = try context.candidateID()
        let (entry, record, detail) = try lookups.detail(id, loop: query.loop)
        var view: Int64?
        if let principal = context.principal, context.session != nil, principal.role.allows(.review), record.outcome == .accepted,
            record.review == .pending || record.review == nil
        {
            view = try entry.store.recordView(candidate: id, loop: entry.name, actor: principal.actor).id
        }
        return HTMLPage(html: Pages.candidate(entry, detail, record: record, viewer: context.viewer, done: query.done, view: view))
    }

    @Sendable func audit(_ request: Request, context: ReviewContext) throws -> HTMLPage {
        let query = try request.query(as: PageQuery.self, context: context)
        return HTMLPage(html: Pages.audit(try lookups.audit(loop: query.loop, limit: 200), viewer: context.viewer))
    }
}

// MARK: Forms

extension PageRoutes {
    /// The review form of a candidate page.
    struct CandidateForm: Decodable {
        var csrf: String?
        var action: String?
        var note: String?
        var loop: String?
        /// The page view the form came from (the reviewer loaded the diff there).
        var view: Int64?
        var confirmBurst: Flag?

        enum CodingKeys: String, CodingKey {
            case csrf, action, note, loop, view
            case confirmBurst = "confirm_burst"
        }

        /// The fields to post again when a burst approval is confirmed.
        var fields: [String: String] {
            ["csrf": csrf, "action": action, "note": note, "loop": loop, "view": view.map(String.init)].compactMapValues { $0 }
        }
    }

    /// Approve, reject or roll back; a burst of approvals gets a page asking to confirm.
    @Sendable func actOnCandidate(_ request: Request, context: ReviewContext) async throws -> Response {
        let form = try await request.decodeForm(as: CandidateForm.self, context: context)
        _ = try context.formSession(request, csrf: form.csrf)
        let principal = try context.require(.review)
        let id = try context.candidateID()
        let loop = try request.query(as: PageQuery.self, context: context).loop ?? form.loop
        let done: String
        do {
            done = try candidateAction(form, id: id, loop: loop, actor: principal.actor)
        } catch {
            guard error.code == "burst" else { throw error }
            let action = request.uri.path + "?" + (request.uri.query ?? "")
            return HTMLPage(
                html: Pages.confirmBurst(error.message, action: action, fields: form.fields, viewer: context.viewer), status: error.status
            )
            .response
        }
        context.logger.notice("candidate \(id) \(done) by \(principal.name)", metadata: ["via": "ui", "token": "\(principal.tokenID)"])
        let (entry, _) = try actions.locate(id, loop: loop)
        return Redirect(location: "/candidates/\(id)?loop=\(entry.name)&done=\(done)").response
    }

    /// Does the form's action; what was done, for the flash message.
    func candidateAction(_ form: CandidateForm, id: Int64, loop: String?, actor: Actor) throws(RequestFailure) -> String {
        switch form.action ?? "" {
        case "approve":
            let evidence = Actions.Evidence(view: form.view, requireView: true, confirmBurst: form.confirmBurst.isSet)
            let (_, tally) = try actions.approve(id, loop: loop, actor: actor, note: form.note, evidence: evidence)
            return tally.isMet ? ReviewState.approved.rawValue : "approval_recorded"
        case "reject":
            _ = try actions.reject(id, loop: loop, actor: actor, reason: form.note)
            return ReviewState.rejected.rawValue
        case "rollback":
            _ = try actions.rollback(id, loop: loop, actor: actor, reason: form.note)
            return ReviewState.rolledBack.rawValue
        default:
            throw RequestFailure(.badRequest, "unknown action '\(form.action ?? "")'; use approve, reject or rollback")
        }
    }

    /// The pause form of the queue page.
    struct LoopForm: Decodable {
        var csrf: String?
        var action: String?
        var note: String?
    }

    @Sendable func actOnLoop(_ request: Request, context: ReviewContext) async throws -> Redirect {
        let form = try await request.decodeForm(as: LoopForm.self, context: context)
        _ = try context.formSession(request, csrf: form.csrf)
        let actor = try context.require(.pause).actor
        let loop = try context.parameters.require("loop")
        switch form.action ?? "" {
        case "pause":
            _ = try actions.pause(loop, actor: actor, note: form.note)
            return Redirect(location: "/?done=paused")
        case "resume":
            _ = try actions.resume(loop, actor: actor)
            return Redirect(location: "/?done=resumed")
        default:
            throw RequestFailure(.badRequest, "unknown action '\(form.action ?? "")'; use pause or resume")
        }
    }
}
