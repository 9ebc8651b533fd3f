import Foundation

/// The result of one user command.
public struct CommandResult: Sendable, Equatable, Codable {
    /// Exit status when the command exited normally.
    public var exitStatus: Int32?
    /// The signal that ended the command, when one did.
    public var signal: Int32?
    /// The command ran past its time limit and its process group was killed.
    public var timedOut: Bool
    public var wallSeconds: Double
    /// Standard output, capped (head and tail kept).
    public var output: String
    /// Standard error, capped (head and tail kept).
    public var errorOutput: String
    /// Bytes of output dropped by the cap.
    public var droppedBytes: Int
    /// The process group the command ran in.
    public var processGroup: Int32
    /// The command was paused (SIGSTOP) at some point: its wall time is not a clean sample.
    public var wasPaused: Bool = false
    /// The command was killed because the loop was asked to stop.
    public var stopped: Bool = false
    /// Peak resident memory from `wait4`'s rusage, in bytes. Only an upper bound: posix_spawn
    /// shares Ratchet's address space until exec, and Linux counts that in the child's peak;
    /// and inside bubblewrap the sandbox stands between. Peak-memory metrics therefore run the
    /// bench under GNU time (see the runner).
    public var peakMemoryBytes: Int?
    /// User + system CPU time of the command and its waited-for descendants.
    public var cpuSeconds: Double?

    public var succeeded: Bool { exitStatus == 0 && !timedOut && !stopped }

    /// One line for logs: `exit 2`, `killed by signal 9`, `timed out after 5.0 s`.
    public var summary: String {
        if stopped { return "stopped (process group killed)" }
        if timedOut { return String(format: "timed out after %.1f s (process group killed)", wallSeconds) }
        if let signal { return "killed by signal \(signal)" }
        return "exit \(exitStatus ?? -1)"
    }

    /// The last lines of both streams, for a rejection reason.
    public func tail(lines: Int = 12) -> String {
        let combined = (output + (errorOutput.isEmpty ? "" : "\n" + errorOutput)).trimmingCharacters(in: .whitespacesAndNewlines)
        return combined.split(separator: "\n", omittingEmptySubsequences: false).suffix(lines).joined(separator: "\n")
    }
}

/// Why a command could not be started at all.
public struct ExecutionError: Error, Sendable, Equatable, CustomStringConvertible {
    public var command: String
    public var message: String
    public var description: String { "cannot run `\(command)`: \(message)" }
}

/// Keeps the first and last `cap / 2` bytes of a stream.
struct CappedBuffer {
    let cap: Int
    var head: [UInt8] = []
    var tail: [UInt8] = []
    var dropped = 0

    init(cap: Int) { self.cap = max(cap, 2) }

    mutating func append(_ bytes: ArraySlice<UInt8>) {
        let half = cap / 2
        var rest = bytes[...]
        if head.count < half {
            let take = min(half - head.count, rest.count)
            head.append(contentsOf: rest.prefix(take))
            rest = rest.dropFirst(take)
        }
        guard !rest.isEmpty else { return }
        tail.append(contentsOf: rest)
        if tail.count > half {
            let excess = tail.count - half
            dropped += excess
            tail.removeFirst(excess)
        }
    }

    var text: String {
        if dropped == 0 { return String(decoding: head + tail, as: UTF8.self) }
        return String(decoding: head, as: UTF8.self) + "\n[… \(dropped) bytes dropped …]\n" + String(decoding: tail, as: UTF8.self)
    }
}
