/// Replaces secrets in text that Ratchet stores (prompts, model replies, program output)
/// with `[REDACTED]`.
///
/// Catches the configured key values themselves, `Bearer` tokens, OpenAI (`sk-…`) and
/// Anthropic (`sk-ant-…`) keys, GitHub tokens (`ghp_…`, `github_pat_…`), AWS access key ids
/// (`AKIA…`), Google API keys (`AIza…`) and PEM private key blocks. Tokens are matched only
/// at a word start, so ordinary words such as `disk-cache-settings` stay intact.
public struct Redactor: Sendable {
    public static let marker = "[REDACTED]"
    /// Literal values to remove wherever they appear (the API key read from the environment).
    public var secrets: [String]

    public init(secrets: [String] = []) {
        // Longest first, so a key that contains another is removed whole.
        self.secrets = secrets.filter { $0.count >= 4 }.sorted { $0.count > $1.count }
    }

    /// `text` with every secret replaced by `[REDACTED]`.
    public func redact(_ text: String) -> String {
        var bytes = Array(text.utf8)
        for secret in secrets { bytes = Self.replacing(Array(secret.utf8), in: bytes) }
        bytes = Self.redactPrivateKeys(bytes)
        bytes = Self.redactTokens(bytes)
        return String(decoding: bytes, as: UTF8.self)
    }

    static let markerBytes = Array(marker.utf8)

    static func replacing(_ needle: [UInt8], in haystack: [UInt8]) -> [UInt8] {
        guard !needle.isEmpty, haystack.count >= needle.count else { return haystack }
        var result: [UInt8] = []
        result.reserveCapacity(haystack.count)
        var i = 0
        while i < haystack.count {
            if haystack[i] == needle[0], i + needle.count <= haystack.count, haystack[i..<(i + needle.count)].elementsEqual(needle) {
                result += markerBytes
                i += needle.count
            } else {
                result.append(haystack[i])
                i += 1
            }
        }
        return result
    }

    static func find(_ needle: String, in bytes: [UInt8], from start: Int) -> Int? {
        let pattern = Array(needle.utf8)
        guard !pattern.isEmpty, bytes.count >= pattern.count, start <= bytes.count - pattern.count else { return nil }
        for i in start...(bytes.count - pattern.count) where bytes[i] == pattern[0] {
            if bytes[i..<(i + pattern.count)].elementsEqual(pattern) { return i }
        }
        return nil
    }

    /// `-----BEGIN … PRIVATE KEY-----` through the matching END line (or the end of the text).
    static func redactPrivateKeys(_ bytes: [UInt8]) -> [UInt8] {
        var result: [UInt8] = []
        var i = 0
        while let begin = find("-----BEGIN ", in: bytes, from: i) {
            let lineEnd = bytes[begin...].firstIndex(of: UInt8(ascii: "\n")) ?? bytes.count
            let header = String(decoding: bytes[begin..<lineEnd], as: UTF8.self)
            guard header.contains("PRIVATE KEY") else {
                result += bytes[i..<lineEnd]
                i = lineEnd
                continue
            }
            result += bytes[i..<begin]
            result += markerBytes
            if let end = find("-----END ", in: bytes, from: lineEnd) {
                // Past the END line's closing dashes.
                let afterEnd = end + 9
                if let close = find("-----", in: bytes, from: afterEnd) {
                    i = close + 5
                } else {
                    i = bytes[end...].firstIndex(of: UInt8(ascii: "\n")) ?? bytes.count
                }
            } else {
                i = bytes.count
            }
        }
        result += bytes[i...]
        return result
    }

    static func isAlphanumeric(_ byte: UInt8) -> Bool {
        (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
    }

    static func isTokenByte(_ byte: UInt8) -> Bool {
        isAlphanumeric(byte) || byte == UInt8(ascii: "_") || byte == UInt8(ascii: "-")
    }

    static func isBearerByte(_ byte: UInt8) -> Bool {
        isTokenByte(byte) || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "~") || byte == UInt8(ascii: "+")
            || byte == UInt8(ascii: "/") || byte == UInt8(ascii: "=")
    }

