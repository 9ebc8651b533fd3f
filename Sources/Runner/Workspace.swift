import CSpawn
import Core
import Execution
import Foundation
import Git
import Store

#if canImport(Glibc)
    import Glibc
#endif

/// Why Ratchet cannot run or inspect a loop, with what the user can do about it.
public struct RunnerError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: String, Sendable {
        case config, repository, store, locked, io, baselineFailed, internalError
        /// A human action that cannot be done as asked (unknown candidate, already reviewed, …).
        case invalidRequest
    }

    public var kind: Kind
    public var message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { message }
}

/// A loop's config with the things it points to, opened: the repository, the state folder
/// and the store. Shared by `ratchet run` and the read-only verbs.
public final class Workspace {
    public let config: LoopConfig
    public let configText: String
    public let configPath: String
    public let repository: Repository
    public let stateDirectory: String
    public let store: Store
    /// The tamper-evident audit log, anchored in `<state>/audit.head`.
    public let audit: AuditLog

    /// Reads and validates the config at `path`, opens its repository and store.
    /// - Throws: `RunnerError` `.config` (with every problem), `.repository`, `.store` or `.io`.
    public convenience init(configPath path: String) throws(RunnerError) {
        let absolute = Paths.resolve(path, from: FileManager.default.currentDirectoryPath)
        guard let data = FileManager.default.contents(atPath: absolute) else {
            let exists = FileManager.default.fileExists(atPath: absolute)
            throw RunnerError(
                .config,
                exists
                    ? "cannot read config \(absolute)"
                    : "no config at \(absolute); run `ratchet init` to write a starter ratchet.toml, or pass --config"
            )
        }
        let text = String(decoding: data, as: UTF8.self)
        let directory = (absolute as NSString).deletingLastPathComponent
        let parsed: LoopConfig
        do {
            parsed = try LoopConfig.parse(text, file: absolute, directory: directory)
        } catch {
            throw RunnerError(.config, error.description)
        }
        try self.init(config: parsed, text: text, path: absolute)
    }

    /// Opens what an already parsed `config` points to (`text` is what it was parsed from,
    /// hashed to tell config changes; `path` where it was read).
    public init(config: LoopConfig, text: String, path absolute: String) throws(RunnerError) {
        self.config = config
        configText = text
        configPath = absolute
        do {
            repository = try Repository(discovering: config.repository)
        } catch {
            throw RunnerError(.repository, "loop.repository: \(config.repository) is not inside a git repository (\(error.message))")
        }
        stateDirectory = config.stateDirectory(gitDirectory: repository.gitDirectory)
        do {
            try FileManager.default.createDirectory(atPath: stateDirectory, withIntermediateDirectories: true)
        } catch {
            throw RunnerError(.io, "cannot create state folder \(stateDirectory): \(error.localizedDescription)")
        }
        do {
            store = try Store(path: stateDirectory + "/ratchet.sqlite")
        } catch {
            throw RunnerError(.store, error.description)
        }
        audit = AuditLog(store: store, headPath: stateDirectory + "/audit.head")
    }

    /// Removes a lock file that git left on the loop branch when a Ratchet was killed in the
    /// middle of moving it. Only Ratchet writes `ratchet/<loop>`, and only while holding the
    /// loop's lock, so a branch lock found by the lock's holder is stale. Returns whether one
    /// was removed.
    @discardableResult
    func clearStaleBranchLock() -> Bool {
        let git = repository.gitDirectory.hasSuffix("/") ? repository.gitDirectory : repository.gitDirectory + "/"
        let path = git + String(config.branch) + ".lock"
        return unlink(path) == 0
    }

    /// A short, stable hash of the config text (FNV-1a), recorded with the loop.
    public var configHash: String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in configText.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x100_0000_01b3
        }
        return String(hash, radix: 16)
    }
}

@available(*, unavailable)
extension Workspace: Sendable {}

/// An exclusive lock on a loop (`<state>/<loop>.lock`, holding the holder's pid), released
/// when the process ends, however it ends.
public final class LoopLock {
    /// The pid holding the lock at `path`, or `nil` when no process holds it.
    public static func holder(path: String) -> Int32? {
        guard FileManager.default.fileExists(atPath: path), let lock = try? FileLock(path: path) else { return nil }
        if (try? lock.tryLock(.exclusive)) == true {
            lock.unlock()
            return nil
        }
        return Int32(lock.contents().trimmingCharacters(in: .whitespacesAndNewlines)) ?? -1
    }

    private let lock: FileLock

    init(path: String, loop: String) throws(RunnerError) {
        do {
            lock = try FileLock(path: path)
            guard try lock.tryLock(.exclusive) else {
                let holder = lock.contents().trimmingCharacters(in: .whitespacesAndNewlines)
                throw RunnerError(
                    .locked, "loop '\(loop)' is already running (pid \(holder.isEmpty ? "?" : holder)); stop it first or wait for it to finish")
            }
        } catch let error as LockError {
            throw RunnerError(.io, "cannot open lock \(path): \(error.message)")
        } catch let error as RunnerError {
            throw error
        } catch {
            throw RunnerError(.io, "cannot open lock \(path): \(error)")
        }
        lock.setContents("\(getpid())\n")
    }
}
