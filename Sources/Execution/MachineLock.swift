import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Why a lock could not be taken.
public struct LockError: Error, Sendable, CustomStringConvertible {
    public var path: String
    public var message: String
    public var description: String { "lock \(path): \(message)" }
}

/// An advisory lock (`flock`) on one file, held until `unlock()` or until the object goes
/// away. Each `FileLock` opens the file itself, so two in one process exclude each other
/// like two processes do; a process that dies releases its locks with it.
public final class FileLock {
    public enum Mode: Sendable { case shared, exclusive }

    public let path: String
    private let descriptor: Int32
    public private(set) var held: Mode?

    /// - Parameter everyUser: open the file to every user of the machine (the machine-wide
    ///   locks); otherwise it is the owner's alone to write.
    public init(path: String, everyUser: Bool = false) throws(LockError) {
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw LockError(path: path, message: String(cString: strerror(errno))) }
        if everyUser { fchmod(fd, 0o666) }
        self.path = path
        descriptor = fd
    }

    /// Takes the lock if it is free now.
    public func tryLock(_ mode: Mode) throws(LockError) -> Bool {
        while true {
            if flock(descriptor, (mode == .shared ? LOCK_SH : LOCK_EX) | LOCK_NB) == 0 {
                held = mode
                return true
            }
            switch errno {
            case EINTR: continue
            case EWOULDBLOCK: return false
            default: throw LockError(path: path, message: String(cString: strerror(errno)))
            }
        }
    }

    /// Waits for the lock, polling every `poll`, for as long as `keepWaiting()` says;
    /// returns whether it was taken.
    public func lock(_ mode: Mode, poll: Duration = .milliseconds(20), keepWaiting: () -> Bool) async throws(LockError) -> Bool {
        while true {
            if try tryLock(mode) { return true }
            guard keepWaiting() else { return false }
            try? await Task.sleep(for: poll)
        }
    }

    /// Waits for the lock, blocking the calling thread: for a short critical section of a
    /// synchronous caller (opening a store, moving the audit head).
    public func lock(_ mode: Mode) throws(LockError) {
        while flock(descriptor, mode == .shared ? LOCK_SH : LOCK_EX) != 0 {
            guard errno == EINTR else { throw LockError(path: path, message: String(cString: strerror(errno))) }
        }
        held = mode
    }

    public func unlock() {
        flock(descriptor, LOCK_UN)
        held = nil
    }

    /// The file's text (a lock file may say who holds it).
    public func contents(limit: Int = 256) -> String {
        var buffer = [UInt8](repeating: 0, count: limit)
        let count = pread(descriptor, &buffer, limit, 0)
        return count > 0 ? String(decoding: buffer[0..<count], as: UTF8.self) : ""
    }

    /// Replaces the file's text.
    public func setContents(_ text: String) {
        ftruncate(descriptor, 0)
        let bytes = Array(text.utf8)
        _ = bytes.withUnsafeBytes { pwrite(descriptor, $0.baseAddress, $0.count, 0) }
    }

    // Unlocked before closing: a child forked meanwhile (and not yet exec'd) shares the
    // descriptor, and closing alone would leave the lock held until that child goes.
    deinit {
        flock(descriptor, LOCK_UN)
        close(descriptor)
    }
}

/// The machine-wide locks that keep measurements honest when candidates run in parallel, in
/// one process or many (other lanes, other loops, the daemon's loops).
///
/// - Each core has a lock file (`cpu-<n>`): a measurement holds the locks of the cores it
///   runs on, every core when it is not pinned, so measurements never share a core.
/// - Unless a loop allows `overlap_builds`, builds and tests and measurements are two
///   groups that exclude each other (many builds at once, or many measurements on disjoint
///   cores at once, never a build during a measurement). A group is entered through a
///   turnstile: a waiting measurement holds it, so a stream of builds cannot starve it.
public struct MachineLock: Sendable {
    public let directory: String
    /// The cores this process may run on.
    public let cores: [Int]

    public init(directory: String) throws(LockError) {
        var info = stat()
        if stat(directory, &info) != 0 {
            if mkdir(directory, 0o777) != 0 && errno != EEXIST { throw LockError(path: directory, message: String(cString: strerror(errno))) }
            // Sticky and open to all, like /tmp: every user's Ratchet locks here.
            chmod(directory, 0o1777)
        }
        self.directory = directory
        cores = Self.allowedCores()
    }

