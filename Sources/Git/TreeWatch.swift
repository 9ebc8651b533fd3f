#if canImport(Glibc)
    import Glibc
#endif

/// Which paths under a folder changed since the last look, from the kernel (inotify), so a
/// check costs O(changes), not O(files).
///
/// Every folder of the tree is watched for writes, attribute changes, creations, deletions
/// and renames, and for a file opened for writing being closed (`IN_CLOSE_WRITE`): that last
/// one also covers writes through a shared memory mapping, which raise no `IN_MODIFY`. Events
/// are read only between commands, when every process a command started is gone, so none is
/// still in flight. A new folder found in the events is walked at once (its files reported,
/// itself watched). When the kernel's queue overflowed, a watched folder was renamed or
/// removed, or a watch could not be added, the answer is `.unknown`: the caller must check
/// the whole tree, and should then call `rewatch()`.
public final class TreeWatch {
    public enum Changes: Equatable, Sendable {
        /// Paths (relative to the root; folders included) that may have changed.
        case paths(Set<String>)
        /// The kernel could not say: check everything.
        case unknown(String)
    }

    public let root: String
    private var fd: Int32 = -1
    private var paths: [Int32: String] = [:]
    private var lost: String?

    private static let mask: UInt32 = UInt32(
        IN_MODIFY | IN_ATTRIB | IN_CLOSE_WRITE | IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_DELETE_SELF | IN_MOVE_SELF)

    /// Starts watching every folder under `root` (which must exist).
    public init(root: String) {
        self.root = root.hasSuffix("/") ? String(root.dropLast()) : root
        rewatch()
    }

    deinit {
        if fd >= 0 { close(fd) }
    }

    /// Whether the kernel watches the whole tree right now.
    public var isWatching: Bool { fd >= 0 && lost == nil }

    /// Why the watch is not reliable, when it is not.
    public var problem: String? { fd < 0 ? (lost ?? "inotify is not available") : lost }

    /// Drops every watch and watches the tree again from scratch (after `.unknown`).
    public func rewatch() {
        if fd >= 0 { close(fd) }
        paths = [:]
        lost = nil
        fd = inotify_init1(Int32(IN_NONBLOCK | IN_CLOEXEC))
        guard fd >= 0 else {
            lost = "inotify_init1: \(String(cString: strerror(errno)))"
            return
        }
        _ = watchTree("")
    }

    /// Forgets the events so far (the caller's own writes).
    public func discard() {
        _ = readEvents()
    }

    /// The paths touched since the last call (or `.unknown`).
    public func changes() -> Changes {
        guard fd >= 0 else { return .unknown(problem ?? "no watch") }
        let touched = readEvents()
        if let lost { return .unknown(lost) }
        return .paths(touched)
    }

    /// Watches `relative` and every folder below it; returns the files and folders found.
    private func watchTree(_ relative: String) -> [String] {
        var found: [String] = []
        var stack = [relative]
        while let folder = stack.popLast() {
            let full = folder.isEmpty ? root : root + "/" + folder
            let wd = inotify_add_watch(fd, full, Self.mask | UInt32(IN_ONLYDIR | IN_DONT_FOLLOW))
            if wd < 0 {
                // Gone already (removed while we walked) is fine; anything else loses the watch.
                if errno != ENOENT && errno != ENOTDIR {
                    lost =
                        "cannot watch '\(full)': \(String(cString: strerror(errno)))"
                        + (errno == ENOSPC ? " (raise fs.inotify.max_user_watches)" : "")
                }
                continue
            }
            paths[wd] = folder
            guard let dir = opendir(full) else { continue }
            while let entry = readdir(dir) {
                let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                    String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
                }
                if name == "." || name == ".." { continue }
                let child = folder.isEmpty ? name : folder + "/" + name
                found.append(child)
                var isFolder = entry.pointee.d_type == UInt8(DT_DIR)
                if entry.pointee.d_type == UInt8(DT_UNKNOWN) {
                    var info = stat()
                    isFolder = lstat(root + "/" + child, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR
                }
                if isFolder { stack.append(child) }
            }
            closedir(dir)
        }
        return found
    }

    private func readEvents() -> Set<String> {
        var touched = Set<String>()
        guard fd >= 0 else { return touched }
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        var newFolders: [String] = []
        while true {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            var offset = 0
            while offset + 16 <= n {
                let wd = buffer.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: offset, as: Int32.self) }
                let mask = buffer.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: offset + 4, as: UInt32.self) }
                let length = Int(buffer.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: offset + 12, as: UInt32.self) })
                let nameBytes = buffer[(offset + 16)..<min(n, offset + 16 + length)]
                let name = String(decoding: nameBytes.prefix(while: { $0 != 0 }), as: UTF8.self)
                offset += 16 + length
                if mask & UInt32(IN_Q_OVERFLOW) != 0 {
                    lost = "the kernel's event queue overflowed"
                    continue
                }
                guard let folder = paths[wd] else { continue }
                if mask & UInt32(IN_IGNORED) != 0 {
                    paths[wd] = nil
                    continue
                }
                if mask & UInt32(IN_DELETE_SELF | IN_MOVE_SELF) != 0 {
                    // The folder itself went away or moved: its watch now points elsewhere.
                    if folder.isEmpty { lost = "the slot folder itself was removed or renamed" }
                    touched.insert(folder)
                    paths[wd] = nil
                    if mask & UInt32(IN_MOVE_SELF) != 0 {
                        inotify_rm_watch(fd, wd)
                        lost = lost ?? "the folder '\(folder)' was renamed"
                    }
                    continue
                }
                let path = name.isEmpty ? folder : (folder.isEmpty ? name : folder + "/" + name)
                touched.insert(path)
                if mask & UInt32(IN_ISDIR) != 0 && mask & UInt32(IN_CREATE | IN_MOVED_TO) != 0 {
                    newFolders.append(path)
                }
            }
        }
        // Folders made while the command ran: their files are reported and they are watched
        // from now on (nothing runs now, so nothing is missed between the two).
        for folder in newFolders {
            var info = stat()
            guard lstat(root + "/" + folder, &info) == 0, (info.st_mode & S_IFMT) == S_IFDIR else { continue }
            touched.formUnion(watchTree(folder))
        }
        return touched
    }
}

@available(*, unavailable)
extension TreeWatch: Sendable {}
