import ArgumentParser
import Foundation
import Runner
import Server

struct TokenCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "token",
        abstract: "Print the access token of the HTTP API and review UI (made if missing, mode 0600).",
        discussion: """
            The token is in <state>/token, next to the loop's database. API clients send it as `Authorization: Bearer <token>`; a browser opens the login link printed on standard error once, and gets a session cookie.
            """)

    @OptionGroup var options: ConfigOption
    @Option(help: "The state folder holding the token (default: the config's).") var state: String?
    @Option(help: "Host in the printed login link.") var host: String = "127.0.0.1"
    @Option(help: "Port in the printed login link.") var port: Int = 8470

    func run() async throws {
        try await reporting {
            let directory = try state ?? options.open().stateDirectory
            let token: AccessToken
            do throws(DaemonError) { token = try AccessToken.loadOrCreate(directory: directory) } catch { throw Failure(daemon: error) }
            print(token.value)
            FileHandle.standardError.write(Data("token file: \(token.path)\nlogin link: http://\(host):\(port)/login?token=\(token.value)\n".utf8))
        }
    }
}
