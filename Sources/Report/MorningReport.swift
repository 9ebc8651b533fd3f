import Core
import Foundation
import Store

/// One loop to report on: its store and state folder, and its config when known.
public struct ReportSource: Sendable {
    public var loop: String
    public var store: Store
    public var audit: AuditLog
    public var stateDirectory: String
    public var config: LoopConfig?

    public init(loop: String, store: Store, audit: AuditLog, stateDirectory: String, config: LoopConfig?) {
        self.loop = loop
        self.store = store
        self.audit = audit
        self.stateDirectory = stateDirectory
        self.config = config
    }
}

/// What happened in a time window (a night): per loop what was tried and kept, the
/// accepted changes ranked by effect, and what needs a human first.
public struct MorningReport: Sendable, Codable, Equatable {
    /// Something a person must look at: a checkpoint, a tripped budget, a failed or paused loop.
    public struct Alert: Sendable, Codable, Equatable {
        public var loop: String
        /// `checkpoint`, `budget`, `failed`, `paused`.
        public var kind: String
        public var message: String
        public var candidate: Int64?
        public var url: String?
    }

    /// An accepted change.
    public struct Change: Sendable, Codable, Equatable {
        public var loop: String
        public var id: Int64
        public var sequence: Int
        public var title: String
        public var proposer: String
        public var estimate: Double
        public var lower: Double?
        public var upper: Double?
        public var threshold: Double?
        public var pairs: Int?
        public var files: [DiffView.File]
        public var added: Int
        public var deleted: Int
        public var review: ReviewState
        public var checkpoint: String?
        public var commit: String?
        public var acceptedAt: Date
        public var url: String?
    }

    public struct Point: Sendable, Codable, Equatable {
        public var time: Date
        public var value: Double
    }

    /// One loop over the window.
    public struct LoopSummary: Sendable, Codable, Equatable {
        public var loop: String
        public var state: String
        public var reason: String?
        /// Candidates decided in the window (interrupted ones excluded).
        public var tried: Int
        public var accepted: Int
        public var rejected: Int
        public var inconclusive: Int
        public var interrupted: Int
        /// Rejections by kind (`not_better`, `gate`, `test_failed`, …).
        public var rejectedBy: [String: Int]
        /// Relative improvement kept from this window's accepts, and since the base.
        public var improvement: Double
        public var improvementSinceBase: Double
        /// The window's cumulative improvement after each kept accept.
        public var series: [Point]
        public var tokens: Int
        public var cost: Double
        public var bestCommit: String
        public var lowerIsBetter: Bool
    }

    public var generatedAt: Date
    public var since: Date
    public var until: Date
    public var baseURL: String?
    public var alerts: [Alert]
    public var loops: [LoopSummary]
    /// Accepted changes of the window, the largest effect first.
    public var changes: [Change]
    /// Per reviewer, the decisions of the window: how many, and how long per changed line.
    public var reviewDepth: [ReviewerDepth] = []

    public var tried: Int { loops.reduce(0) { $0 + $1.tried } }
    public var accepted: Int { loops.reduce(0) { $0 + $1.accepted } }
    public var tokens: Int { loops.reduce(0) { $0 + $1.tokens } }
    public var cost: Double { loops.reduce(0) { $0 + $1.cost } }
    public var rejectedBy: [String: Int] {
        loops.reduce(into: [:]) { total, loop in total.merge(loop.rejectedBy, uniquingKeysWith: +) }
    }

    /// The link to a candidate's review page.
    public static func link(base: String?, loop: String, id: Int64) -> String? {
        guard let base, !base.isEmpty else { return nil }
        let trimmed = base.hasSuffix("/") ? String(base.dropLast()) : base
        let query = loop.addingPercentEncoding(withAllowedCharacters: .urlQueryAllowed.subtracting(CharacterSet(charactersIn: "&=+#"))) ?? loop
        return "\(trimmed)/candidates/\(id)?loop=\(query)"
    }

