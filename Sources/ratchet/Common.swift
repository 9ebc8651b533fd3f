import ArgumentParser
import Foundation
import Runner
import Store

/// `--config`, shared by every verb that works on a loop.
struct ConfigOption: ParsableArguments {
    @Option(name: .shortAndLong, help: "Path of the loop's config file.")
    var config: String = "ratchet.toml"

    func open() throws -> Workspace {
        do {
            return try Workspace(configPath: config)
        } catch {
            throw Failure(error)
        }
    }
}

/// An error printed once, plainly, with the documented exit code.
struct Failure: Error, CustomStringConvertible {
    let message: String
    let status: ExitStatus

    init(_ error: RunnerError) {
        message = error.message
        status =
            switch error.kind {
            case .config: .invalidConfig
            case .invalidRequest: .usage
            case .repository: .repository
            case .locked: .alreadyRunning
            case .baselineFailed: .baselineFailed
            case .store, .io, .internalError: .internalError
            }
    }

    init(message: String, status: ExitStatus) {
        self.message = message
        self.status = status
    }

    var description: String { message }
}

/// Runs a verb body, turning `Failure`s and `RunnerError`s into a message on stderr and the
/// documented exit code.
func reporting(_ body: () async throws -> Void) async throws {
    do {
        try await body()
    } catch let error as RunnerError {
        FileHandle.standardError.write(Data(("ratchet: error: " + error.message + "\n").utf8))
        throw Failure(error).status.exitCode
    } catch let failure as Failure {
        FileHandle.standardError.write(Data(("ratchet: error: " + failure.message + "\n").utf8))
        throw failure.status.exitCode
    }
}

/// Runs a human action on the loop: its operations, and who is acting: the OS user (git's
/// identity is kept beside it). A name given with `--as` is recorded as a claim, not as the
/// actor.
func acting(_ options: ConfigOption, as claimed: String?, _ body: (LoopOperations, Actor) async throws -> Void) async throws {
    try await reporting {
        let operations = LoopOperations(workspace: try options.open())
        try await body(operations, try cliActor(operations, claimed: claimed))
    }
}

/// The OS user at this terminal; `--as NAME` is kept as `as_given` when it differs.
func cliActor(_ operations: LoopOperations, claimed: String?) throws -> Actor {
    var actor = try operations.localActor()
    if let claimed = claimed?.trimmingCharacters(in: .whitespacesAndNewlines), !claimed.isEmpty, claimed != actor.name {
        actor.details["as_given"] = claimed
        FileHandle.standardError.write(
            Data("ratchet: note: recorded as the OS user \(actor.name); --as \(claimed) is kept beside it as a claim, not as who acted\n".utf8))
    }
    return actor
}

func printJSON<T: Encodable>(_ value: T) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
    encoder.dateEncodingStrategy = .iso8601
    let data = try encoder.encode(value)
    print(String(decoding: data, as: UTF8.self))
}

extension String {
    func padded(_ width: Int) -> String {
        count >= width ? self : self + String(repeating: " ", count: width - count)
    }

    func clipped(_ width: Int) -> String {
        count <= width ? self : String(prefix(max(0, width - 1))) + "…"
    }
}
