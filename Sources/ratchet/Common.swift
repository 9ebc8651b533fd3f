import ArgumentParser
import Foundation
import Runner

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
    let code: Int32

    init(_ error: RunnerError) {
        message = error.message
        switch error.kind {
        case .config: code = 65
        case .invalidRequest: code = 64
        case .repository: code = 66
        case .locked: code = 69
        case .baselineFailed: code = 75
        case .store, .io, .internalError: code = 70
        }
    }

    init(message: String, code: Int32) {
        self.message = message
        self.code = code
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
        throw ExitCode(Failure(error).code)
    } catch let failure as Failure {
        FileHandle.standardError.write(Data(("ratchet: error: " + failure.message + "\n").utf8))
        throw ExitCode(failure.code)
    }
}

/// Runs a human action on the loop: its operations, and who is acting (`--as`, else git's
/// user, else the OS user).
func acting(_ options: ConfigOption, as actor: String?, _ body: (LoopOperations, String) async throws -> Void) async throws {
    try await reporting {
        let operations = LoopOperations(workspace: try options.open())
        try await body(operations, operations.identity(actor))
    }
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
