import CGit2

/// A failed libgit2 call, or a git-level condition Ratchet refuses to continue from.
///
/// Carries the operation Ratchet attempted, the subject it was attempted on, and
/// libgit2's own message so a user can act on it.
public struct GitError: Error, CustomStringConvertible, Sendable, Equatable {
    public enum Code: String, Sendable {
        case notARepository
        case notFound
        case invalidDiff
        case emptyDiff
        case applyFailed
        case conflict
        case refChanged
        case io
        case invalidArgument
        case other
    }

    public var code: Code
    /// What Ratchet was doing, e.g. `resolve 'main'`.
    public var operation: String
    /// libgit2's message (or Ratchet's explanation when libgit2 was not involved).
    public var message: String
    /// libgit2's return code, when the error came from libgit2.
    public var libgit2Code: Int32?

    public init(_ code: Code, operation: String, message: String, libgit2Code: Int32? = nil) {
        self.code = code
        self.operation = operation
        self.message = message
        self.libgit2Code = libgit2Code
    }

    public var description: String { "git: \(operation): \(message)" }
}

/// Turns a libgit2 return code into a typed error with `git_error_last()`'s message.
/// Every libgit2 call in this module goes through here.
@discardableResult
func check(
    _ result: Int32,
    _ operation: @autoclosure () -> String,
    notFound: GitError.Code = .notFound,
    default defaultCode: GitError.Code = .other
) throws(GitError) -> Int32 {
    guard result < 0 else { return result }
    var message = "libgit2 error \(result)"
    if let last = git_error_last(), let text = last.pointee.message {
        message = String(cString: text).trimmingTrailingNewlines()
    }
    let code: GitError.Code
    switch result {
    case GIT_ENOTFOUND.rawValue: code = notFound
    case GIT_EAPPLYFAIL.rawValue: code = .applyFailed
    case GIT_ECONFLICT.rawValue, GIT_EMERGECONFLICT.rawValue: code = .conflict
    case GIT_EMODIFIED.rawValue: code = .refChanged
    default: code = defaultCode
    }
    throw GitError(code, operation: operation(), message: message, libgit2Code: result)
}

extension String {
    func trimmingTrailingNewlines() -> String {
        var s = Substring(self)
        while let last = s.last, last == "\n" || last == "\r" { s = s.dropLast() }
        return String(s)
    }
}
