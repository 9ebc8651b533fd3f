// Who may do what, and when an accepted change has the approvals it needs. No I/O: the
// store supplies who approved and who started the run; this decides.

/// What a personal token lets its holder do in the review UI and the API.
public enum Role: String, Sendable, Codable, CaseIterable, Comparable {
    /// Reads everything: the queue, changes, the audit log, `/metrics`.
    case viewer
    /// A viewer who also approves, rejects, rolls back, pauses and resumes.
    case reviewer
    /// A reviewer who also promotes.
    case admin

    /// Whether the role allows `permission`.
    public func allows(_ permission: Permission) -> Bool {
        switch permission {
        case .view: return true
        case .review, .pause: return self >= .reviewer
        case .promote: return self == .admin
        }
    }

    public static func < (a: Role, b: Role) -> Bool {
        let order: [Role] = [.viewer, .reviewer, .admin]
        return (order.firstIndex(of: a) ?? 0) < (order.firstIndex(of: b) ?? 0)
    }
}

/// An action the server guards by role.
public enum Permission: String, Sendable {
    /// Read pages and the API.
    case view
    /// Approve, reject or roll back a change.
    case review
    /// Pause or resume a loop.
    case pause
    /// Move approved changes onto a branch.
    case promote

    /// The least role that has this permission, for error messages.
    public var leastRole: Role {
        Role.allCases.first { $0.allows(self) } ?? .admin
    }
}

/// `[[checkpoint.rule]]`: changes touching any of `paths` need `approvals` distinct reviewers.
public struct ApprovalRule: Sendable, Equatable, Codable {
    public static let maximum = 10
    public var paths: [String]
    public var approvals: Int

    public init(paths: [String], approvals: Int) {
        self.paths = paths
        self.approvals = approvals
    }
}

/// How many approvals one change needs, and why that many.
public struct ApprovalRequirement: Sendable, Equatable {
    public var count: Int
    /// `src/crypto/keys.c matches src/crypto/**` when a rule raised the count; `nil` when
    /// the loop's `[checkpoint] approvals` applies.
    public var because: String?

    public init(count: Int, because: String?) {
        self.count = count
        self.because = because
    }
}

extension CheckpointSpec {
    /// The approvals a change touching `paths` needs: the largest of `approvals` and every
    /// rule one of the paths matches.
    public func requiredApprovals(paths: [String]) -> ApprovalRequirement {
        var requirement = ApprovalRequirement(count: approvals, because: nil)
        for rule in rules where rule.approvals > requirement.count {
            let globs = rule.paths.map(Glob.init)
            for path in paths {
                if let glob = globs.first(where: { $0.matches(path) }) {
                    requirement = ApprovalRequirement(count: rule.approvals, because: "\(path) matches \(glob.pattern)")
                    break
                }
            }
        }
        return requirement
    }
}

/// The approvals of one change, counted: distinct people, never the loop itself, and not the
/// person who started the run when self-approval is forbidden.
public struct ApprovalTally: Sendable, Equatable {
    /// The loop's own identity in the audit log; never a reviewer.
    public static let loopIdentity = "ratchet"

    public var required: ApprovalRequirement
    /// Who counts, in the order they approved.
    public var counted: [String]
    /// Approvals that do not count, with why.
    public var ignored: [(name: String, why: String)]

    public var missing: Int { max(0, required.count - counted.count) }
    public var isMet: Bool { missing == 0 }

    /// - Parameters:
    ///   - approvers: who approved, oldest first (repeats allowed: they count once).
    ///   - starter: who started the run that made the change, when known.
    public init(approvers: [String], required: ApprovalRequirement, starter: String?, forbidSelfApproval: Bool) {
        self.required = required
        counted = []
        ignored = []
        for name in approvers {
            if let why = Self.refusal(of: name, counted: counted, starter: starter, forbidSelfApproval: forbidSelfApproval) {
                ignored.append((name, why))
            } else {
                counted.append(name)
            }
        }
    }

    /// Why `name`'s approval would not count, or `nil` when it would.
    public static func refusal(of name: String, counted: [String], starter: String?, forbidSelfApproval: Bool) -> String? {
        let key = normalized(name)
        if key == loopIdentity { return "'\(loopIdentity)' is the loop's own identity and never approves its own work" }
        if counted.contains(where: { normalized($0) == key }) {
            return "\(name) already approved; a second approval by the same person does not count"
        }
        if forbidSelfApproval, let starter, normalized(starter) == key {
            return "\(name) started the run that made this change, and [checkpoint] forbid_self_approval = true"
        }
        return nil
    }

    /// Names compare without case and surrounding space.
    static func normalized(_ name: String) -> String {
        name.trimmingCharacters(in: " \t").lowercased()
    }

    /// "1 of 2 approvals (by ada); needs 1 more from another reviewer (src/x.c matches src/**)".
    public var summary: String {
        var text = "\(counted.count) of \(required.count) approval\(required.count == 1 ? "" : "s")"
        if !counted.isEmpty { text += " (by \(counted.joined(separator: ", ")))" }
        if !isMet {
            text += "; needs \(missing) more from \(counted.isEmpty ? "a reviewer" : "another reviewer")"
        }
        if let because = required.because { text += " (\(because) needs \(required.count))" }
        return text
    }

    public static func == (a: ApprovalTally, b: ApprovalTally) -> Bool {
        a.required == b.required && a.counted == b.counted && a.ignored.map(\.name) == b.ignored.map(\.name)
            && a.ignored.map(\.why) == b.ignored.map(\.why)
    }
}
