import Foundation
import Store
import TestSupport
import Testing

/// In the daemon, several writers share one state folder at once (loops running side by
/// side, API actions while a loop runs), each with its own `AuditLog`. The head anchor must
/// still end on the newest entry, and no append may fail.
struct AuditConcurrencyTests {
    @Test func concurrentAppendsKeepTheHeadOnTheNewestEntry() async throws {
        let folder = try TemporaryFolder("audit")
        defer { folder.remove() }
        let logs = try (0..<4).map { _ in
            AuditLog(store: try Store(path: folder.path + "/ratchet.sqlite"), headPath: folder.path + "/audit.head")
        }
        let failures = try await withThrowingTaskGroup(of: Int.self) { group in
            for (index, log) in logs.enumerated() {
                group.addTask {
                    var failed = 0
                    for step in 0..<50 {
                        do { try log.append(loop: "loop\(index)", kind: "step", ["n": String(step)]) } catch { failed += 1 }
                    }
                    return failed
                }
            }
            return try await group.reduce(0, +)
        }
        #expect(failures == 0, "appends failed while others wrote")
        let verification = try logs[0].verify()
        #expect(verification.ok, "\(verification.problem ?? "")")
        #expect(logs[0].head()?.seq == 200)
    }
}
