#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Small POSIX file helpers for slots; every failure becomes a `GitError` `.io` naming the path.
enum FileSystem {
    static func error(_ operation: String, _ path: String, _ code: Int32 = errno) -> GitError {
        GitError(.io, operation: "\(operation) '\(path)'", message: String(cString: strerror(code)))
    }

    static func makeDirectories(_ path: String) throws(GitError) {
        var current = path.hasPrefix("/") ? "" : "."
        for component in path.split(separator: "/") {
            current += "/" + component
            if mkdir(current, 0o755) != 0 && errno != EEXIST {
                throw error("create folder", current)
            }
        }
    }

    /// Creates the folders above `relative` inside `root`, replacing a file that stands where
    /// a folder must be.
    static func makeParentDirectories(of relative: String, under root: String, made: inout Set<String>) throws(GitError) {
        let parts = relative.split(separator: "/").dropLast()
        var current = root
        for part in parts {
            current += "/" + part
            if made.contains(current) { continue }
            if mkdir(current, 0o755) != 0 {
                let code = errno
                guard code == EEXIST else { throw error("create folder", current, code) }
                var info = stat()
                if lstat(current, &info) == 0 && (info.st_mode & S_IFMT) != S_IFDIR {
                    unlink(current)
                    if mkdir(current, 0o755) != 0 { throw error("create folder", current) }
                }
            }
            made.insert(current)
        }
    }

    static func writeFile(_ path: String, bytes: UnsafeRawBufferPointer, mode: mode_t, atomically: Bool) throws(GitError) {
        let target = atomically ? path + ".ratchet-tmp" : path
        var fd = open(target, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode)
        if fd < 0 && errno == EISDIR && !atomically {
            try removeTree(path)
            fd = open(target, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode)
        }
        if fd < 0 && (errno == EACCES || errno == ELOOP) {
            unlink(target)
            fd = open(target, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode)
        }
        guard fd >= 0 else { throw error("write", path) }
        var offset = 0
        while offset < bytes.count, let base = bytes.baseAddress {
            let n = Glibc.write(fd, base + offset, bytes.count - offset)
            if n < 0 {
                if errno == EINTR { continue }
                let code = errno
                close(fd)
                throw error("write", path, code)
            }
            offset += n
        }
        // The mode argument of open() is masked by umask and ignored for existing files.
        fchmod(fd, mode)
        close(fd)
        if atomically {
            if rename(target, path) != 0 {
                if errno == EISDIR || errno == ENOTEMPTY || errno == EEXIST {
                    try removeTree(path)
                    if rename(target, path) == 0 { return }
                }
                throw error("replace", path)
            }
        }
    }

    static func writeFile(_ path: String, bytes: [UInt8], mode: mode_t, atomically: Bool) throws(GitError) {
        var failure: GitError?
        bytes.withUnsafeBytes { raw in
            do throws(GitError) { try writeFile(path, bytes: raw, mode: mode, atomically: atomically) } catch { failure = error }
        }
        if let failure { throw failure }
    }

    static func writeSymlink(target: String, at path: String) throws(GitError) {
        var info = stat()
        if lstat(path, &info) == 0 {
            if (info.st_mode & S_IFMT) == S_IFDIR { try removeTree(path) } else { unlink(path) }
        }
        if symlink(target, path) != 0 { throw error("create symlink", path) }
    }

    /// Removes a file (or a folder left where a file was) and then every parent folder
    /// that became empty, stopping at `root`.
    static func removeFile(_ path: String, pruneUpTo root: String) throws(GitError) {
        if unlink(path) != 0 {
            let code = errno
            if code == EISDIR || code == EPERM {
                try removeTree(path)
            } else if code != ENOENT {
                throw error("remove", path, code)
            }
        }
        var parent = path
        while let slash = parent.lastIndex(of: "/") {
            parent = String(parent[..<slash])
            if parent.count <= root.count || rmdir(parent) != 0 { break }
        }
    }

    static func readText(_ path: String) throws(GitError) -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 {
            if errno == ENOENT { return nil }
            throw error("read", path)
        }
        defer { close(fd) }
        var result: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw error("read", path)
            }
            if n == 0 { break }
            result.append(contentsOf: chunk[0..<n])
        }
        return String(decoding: result, as: UTF8.self)
    }

    static func isEmptyDirectory(_ path: String) throws(GitError) -> Bool {
        guard let dir = opendir(path) else { throw error("list", path) }
        defer { closedir(dir) }
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            if name != "." && name != ".." { return false }
        }
        return true
    }

    /// The names in a folder, without `.` and `..`.
    static func names(in path: String) throws(GitError) -> [String] {
        guard let dir = opendir(path) else { throw error("list", path) }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    /// Removes everything inside `path`, keeping `path` itself.
    static func removeContents(of path: String) throws(GitError) {
        guard let dir = opendir(path) else { throw error("list", path) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        closedir(dir)
        for name in names { try removeTree(path + "/" + name) }
    }

    /// `rm -rf path`, not following symlinks.
    static func removeTree(_ path: String) throws(GitError) {
        var info = stat()
        guard lstat(path, &info) == 0 else {
            if errno == ENOENT { return }
            throw error("inspect", path)
        }
        if (info.st_mode & S_IFMT) == S_IFDIR {
            try removeContents(of: path)
            if rmdir(path) != 0 { throw error("remove folder", path) }
        } else if unlink(path) != 0 {
            throw error("remove", path)
        }
    }
}
