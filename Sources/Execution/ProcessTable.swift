import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// This machine's processes, as Linux shows them in `/proc`.
public enum ProcessTable {
    public struct Entry: Sendable, Equatable {
        public var pid: pid_t
        public var parent: pid_t
        public var group: pid_t
    }

    /// The path of this process's executable.
    public static var executable: String {
        (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    }

    /// Every process that can be read now.
    public static func entries() -> [Entry] {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return [] }
        return names.compactMap { name in
            guard let pid = pid_t(name), let stat = try? String(contentsOfFile: "/proc/\(name)/stat", encoding: .utf8),
                let close = stat.lastIndex(of: ")")
            else { return nil }
            // Fields after the command name: state, ppid, pgrp, …
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            guard fields.count > 2, let parent = pid_t(fields[1]), let group = pid_t(fields[2]) else { return nil }
            return Entry(pid: pid, parent: parent, group: group)
        }
    }

    /// The folder `pid` works in, when it can be read.
    public static func workingDirectory(of pid: pid_t) -> String? {
        try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/cwd")
    }

    /// Kills the processes of `group` that work inside `folder`, and only those: a process
    /// group left by a Ratchet that died may since have been recycled by someone else.
    public static func killGroup(_ group: pid_t, workingUnder folder: String) {
        for entry in entries() where entry.group == group {
            if let directory = workingDirectory(of: entry.pid), directory.hasPrefix(folder) { kill(entry.pid, SIGKILL) }
        }
    }
}
