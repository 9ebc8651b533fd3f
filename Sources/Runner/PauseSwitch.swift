import Core
import Foundation
import Store
import Synchronization

/// The pause switch: flag files that a person, a script or `ratchet pause` can create — one
/// per loop (`<state>/<loop>.pause`) and one global (`<state>/pause`). While either exists,
/// no new step starts and running commands are stopped (SIGSTOP on their process group).
/// SIGUSR1 to a running `ratchet run` creates the loop's flag, SIGUSR2 removes it.
public struct PauseSwitch: Sendable {
    public let loopFlag: String
    public let globalFlag: String

    public init(stateDirectory: String, loop: String) {
        loopFlag = stateDirectory + "/\(loop).pause"
        globalFlag = stateDirectory + "/pause"
    }

    /// Whether either flag is set.
    public var isPaused: Bool {
        access(loopFlag, F_OK) == 0 || access(globalFlag, F_OK) == 0
    }

    /// Which flag holds the loop, and what it says (who paused it and when), or `nil`.
    public var reason: String? {
        for (path, scope) in [(loopFlag, "this loop"), (globalFlag, "all loops")] where access(path, F_OK) == 0 {
            let note = (try? String(contentsOfFile: path, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
            return "paused (\(scope), \(path))" + (note.isEmpty ? "" : ": \(note)")
        }
        return nil
    }

    /// Sets a flag. - Throws: when the file cannot be written.
    public func pause(global: Bool = false, note: String) throws {
        try Data((note + "\n").utf8).write(to: URL(fileURLWithPath: global ? globalFlag : loopFlag))
    }

    /// Clears a flag; returns whether it was set.
    @discardableResult
    public func resume(global: Bool = false) -> Bool {
        unlink(global ? globalFlag : loopFlag) == 0
    }
}

/// Records each pause and resume of a running loop once — in the audit log and the loop's
/// status — whether it was first noticed between steps or by a running command.
final class PauseRecorder: Sendable {
    private let paused = Mutex<Bool>(false)
    let loop: String
    let store: Store
    let audit: AuditLog
    let pause: PauseSwitch

    init(loop: String, store: Store, audit: AuditLog, pause: PauseSwitch) {
        self.loop = loop
        self.store = store
        self.audit = audit
        self.pause = pause
    }

    /// Whether the loop is paused now; records the transition when it changed.
    func check() -> Bool {
        let now = pause.isPaused
        let changed = paused.withLock { was -> Bool in
            defer { was = now }
            return was != now
        }
        if changed {
            let why = pause.reason ?? "paused"
            _ = try? audit.append(loop: loop, kind: now ? "pause" : "resume", now ? ["reason": why] : [:])
            try? store.setStatus(loop: loop, status: now ? .paused : .running, reason: now ? why : nil)
        }
        return now
    }
}
