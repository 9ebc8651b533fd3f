/// Path globs as used in `scope` and protected paths: `*` matches within one path
/// component, `**` across components, `?` one character, `[abc]` a set.
public struct Glob: Sendable, Equatable, CustomStringConvertible {
    public let pattern: String
    private let tokens: [Token]

    enum Token: Sendable, Equatable {
        case literal(Character)
        case any  // ?
        case star  // *
        case globstar  // ** (possibly followed by /)
        case set([Character], negated: Bool)
    }

    public init(_ pattern: String) {
        self.pattern = pattern
        var tokens: [Token] = []
        let chars = Array(pattern)
        var i = 0
        while i < chars.count {
            let c = chars[i]
            switch c {
            case "*":
                if i + 1 < chars.count && chars[i + 1] == "*" {
                    tokens.append(.globstar)
                    i += 2
                    if i < chars.count && chars[i] == "/" { i += 1 }
                    continue
                }
                tokens.append(.star)
            case "?":
                tokens.append(.any)
            case "[":
                if let close = chars[(i + 1)...].firstIndex(of: "]"), close > i + 1 {
                    var members = Array(chars[(i + 1)..<close])
                    let negated = members.first == "!" || members.first == "^"
                    if negated { members.removeFirst() }
                    tokens.append(.set(members, negated: negated))
                    i = close + 1
                    continue
                }
                tokens.append(.literal(c))
            default:
                tokens.append(.literal(c))
            }
            i += 1
        }
        self.tokens = tokens
    }

    public var description: String { pattern }

    /// Whether `path` (relative, `/`-separated) matches.
    public func matches(_ path: String) -> Bool {
        let chars = Array(path)
        var memo: [Int: Bool] = [:]
        return match(0, 0, chars, &memo)
    }

    private func match(_ t: Int, _ p: Int, _ path: [Character], _ memo: inout [Int: Bool]) -> Bool {
        let key = t * (path.count + 1) + p
        if let known = memo[key] { return known }
        let result: Bool
        if t == tokens.count {
            result = p == path.count
        } else {
            switch tokens[t] {
            case .literal(let c):
                result = p < path.count && path[p] == c && match(t + 1, p + 1, path, &memo)
            case .any:
                result = p < path.count && path[p] != "/" && match(t + 1, p + 1, path, &memo)
            case .set(let members, let negated):
                result = p < path.count && path[p] != "/" && (members.contains(path[p]) != negated) && match(t + 1, p + 1, path, &memo)
            case .star:
                var q = p
                var found = match(t + 1, q, path, &memo)
                while !found && q < path.count && path[q] != "/" {
                    q += 1
                    found = match(t + 1, q, path, &memo)
                }
                result = found
            case .globstar:
                // Zero or more whole components: try every position that starts a component.
                var q = p
                var found = match(t + 1, q, path, &memo)
                while !found && q < path.count {
                    q += 1
                    if q == path.count || path[q - 1] == "/" { found = match(t + 1, q, path, &memo) }
                }
                result = found
            }
        }
        memo[key] = result
        return result
    }
}
