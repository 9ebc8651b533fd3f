import Core
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Why a `[proposer.command]` program cannot be contained as configured.
public struct ContainmentError: Error, Sendable, Equatable, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}

extension Sandbox {
    /// The sandbox a `[proposer.command]` program runs in, derived from the one the loop's
    /// commands run in (`self`).
    ///
    /// With bubblewrap: the scratch folder is the only writable place; `protected` (the
    /// repository, its git folder, the loop's state folder), `homes` (the user's real home)
    /// and `runtime` (the user's runtime folder, whose sockets — session bus, ssh and gpg
    /// agents — a read-only mount does not stop) are hidden behind an empty tmpfs, so neither
    /// readable nor writable; /tmp is
    /// private and is also `$HOME`; the rest of the system is read-only. The network is kept
    /// unless `spec.network` is false. `spec.readOnly` folders show through the hidden ones,
    /// read-only (`~/` is the first of `homes`); one that would show a protected folder is
    /// refused.
    ///
    /// The CPU, process and file-size limits carry over; the address-space limit (`memory`)
    /// does not: agent CLIs on V8 (Node) reserve far more address space than they use, and
    /// WebAssembly cannot even start under a few GB of `RLIMIT_AS`.
    ///
    /// Without bubblewrap nothing of this applies (the program reaches what the user can).
    public func forProposer(
        _ spec: AgentCommandSpec, protected: [String], homes: [String] = Sandbox.userHomes(),
        runtime: [String] = Sandbox.userRuntimeFolders()
    ) throws(ContainmentError) -> Sandbox {
        var sandbox = Sandbox(bubblewrap: bubblewrap, cpuSeconds: cpuSeconds, processes: processes, fileBytes: fileBytes)
        sandbox.network = spec.network
        guard bubblewrap != nil else { return sandbox }
        let protectedFolders = protected.map(Self.canonical)
        var readable: [String] = []
        for entry in spec.readOnly {
            var path = entry
            if entry == "~" || entry.hasPrefix("~/") {
                guard let home = homes.first else {
                    throw ContainmentError(message: "proposer.command.read_only: '\(entry)' names your home, but HOME is not set")
                }
                path = Paths.resolve(String(entry.dropFirst(entry == "~" ? 1 : 2)), from: home)
            }
            path = Self.canonical(path)
            if let overlap = protectedFolders.first(where: { Self.contains(path, $0) || Self.contains($0, path) }) {
                throw ContainmentError(
                    message: "proposer.command.read_only: '\(entry)' would show the proposer \(overlap), which it must not reach "
                        + "(the repository and the loop's state folder stay hidden); name a folder outside them")
            }
            readable.append(path)
        }
        sandbox.readOnly = readable
        sandbox.hidden = Self.hiddenFolders(protectedFolders + (homes + runtime).map(Self.canonical))
        return sandbox
    }

    /// The folders to hide: existing ones, outside /tmp (already private), not `/`, and none
    /// inside another (a tmpfs on the outer one hides it already).
    static func hiddenFolders(_ paths: [String]) -> [String] {
        var isDirectory: ObjCBool = false
        let candidates = Set(paths).filter {
            $0 != "/" && !contains($0, "/tmp") && FileManager.default.fileExists(atPath: $0, isDirectory: &isDirectory) && isDirectory.boolValue
        }
        return candidates.filter { path in !candidates.contains { $0 != path && contains(path, $0) } }.sorted()
    }

    /// Whether `path` is `folder` or lies inside it.
    static func contains(_ path: String, _ folder: String) -> Bool {
        path == folder || folder == "/" || path.hasPrefix(folder + "/")
    }

    /// `path` absolute, normalised and with symbolic links resolved where it exists (bubblewrap
    /// mounts on the real path).
    static func canonical(_ path: String) -> String {
        let normal = Paths.resolve(path, from: FileManager.default.currentDirectoryPath)
        guard let real = realpath(normal, nil) else { return normal }
        defer { free(real) }
        return String(cString: real)
    }

    /// The user's runtime folders: `$XDG_RUNTIME_DIR` and `/run/user/<uid>`.
    public static func userRuntimeFolders(environment: [String: String] = ProcessInfo.processInfo.environment) -> [String] {
        var folders = ["/run/user/\(getuid())"]
        if let runtime = environment["XDG_RUNTIME_DIR"], runtime.hasPrefix("/"), !folders.contains(runtime) { folders.append(runtime) }
        return folders
    }

    /// The user's home folders: `$HOME` and the password database's entry, when they differ.
    public static func userHomes(environment: [String: String] = ProcessInfo.processInfo.environment) -> [String] {
        var homes: [String] = []
        if let home = environment["HOME"], home.hasPrefix("/") { homes.append(home) }
        if let entry = getpwuid(getuid()), let directory = entry.pointee.pw_dir {
            let home = String(cString: directory)
            if home.hasPrefix("/") && !homes.contains(home) { homes.append(home) }
        }
        return homes
    }
}
