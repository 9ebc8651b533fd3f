import ArgumentParser
import Core
import Foundation
import Runner
import Server
import Store

/// Where the daemon keeps its tokens: `--state`, else the config's state folder.
struct TokenStateOption: ParsableArguments {
    @OptionGroup var options: ConfigOption
    @Option(help: "The daemon's state folder, where the tokens are kept (default: the config's).") var state: String?

    func open() throws -> AccessStore {
        let directory = try state ?? options.open().stateDirectory
        do throws(DaemonError) { return try AccessStore.open(directory: directory) } catch { throw Failure(daemon: error) }
    }
}

/// The person running the CLI (the OS user), for the audit of token changes.
func localActor() -> Actor { Actor.local(gitIdentity: nil) }

extension Role: ExpressibleByArgument {}

struct TokenCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "token",
        abstract: "Personal access tokens of the review UI and the HTTP API: add, list, revoke.",
        discussion: """
            Each person gets a token of their own, with a role: viewer (reads), reviewer (also \
            approves, rejects, rolls back, pauses and resumes) or admin (also promotes). What they \
            do in the UI or the API is recorded under the token's name and id. A token is printed \
            once; only its SHA-256 is kept, in <state>/ratchet.sqlite. Revoking a token refuses it \
            at once, and ends the browser sessions opened with it.

            The shared token of older set-ups (<state>/token) keeps working as the admin named \
            `owner` until `ratchet token revoke owner`.
            """,
        subcommands: [Add.self, List.self, Revoke.self, Show.self],
        defaultSubcommand: Show.self)

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Make a personal token for NAME and print it once (the login link goes to standard error).")

        @OptionGroup var state: TokenStateOption
        @Argument(help: "Whose token: the person's login name, e.g. ada (1-64 letters, digits, . _ - @).") var name: String
        @Option(help: "viewer, reviewer or admin.") var role: Role = .reviewer
        @Option(help: "Base URL in the printed login link.") var url: String = "http://127.0.0.1:8470"

        func run() async throws {
            try await reporting {
                let access = try state.open()
                let issued: IssuedToken
                do throws(DaemonError) { issued = try access.add(name: name, role: role, by: localActor()) } catch { throw Failure(daemon: error) }
                print(issued.secret)
                let base = url.hasSuffix("/") ? String(url.dropLast()) : url
                FileHandle.standardError.write(
                    Data(
                        """
                        token \(issued.record.id ?? 0) for \(name) (\(role.rawValue)); shown once: only its hash is kept in \(access.store.path)
                        log in at \(base)/login (paste the token), or open \(base)/login?token=\(issued.secret)

                        """.utf8))
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the tokens: name, role, id, made, last used, revoked.")

        @OptionGroup var state: TokenStateOption
        @Flag(help: "Print JSON.") var json = false
        @Flag(help: "Include revoked tokens.") var all = false

        struct Row: Encodable {
            var id: Int64
            var name: String
            var role: String
            var createdAt: Date
            var createdBy: String
            var lastUsedAt: Date?
            var revokedAt: Date?
            var revokedBy: String?
            var shared: Bool
        }

        func run() async throws {
            try await reporting {
                let access = try state.open()
                let tokens = try access.store.tokens().filter { all || $0.isLive }
                let rows = tokens.map {
                    Row(
                        id: $0.id ?? 0, name: $0.name, role: $0.role.rawValue, createdAt: $0.createdAt, createdBy: $0.createdBy,
                        lastUsedAt: $0.lastUsedAt, revokedAt: $0.revokedAt, revokedBy: $0.revokedBy, shared: $0.legacy)
                }
                if json { return try printJSON(rows) }
                if rows.isEmpty { return print("no tokens; make one with `ratchet token add NAME --role admin`") }
                let day: Date.FormatStyle = .dateTime.year().month(.twoDigits).day(.twoDigits).hour().minute()
                print("\("id".padded(4)) \("name".padded(16)) \("role".padded(9)) \("made".padded(18)) \("last used".padded(18)) state")
                for row in rows {
                    var state = row.revokedAt.map { "revoked \($0.formatted(day)) by \(row.revokedBy ?? "?")" } ?? "live"
                    if row.shared { state += " (the shared token file)" }
                    print(
                        "\(String(row.id).padded(4)) \(row.name.padded(16)) \(row.role.padded(9)) \(row.createdAt.formatted(day).padded(18)) "
                            + "\((row.lastUsedAt.map { $0.formatted(day) } ?? "never").padded(18)) \(state)")
                }
            }
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Revoke a token: refused at once, and its browser sessions end (for `owner`, the shared token file is deleted).")

        @OptionGroup var state: TokenStateOption
        @Argument(help: "The token's name.") var name: String

        func run() async throws {
            try await reporting {
                let access = try state.open()
                let record: AccessTokenRecord
                do throws(DaemonError) { record = try access.revoke(name: name, by: localActor()) } catch { throw Failure(daemon: error) }
                print(
                    "revoked token \(record.id ?? 0) (\(record.name), \(record.role.rawValue))"
                        + (record.legacy ? "; the shared token file is deleted" : ""))
            }
        }
    }

    /// `ratchet token` alone, as before personal tokens: prints the shared token, if one is left.
    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "show", abstract: "Print the shared token of an older set-up (<state>/token), while it is not revoked.")

        @OptionGroup var state: TokenStateOption
        @Option(help: "Base URL in the printed login link.") var url: String = "http://127.0.0.1:8470"

        func run() async throws {
            try await reporting {
                let access = try state.open()
                let shared: SharedTokenFile?
                do throws(DaemonError) { shared = try SharedTokenFile.load(directory: access.directory) } catch { throw Failure(daemon: error) }
                guard let shared, try access.store.liveToken(secret: shared.value) != nil else {
                    throw Failure(
                        message:
                            "there is no shared token in \(access.directory) (personal tokens replace it): make your own with `ratchet token add NAME --role admin`",
                        status: .usage)
                }
                print(shared.value)
                FileHandle.standardError.write(
                    Data(
                        """
                        the shared token (\(shared.path)) works as the admin 'owner' until `ratchet token revoke owner`; give each person their own with `ratchet token add NAME`
                        login link: \(url)/login?token=\(shared.value)

                        """.utf8))
            }
        }
    }
}