    /// A held lock set; released by `release()` or when it goes away. One holder uses it at
    /// a time (a run's lanes hand it on in turns), hence unchecked.
    public final class Hold: @unchecked Sendable {
        var locks: [FileLock]
        /// The cores a measurement may use, when it was pinned.
        public let cores: [Int]?

        init(locks: [FileLock], cores: [Int]?) {
            self.locks = locks
            self.cores = cores
        }

        public func release() {
            for lock in locks.reversed() { lock.unlock() }
            locks = []
        }

        deinit { release() }
    }

    /// Enters the measurement group, then takes cores: `perMeasurement` of them (the first
    /// free aligned set, for pinning), or every core. `nil` when `keepWaiting` gave up.
    public func measurement(cores perMeasurement: Int?, overlapBuilds: Bool, keepWaiting: () -> Bool) async throws(LockError) -> Hold? {
        var held: [FileLock] = []
        if !overlapBuilds {
            guard let entered = try await enter(own: "measuring", other: "building", keepWaiting: keepWaiting) else { return nil }
            held.append(entered)
        }
        if let perMeasurement {
            guard perMeasurement <= cores.count else {
                throw LockError(
                    path: directory,
                    message:
                        "cpus_per_measurement = \(perMeasurement), but this process may run on \(cores.count) core(s) (\(cores.map(String.init).joined(separator: ",")))"
                )
            }
            let sets = stride(from: 0, to: cores.count - perMeasurement + 1, by: perMeasurement).map { Array(cores[$0..<$0 + perMeasurement]) }
            while true {
                for set in sets {
                    if let locks = try takeAll(set) { return Hold(locks: held + locks, cores: set) }
                }
                guard keepWaiting() else { return nil }
                try? await Task.sleep(for: .milliseconds(20))
            }
        }
        // The whole machine: every core in ascending order (so two waiters cannot deadlock).
        for core in cores {
            let lock = try FileLock(path: directory + "/cpu-\(core)", everyUser: true)
            guard try await lock.lock(.exclusive, keepWaiting: keepWaiting) else { return nil }
            held.append(lock)
        }
        return Hold(locks: held, cores: nil)
    }

    /// Enters the build group: waits until no measurement runs. `nil` when `keepWaiting` gave up.
    public func build(keepWaiting: () -> Bool) async throws(LockError) -> Hold? {
        guard let entered = try await enter(own: "building", other: "measuring", keepWaiting: keepWaiting) else { return nil }
        return Hold(locks: [entered], cores: nil)
    }

    /// Group entry: through the turnstile, wait for the other group to drain (its lock
    /// taken exclusively), join one's own group (shared), then let the next one in.
    private func enter(own: String, other: String, keepWaiting: () -> Bool) async throws(LockError) -> FileLock? {
        let turnstile = try FileLock(path: directory + "/turnstile", everyUser: true)
        guard try await turnstile.lock(.exclusive, keepWaiting: keepWaiting) else { return nil }
        defer { turnstile.unlock() }
        let drained = try FileLock(path: directory + "/" + other, everyUser: true)
        guard try await drained.lock(.exclusive, keepWaiting: keepWaiting) else { return nil }
        defer { drained.unlock() }
        let mine = try FileLock(path: directory + "/" + own, everyUser: true)
        guard try await mine.lock(.shared, keepWaiting: keepWaiting) else { return nil }
        return mine
    }

    /// Every core of `set` now, or none.
    private func takeAll(_ set: [Int]) throws(LockError) -> [FileLock]? {
        var taken: [FileLock] = []
        for core in set {
            let lock = try FileLock(path: directory + "/cpu-\(core)", everyUser: true)
            guard try lock.tryLock(.exclusive) else {
                for held in taken { held.unlock() }
                return nil
            }
            taken.append(lock)
        }
        return taken
    }

    /// `Cpus_allowed_list` of this process (`0-3,8`), or every online core.
    static func allowedCores() -> [Int] {
        if let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
            let line = status.split(separator: "\n").first(where: { $0.hasPrefix("Cpus_allowed_list:") })
        {
            var cores: [Int] = []
            for range in line.dropFirst("Cpus_allowed_list:".count).trimmingCharacters(in: .whitespaces).split(separator: ",") {
                let ends = range.split(separator: "-").compactMap { Int($0) }
                if ends.count == 1 { cores.append(ends[0]) } else if ends.count == 2, ends[0] <= ends[1] { cores += Array(ends[0]...ends[1]) }
            }
            if !cores.isEmpty { return cores }
        }
        return Array(0..<max(1, ProcessInfo.processInfo.activeProcessorCount))
    }
}
