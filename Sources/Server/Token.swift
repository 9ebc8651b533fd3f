import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Why the daemon or the review server cannot start or do what was asked, with what the
/// user can do about it.
public struct DaemonError: Error, Sendable, CustomStringConvertible {
    public enum Kind: String, Sendable {
        case config, io, usage, store
    }

    public var kind: Kind
    public var message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { message }
}

/// The bearer token that guards the HTTP API and the review UI: 32 random bytes as hex in
/// `<state>/token`, readable by its owner only (0600). Created on first use.
public struct AccessToken: Sendable {
    public let value: String
    public let path: String

    /// Reads the token in `directory`, creating it (and the folder) when missing; repairs
    /// permissions wider than 0600.
    /// - Throws: `DaemonError` `.io` when the file cannot be created or read, or holds no token.
    public static func loadOrCreate(directory: String) throws(DaemonError) -> AccessToken {
        let path = directory + "/token"
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw DaemonError(.io, "cannot create state folder \(directory): \(error.localizedDescription)")
        }
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        if fd >= 0 {
            defer { close(fd) }
            let token = random()
            let written = (token + "\n").withCString { write(fd, $0, strlen($0)) }
            guard written == token.utf8.count + 1 else {
                unlink(path)
                throw DaemonError(.io, "cannot write \(path): \(String(cString: strerror(errno)))")
            }
            return AccessToken(value: token, path: path)
        }
        guard errno == EEXIST else { throw DaemonError(.io, "cannot create \(path): \(String(cString: strerror(errno)))") }
        if let mode = (try? FileManager.default.attributesOfItem(atPath: path))?[.posixPermissions] as? Int, mode & 0o077 != 0 {
            guard chmod(path, 0o600) == 0 else {
                throw DaemonError(.io, "\(path) is readable by others and cannot be made private (chmod 600): \(String(cString: strerror(errno)))")
            }
        }
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw DaemonError(.io, "cannot read \(path); check its owner and permissions, or delete it to make a new token")
        }
        let token = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard token.count >= 32, token.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber) }) else {
            throw DaemonError(.io, "\(path) does not hold a token (32+ letters or digits); delete it and a new one is made")
        }
        return AccessToken(value: token, path: path)
    }

    /// 32 bytes from the system's random source, as 64 hex digits.
    static func random() -> String {
        var generator = SystemRandomNumberGenerator()
        return (0..<4).map { _ in
            let hex = String(generator.next() as UInt64, radix: 16)
            return String(repeating: "0", count: 16 - hex.count) + hex
        }.joined()
    }

    /// Compares in time independent of where the strings differ.
    public func matches(_ candidate: String) -> Bool {
        Self.constantTimeEqual(candidate, value)
    }

    static func constantTimeEqual(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8), y = Array(b.utf8)
        var difference = UInt8(x.count == y.count ? 0 : 1)
        for index in 0..<max(x.count, y.count) {
            difference |= (index < x.count ? x[index] : 0) ^ (index < y.count ? y[index] : 0)
        }
        return difference == 0
    }
}
