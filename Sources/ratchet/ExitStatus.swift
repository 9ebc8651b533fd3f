import ArgumentParser

/// How `ratchet` exits: the documented statuses, listed in `ratchet --help` and the README.
/// The numbers follow BSD's `sysexits.h` where one fits, so scripts and service managers
/// read them the usual way.
enum ExitStatus: Int32, CaseIterable {
    /// Done; for `run`, any normal stop (exhausted, a budget, a checkpoint, a pause, a signal).
    case success = 0
    /// `audit verify` found an edited, deleted, reordered or out-of-band entry.
    case tampered = 1
    /// Bad command-line usage (`EX_USAGE`).
    case usage = 64
    /// The config file is invalid (`EX_DATAERR`).
    case invalidConfig = 65
    /// Not a git repository, or the base ref is missing (`EX_NOINPUT`).
    case repository = 66
    /// The loop is already running in another process (`EX_UNAVAILABLE`).
    case alreadyRunning = 69
    /// An internal, storage or file-system error (`EX_SOFTWARE`).
    case internalError = 70
    /// The best code itself no longer builds or benchmarks (`EX_TEMPFAIL`: fix it and run again).
    case baselineFailed = 75
    /// A second SIGINT stopped `run` at once (128 + SIGINT, as shells report it).
    case interrupted = 130

    var exitCode: ExitCode { ExitCode(rawValue) }

    /// The one-line meaning shown in `ratchet --help`.
    var meaning: String {
        switch self {
        case .success: "success; for `run`, any normal stop (see `ratchet help run`)"
        case .tampered: "`audit verify` found tampering"
        case .usage: "bad command-line usage"
        case .invalidConfig: "invalid config file (every problem is listed, with its key and line)"
        case .repository: "repository problem: not a git repository, base ref missing"
        case .alreadyRunning: "the loop is already running in another process"
        case .internalError: "internal, storage or file-system error"
        case .baselineFailed: "the best code itself no longer builds or benchmarks"
        case .interrupted: "a second SIGINT stopped `run` at once"
        }
    }

    /// The EXIT CODES section of `ratchet --help`: one line per status, each under 80 columns
    /// so argument-parser has nothing to wrap.
    static var helpSection: String {
        "EXIT CODES\n" + allCases.map { "  " + String($0.rawValue).padding(to: 4) + $0.meaning }.joined(separator: "\n")
    }
}

extension String {
    fileprivate func padding(to width: Int) -> String {
        count >= width ? self + " " : self + String(repeating: " ", count: width - count)
    }
}
