import Foundation
import TestSupport
import Testing

/// `ratchet token` and who the CLI records, run as a user runs them.
@Suite(.serialized) struct TokenCLITests {
    /// add prints the secret once (only its hash is kept); list shows names and roles, never
    /// secrets; revoke marks it; a bad role or name is a usage error.
    @Test func addListRevoke() async throws {
        let fixture = try TinyWorkspace.make()
        defer { fixture.remove() }
        let add = try await runRatchet(["token", "add", "ada", "--role", "admin"], in: fixture.path)
        #expect(add.status == 0, "\(add.errorOutput)")
        let secret = add.output.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(secret.hasPrefix("rat_"))
        #expect(add.errorOutput.contains("shown once") && add.errorOutput.contains("/login"))
        #expect(try await runRatchet(["token", "add", "vera", "--role", "viewer"], in: fixture.path).status == 0)
        #expect(try await runRatchet(["token", "add", "ada"], in: fixture.path).status == 64, "a live name is taken")
        #expect(try await runRatchet(["token", "add", "eve", "--role", "god"], in: fixture.path).status == 64)
        #expect(try await runRatchet(["token", "add", "ratchet"], in: fixture.path).status == 64)

        let list = try await runRatchet(["token", "list"], in: fixture.path)
        #expect(list.status == 0)
        #expect(list.output.contains("ada") && list.output.contains("admin") && list.output.contains("vera") && list.output.contains("viewer"))
        #expect(!list.output.contains(secret))

        let revoke = try await runRatchet(["token", "revoke", "vera"], in: fixture.path)
        #expect(revoke.status == 0 && revoke.output.contains("revoked token"), "\(revoke.errorOutput)")
        #expect(try await runRatchet(["token", "revoke", "vera"], in: fixture.path).status == 64)
        let json = try await runRatchet(["token", "list", "--all", "--json"], in: fixture.path)
        let rows = try #require(try JSONSerialization.jsonObject(with: Data(json.output.utf8)) as? [[String: Any]])
        #expect(rows.map { $0["name"] as? String } == ["ada", "vera"])
        #expect(rows.last?["revokedBy"] as? String != nil)
        // Without a shared token file, `ratchet token` alone says what replaced it.
        let bare = try await runRatchet(["token"], in: fixture.path)
        #expect(bare.status == 64 && bare.errorOutput.contains("ratchet token add"), "\(bare.errorOutput)")
    }

    /// A CLI approval is recorded as the OS user, with git's identity beside it; `--as` is
    /// only a claim; `audit show` says how each actor was established.
    @Test func cliActionsAreRecordedAsTheOSUser() async throws {
        let fixture = try TinyWorkspace.make(config: TinyWorkspace.config() + "\n[checkpoint]\nevery_accepts = 1\n")
        defer { fixture.remove() }
        #expect(try await runRatchet(["run"], in: fixture.path).status == 0)
        let review = try await runRatchet(["review", "--json"], in: fixture.path)
        let pending = try #require(try JSONSerialization.jsonObject(with: Data(review.output.utf8)) as? [[String: Any]])
        let id = try #require(pending.first?["id"] as? Int)
        let user = try runProgram(["id", "-un"], in: "/").trimmingCharacters(in: .whitespacesAndNewlines)
        let approve = try await runRatchet(["approve", String(id), "--as", "Someone Else"], in: fixture.path)
        #expect(approve.status == 0, "\(approve.errorOutput)")
        #expect(approve.output.contains("approved by \(user)"), "\(approve.output)")
        #expect(approve.errorOutput.contains("kept beside it as a claim"))
        let audit = try await runRatchet(["audit", "show"], in: fixture.path)
        let line = try #require(audit.output.split(separator: "\n").last { $0.contains("approval") })
        #expect(line.contains(" \(user) "), "\(line)")
        #expect(line.contains("[OS user (uid \(getuid()), git: Fixture <fixture@example.com>)]"), "\(line)")
        #expect(line.contains("as_given=Someone Else"), "\(line)")
        #expect(audit.output.contains("[the loop]"))
    }
}