    /// A token prefix, the bytes that may follow it, and how many must.
    struct TokenRule {
        let prefix: [UInt8]
        let minimum: Int
        let maximum: Int
        let allowed: @Sendable (UInt8) -> Bool
    }

    static let rules: [TokenRule] = [
        TokenRule(prefix: Array("sk-ant-".utf8), minimum: 20, maximum: .max, allowed: isTokenByte),
        TokenRule(prefix: Array("sk-".utf8), minimum: 20, maximum: .max, allowed: isTokenByte),
        TokenRule(prefix: Array("github_pat_".utf8), minimum: 20, maximum: .max, allowed: isTokenByte),
        TokenRule(prefix: Array("ghp_".utf8), minimum: 20, maximum: .max, allowed: isAlphanumeric),
        TokenRule(prefix: Array("gho_".utf8), minimum: 20, maximum: .max, allowed: isAlphanumeric),
        TokenRule(prefix: Array("ghu_".utf8), minimum: 20, maximum: .max, allowed: isAlphanumeric),
        TokenRule(prefix: Array("ghs_".utf8), minimum: 20, maximum: .max, allowed: isAlphanumeric),
        TokenRule(prefix: Array("ghr_".utf8), minimum: 20, maximum: .max, allowed: isAlphanumeric),
        TokenRule(prefix: Array("AKIA".utf8), minimum: 16, maximum: 16, allowed: { ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x41 && $0 <= 0x5A) }),
        TokenRule(prefix: Array("ASIA".utf8), minimum: 16, maximum: 16, allowed: { ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x41 && $0 <= 0x5A) }),
        TokenRule(prefix: Array("AIza".utf8), minimum: 30, maximum: .max, allowed: isTokenByte),
    ]

    static let bearer = Array("bearer".utf8)

    /// Whether `bytes[i...]` starts with `prefix`, ignoring ASCII case when asked.
    static func hasPrefix(_ bytes: [UInt8], at i: Int, _ prefix: [UInt8], ignoringCase: Bool = false) -> Bool {
        guard i + prefix.count <= bytes.count else { return false }
        for (offset, expected) in prefix.enumerated() {
            var actual = bytes[i + offset]
            if ignoringCase, actual >= 0x41, actual <= 0x5A { actual += 0x20 }
            if actual != expected { return false }
        }
        return true
    }

    static func redactTokens(_ bytes: [UInt8]) -> [UInt8] {
        var result: [UInt8] = []
        result.reserveCapacity(bytes.count)
        var i = 0
        scan: while i < bytes.count {
            let atWordStart = i == 0 || !isTokenByte(bytes[i - 1])
            guard atWordStart else {
                result.append(bytes[i])
                i += 1
                continue
            }
            // `Bearer <token>`: keep the word, drop the token.
            if hasPrefix(bytes, at: i, bearer, ignoringCase: true) {
                var j = i + bearer.count
                var spaces = 0
                while j < bytes.count, bytes[j] == UInt8(ascii: " ") || bytes[j] == UInt8(ascii: "\t") {
                    j += 1
                    spaces += 1
                }
                var end = j
                while end < bytes.count, isBearerByte(bytes[end]) { end += 1 }
                if spaces > 0, end - j >= 8 {
                    result += bytes[i..<j]
                    result += markerBytes
                    i = end
                    continue scan
                }
            }
            for rule in rules where hasPrefix(bytes, at: i, rule.prefix) {
                var end = i + rule.prefix.count
                while end < bytes.count, rule.allowed(bytes[end]) { end += 1 }
                let length = end - i - rule.prefix.count
                let boundary = end == bytes.count || !isTokenByte(bytes[end])
                if length >= rule.minimum, length <= rule.maximum, boundary {
                    result += markerBytes
                    i = end
                    continue scan
                }
            }
            result.append(bytes[i])
            i += 1
        }
        return result
    }
}
