// The words the store records for loops, steps, samples and reviews, as enums. Their raw
// values are what the store and the JSON output hold: never change one.

/// Human review of an accepted change.
public enum ReviewState: String, Sendable, Codable, CaseIterable {
    /// Waiting for a reviewer.
    case pending
    /// Approved by as many people as the checkpoint asks.
    case approved
    /// Rejected in review (and rolled back).
    case rejected
    /// Rolled back by hand (`ratchet rollback`).
    case rolledBack = "rolled_back"
    /// Left behind by `ratchet reset`.
    case reset

    /// Whether this review undid the accepted change: it no longer counts as kept.
    public var undoesAccept: Bool {
        switch self {
        case .rejected, .rolledBack, .reset: true
        case .pending, .approved: false
        }
    }
}

/// A human decision on an accepted change (one reviewer's; `ReviewState` is the change's).
public enum ApprovalDecision: String, Sendable, Codable, CaseIterable {
    case approved, rejected
}

/// Where a loop stands, as its row records it.
public enum LoopStatus: String, Sendable, Codable, CaseIterable {
    /// A `ratchet run` (or the daemon) holds the loop.
    case running
    /// Running, but held by `ratchet pause`.
    case paused
    /// Stopped from outside (a signal, `--max-iterations`, a schedule window), or released
    /// from a checkpoint; `ratchet run` continues it.
    case stopped
    /// Stopped at a checkpoint until an accepted change is reviewed.
    case waiting
    /// Stopped because a budget tripped.
    case budget
    /// Stopped because every proposer had nothing left.
    case exhausted
    /// Stopped on an error.
    case failed
}

/// How one step of a candidate went.
public enum StepStatus: String, Sendable, Codable, CaseIterable {
    case started, ok, failed
}

/// Which side of a measured pair a benchmark run belongs to. The raw value is also the
/// command's `RATCHET_ROLE`.
public enum Arm: String, Sendable, Codable, CaseIterable {
    /// The best code so far.
    case baseline
    /// The change under test.
    case candidate
}
