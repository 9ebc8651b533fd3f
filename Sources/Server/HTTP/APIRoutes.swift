import Core
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import Report
import Store

/// The JSON API, mounted at `/api`. Every request carries a personal token as a bearer
/// header; what the caller does is recorded under the token's name. Action bodies are JSON
/// objects (all fields optional; an empty body will do where nothing is needed).
struct APIRoutes: Sendable {
    let lookups: Lookups
    let actions: Actions

    var collection: RouteCollection<ReviewContext> {
        let routes = RouteCollection(context: ReviewContext.self)
        routes.get("loops", use: loops)
        routes.get("whoami", use: whoami)
        routes.get("loops/:loop/candidates", use: candidates)
        routes.get("candidates/:id", use: candidate)
        routes.get("audit", use: audit)
        routes.get("review-depth", use: reviewDepth)
        routes.post("loops/:loop/pause", use: pause)
        routes.post("loops/:loop/resume", use: resume)
        routes.post("loops/:loop/promote", use: promote)
        routes.post("candidates/:id/approve", use: approve)
        routes.post("candidates/:id/reject", use: reject)
        routes.post("candidates/:id/rollback", use: rollback)
        return routes
    }

    // MARK: Reading

    @Sendable func loops(_ request: Request, context: ReviewContext) throws -> [LoopSnapshot] {
        try lookups.loops()
    }

    @Sendable func whoami(_ request: Request, context: ReviewContext) throws -> Identity {
        let principal = try context.require(.view)
        return Identity(name: principal.name, role: principal.role.rawValue, tokenID: String(principal.tokenID))
    }

    /// `?outcome=accepted|rejected|inconclusive|interrupted|running`.
    @Sendable func candidates(_ request: Request, context: ReviewContext) throws -> [CandidateSummary] {
        let query = try request.query(as: OutcomeQuery.self, context: context)
        return try lookups.candidates(loop: try context.parameters.require("loop"), outcome: query.outcome).map(CandidateSummary.init)
    }

    @Sendable func candidate(_ request: Request, context: ReviewContext) throws -> CandidateDetail {
        let query = try request.query(as: LoopQuery.self, context: context)
        return try lookups.detail(try context.candidateID(), loop: query.loop).2
    }

    /// `?loop=NAME&limit=N` (1 to 10000, 200 unless given).
    @Sendable func audit(_ request: Request, context: ReviewContext) throws -> [AuditEntry] {
        let query = try request.query(as: AuditQuery.self, context: context)
        return try lookups.audit(loop: query.loop, limit: min(max(query.limit ?? 200, 1), 10_000))
    }

    @Sendable func reviewDepth(_ request: Request, context: ReviewContext) throws -> [ReviewerDepth] {
        try lookups.reviewDepth()
    }

    // MARK: Loops

    @Sendable func pause(_ request: Request, context: ReviewContext) async throws -> ActionReply {
        let principal = try context.require(.pause)
        let body = try await request.decode(as: ActionBody.self, context: context)
        let message = try actions.pause(try context.parameters.require("loop"), actor: body.actor(principal), note: body.note ?? body.reason)
        return Self.done(message, principal, context)
    }

    @Sendable func resume(_ request: Request, context: ReviewContext) async throws -> ActionReply {
        let principal = try context.require(.pause)
        let body = try await request.decode(as: ActionBody.self, context: context)
        return Self.done(try actions.resume(try context.parameters.require("loop"), actor: body.actor(principal)), principal, context)
    }

    /// `?to=BRANCH` (or `"to"` in the body).
    @Sendable func promote(_ request: Request, context: ReviewContext) async throws -> ActionReply {
        let principal = try context.require(.promote)
        let body = try await request.decode(as: ActionBody.self, context: context)
        let to = try request.query(as: PromoteQuery.self, context: context).to ?? body.to
        let message = try await actions.promote(try context.parameters.require("loop"), to: to, actor: body.actor(principal))
        return Self.done(message, principal, context)
    }

    // MARK: Candidates

    /// Needs `"reviewed": true`; `"confirm_burst": true` approves in a burst (flagged).
    @Sendable func approve(_ request: Request, context: ReviewContext) async throws -> ActionReply {
        let principal = try context.require(.review)
        let body = try await request.decode(as: ActionBody.self, context: context)
        guard body.reviewed.isSet else {
            throw RequestFailure(.badRequest, "say that you reviewed the change: send \"reviewed\": true (it is recorded with your approval)")
        }
        let (message, tally) = try actions.approve(
            try context.candidateID(), loop: try body.loop(request, context), actor: body.actor(principal), note: body.note ?? body.reason,
            evidence: Actions.Evidence(reviewed: true, confirmBurst: body.confirmBurst.isSet))
        var reply = Self.done(message, principal, context)
        reply.approved = tally.isMet ? "true" : "false"
        reply.approvals = "\(tally.counted.count)/\(tally.required.count)"
        return reply
    }

    /// Needs a `"reason"` (or `"note"`).
    @Sendable func reject(_ request: Request, context: ReviewContext) async throws -> ActionReply {
        let principal = try context.require(.review)
        let body = try await request.decode(as: ActionBody.self, context: context)
        let message = try actions.reject(
            try context.candidateID(), loop: try body.loop(request, context), actor: body.actor(principal), reason: body.note ?? body.reason)
        return Self.done(message, principal, context)
    }

    @Sendable func rollback(_ request: Request, context: ReviewContext) async throws -> ActionReply {
        let principal = try context.require(.review)
        let body = try await request.decode(as: ActionBody.self, context: context)
        let message = try actions.rollback(
            try context.candidateID(), loop: try body.loop(request, context), actor: body.actor(principal), reason: body.note ?? body.reason)
        return Self.done(message, principal, context)
    }

    /// The reply to an action that was done, logged with the token that did it.
    static func done(_ message: String, _ principal: Principal, _ context: ReviewContext) -> ActionReply {
        context.logger.notice("\(message)", metadata: ["via": "api", "token": "\(principal.tokenID)"])
        return ActionReply(message: message)
    }
}

/// The body of an API action; each action reads the fields it needs.
struct ActionBody: Decodable, Sendable {
    var note: String?
    var reason: String?
    /// A name the client claims; the actor is the token's (this is kept beside it).
    var claimedName: String?
    /// The loop, when a candidate id is in several (also `?loop=`).
    var loop: String?
    var to: String?
    var reviewed: Flag?
    var confirmBurst: Flag?

    enum CodingKeys: String, CodingKey {
        case note, reason, loop, to, reviewed
        case claimedName = "as"
        case confirmBurst = "confirm_burst"
    }

    /// The actor of an API request: the token's name and id; a name sent in `as` (no longer
    /// needed) is kept beside it when it differs.
    func actor(_ principal: Principal) -> Actor {
        var actor = principal.actor
        let claimed = (claimedName ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        if !claimed.isEmpty, claimed != principal.name { actor.details["as_given"] = String(claimed.prefix(200)) }
        return actor
    }

    func loop(_ request: Request, _ context: ReviewContext) throws -> String? {
        try request.query(as: LoopQuery.self, context: context).loop ?? loop
    }
}

struct LoopQuery: Decodable {
    var loop: String?
}

struct OutcomeQuery: Decodable {
    var outcome: String?
}

struct PromoteQuery: Decodable {
    var to: String?
}

struct AuditQuery: Decodable {
    var loop: String?
    var limit: Int?
}
