import Core
import Foundation
import Hummingbird
import Report
import Store

/// A loop as `GET /api/loops` shows it.
struct LoopSnapshot: ResponseEncodable, Sendable {
    var loop: String
    var config: String
    var schedule: String
    /// What the daemon is doing with it.
    var daemon: LoopPhase
    /// `never run` until the loop has a row; otherwise the overview's state.
    var state: String
    var overview: LoopOverview?

    static func load(_ entry: LoopEntry, phase: LoopPhase) throws(StoreError) -> LoopSnapshot {
        let overview = try LoopOverview.load(loop: entry.name, store: entry.store, stateDirectory: entry.stateDirectory, limits: entry.config.budget)
        return LoopSnapshot(
            loop: entry.name, config: entry.configPath, schedule: entry.config.schedule.summary, daemon: phase, state: overview?.state ?? "never run",
            overview: overview)
    }
}

/// The answer to an action of the API: every value a string, as clients have always read it.
struct ActionReply: ResponseEncodable, Sendable {
    var ok = "true"
    var message: String
    /// Approvals: whether the change now has all it needs, and the count (`1/2`).
    var approved: String?
    var approvals: String?
}

/// `GET /api/whoami`.
struct Identity: ResponseEncodable, Sendable {
    var name: String
    var role: String
    var tokenID: String

    enum CodingKeys: String, CodingKey {
        case name, role
        case tokenID = "token_id"
    }
}

extension CandidateDetail: ResponseGenerator {}
extension CandidateDetail: ResponseEncodable {}