    /// Builds the report of `sources` over `since..<until`.
    /// - Parameter baseURL: the review UI (`http://127.0.0.1:8470`), for links; `nil` for none.
    /// - Throws: `StoreError` when a store cannot be read.
    public static func build(sources: [ReportSource], since: Date, until: Date, baseURL: String?, now: Date = Date()) throws(StoreError)
        -> MorningReport
    {
        var alerts: [Alert] = []
        var loops: [LoopSummary] = []
        var changes: [Change] = []
        var decisions: [ReviewDecision] = []
        for source in sources {
            let name = source.loop
            decisions += try source.store.reviewDecisions(since: since, until: until, loop: name)
            guard let record = try source.store.loop(named: name) else { continue }
            let figures = try source.store.loopFigures(loop: name)
            let runs = try source.store.runs(loop: name)
            let overview = LoopOverview.make(
                record: record, figures: figures, runs: runs, stateDirectory: source.stateDirectory, limits: source.config?.budget, now: now)
            let inWindow = try source.store.candidateRows(loop: name, CandidateQuery(since: since)).filter { $0.createdAt < until }
            let decided = inWindow.filter(\.isDecided)
            var rejectedBy: [String: Int] = [:]
            for candidate in decided where candidate.outcome == .rejected {
                rejectedBy[(candidate.rejection?.rawValue ?? Outcome.rejected.rawValue), default: 0] += 1
            }
            let acceptedInWindow = decided.filter { $0.outcome == .accepted }
                .sorted { ($0.finishedAt ?? $0.createdAt) < ($1.finishedAt ?? $1.createdAt) }
            var series: [Point] = []
            var product = 1.0
            for candidate in acceptedInWindow where candidate.isKept {
                product *= 1 + (candidate.estimate ?? 0)
                series.append(Point(time: candidate.finishedAt ?? candidate.createdAt, value: product - 1))
            }
            let lowerIsBetter = source.config.map { $0.metric.decision.direction == .lower } ?? true
            loops.append(
                LoopSummary(
                    loop: name, state: overview.state, reason: overview.reason, tried: decided.count, accepted: acceptedInWindow.count,
                    rejected: decided.filter { $0.outcome == .rejected }.count,
                    inconclusive: decided.filter { $0.outcome == .inconclusive }.count,
                    interrupted: inWindow.filter { $0.outcome == .interrupted }.count, rejectedBy: rejectedBy,
                    improvement: product - 1, improvementSinceBase: overview.improvement, series: series,
                    tokens: inWindow.reduce(0) { $0 + ($1.inputTokens ?? 0) + ($1.outputTokens ?? 0) },
                    cost: inWindow.reduce(0) { $0 + ($1.cost ?? 0) }, bestCommit: record.bestCommit, lowerIsBetter: lowerIsBetter))
            let diffs = try source.store.diffs(of: acceptedInWindow.compactMap(\.id))
            for candidate in acceptedInWindow {
                guard let id = candidate.id else { continue }
                let diff = DiffView(diffs[id] ?? "")
                changes.append(
                    Change(
                        loop: name, id: id, sequence: candidate.sequence, title: candidate.title, proposer: candidate.proposer,
                        estimate: candidate.estimate ?? 0, lower: candidate.lower, upper: candidate.upper, threshold: candidate.threshold,
                        pairs: candidate.pairs, files: diff.files, added: diff.added, deleted: diff.deleted, review: candidate.review ?? .pending,
                        checkpoint: candidate.checkpoint, commit: candidate.commit, acceptedAt: candidate.finishedAt ?? candidate.createdAt,
                        url: link(base: baseURL, loop: name, id: id)))
            }
            // What needs a person, most urgent first.
            for candidate in figures.checkpoints {
                guard let id = candidate.id else { continue }
                alerts.append(
                    Alert(
                        loop: name, kind: "checkpoint",
                        message: "candidate \(id) (\(candidate.title)) waits for review: \(candidate.checkpoint ?? "")",
                        candidate: id, url: link(base: baseURL, loop: name, id: id)))
            }
            var budgetMessages: [String] = []
            if overview.state == LoopStatus.budget.rawValue, let reason = overview.reason { budgetMessages.append(reason) }
            let stamp = Date.ISO8601FormatStyle().year().month().day().time(includingFractionalSeconds: true)
            for entry in try source.audit.recent(limit: 50, loop: name, kinds: ["budget_trip"]) {
                guard let time = try? Date(entry.time, strategy: stamp), time >= since, time < until else { continue }
                let fields = entry.fields
                let message = "budget \(fields["budget"] ?? "?") tripped: used \(fields["used"] ?? "?") of \(fields["limit"] ?? "?")"
                if !budgetMessages.contains(where: { $0.contains(fields["budget"] ?? "\u{0}") }) { budgetMessages.append(message) }
            }
            for message in budgetMessages { alerts.append(Alert(loop: name, kind: "budget", message: message, candidate: nil, url: nil)) }
            // The newest drift check of the window, if it found the claimed improvement gone.
            if let entry = try source.audit.recent(limit: 20, loop: name, kinds: ["drift_check"]).last(where: { entry in
                (try? Date(entry.time, strategy: stamp)).map { $0 >= since && $0 < until } ?? false
            }), let check = DriftCheck(entry), check.drifted {
                alerts.append(Alert(loop: name, kind: "drift", message: check.message, candidate: nil, url: nil))
            }
            if overview.state == LoopStatus.failed.rawValue {
                alerts.append(
                    Alert(
                        loop: name, kind: "failed", message: "the loop failed: \(overview.reason ?? "no reason recorded")", candidate: nil, url: nil))
            }
            if let paused = overview.paused { alerts.append(Alert(loop: name, kind: "paused", message: paused, candidate: nil, url: nil)) }
        }
        changes.sort { $0.estimate != $1.estimate ? $0.estimate > $1.estimate : $0.id < $1.id }
        return MorningReport(
            generatedAt: now, since: since, until: until, baseURL: baseURL, alerts: alerts, loops: loops, changes: changes,
            reviewDepth: ReviewerDepth.summarize(decisions))
    }
}

/// `--since` values: `24h`, `90m`, `7d`, a date (`2025-03-04`, local midnight) or an ISO 8601
/// date-time.
public enum ReportWindow {
    public static func since(_ text: String, now: Date = Date(), timeZone: TimeZone = .current) -> Date? {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        if let last = trimmed.last, "smhdw".contains(last), let amount = Double(trimmed.dropLast()), amount > 0, amount.isFinite {
            let scale: Double = ["s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604_800][String(last)] ?? 1
            return now.addingTimeInterval(-amount * scale)
        }
        if let date = try? Date(trimmed, strategy: .iso8601) { return date }
        if let date = try? Date(trimmed, strategy: Date.ISO8601FormatStyle(includingFractionalSeconds: true)) { return date }
        var local = Date.ISO8601FormatStyle(timeZone: timeZone).year().month().day().dateSeparator(.dash)
        if let date = try? Date(trimmed, strategy: local) { return date }
        local = Date.ISO8601FormatStyle(timeZone: timeZone).year().month().day().dateSeparator(.dash).time(includingFractionalSeconds: false)
            .timeSeparator(.colon).dateTimeSeparator(.standard)
        return try? Date(trimmed, strategy: local)
    }
}
