/// Small text helpers shared by the adapters.
extension StringProtocol {
    /// The text without leading and trailing characters from `set`.
    func trimmed(of set: String) -> String {
        let chars = Set(set)
        var slice = Substring(self)
        while let first = slice.first, chars.contains(first) { slice = slice.dropFirst() }
        while let last = slice.last, chars.contains(last) { slice = slice.dropLast() }
        return String(slice)
    }

    /// The text without leading and trailing whitespace and newlines (`\r\n` included).
    var trimmedWhitespace: String {
        var slice = Substring(self)
        while let first = slice.first, first.isWhitespace { slice = slice.dropFirst() }
        while let last = slice.last, last.isWhitespace { slice = slice.dropLast() }
        return String(slice)
    }
}

extension String {
    /// At most `limit` bytes of UTF-8: the head and the tail with a note of what was cut
    /// between them (cut on line boundaries where possible).
    func bounded(_ limit: Int, keepingTail tail: Int = 0) -> String {
        let bytes = Array(utf8)
        guard bytes.count > limit else { return self }
        let tailBytes = min(tail, limit / 2)
        let headBytes = max(0, limit - tailBytes)
        var head = String(decoding: bytes.prefix(headBytes), as: UTF8.self)
        if let newline = head.lastIndex(of: "\n"), head.distance(from: head.startIndex, to: newline) > headBytes / 2 {
            head = String(head[...newline])
        }
        let end = tailBytes > 0 ? String(decoding: bytes.suffix(tailBytes), as: UTF8.self) : ""
        let cut = bytes.count - head.utf8.count - end.utf8.count
        return head + (head.hasSuffix("\n") ? "" : "\n") + "[… \(cut) bytes cut …]\n" + end
    }

    /// A short excerpt for an error message: whitespace collapsed, at most `limit` characters.
    func excerpt(_ limit: Int = 300) -> String {
        let collapsed = split(whereSeparator: \.isWhitespace).joined(separator: " ")
        return collapsed.count > limit ? String(collapsed.prefix(limit)) + "…" : collapsed
    }
}

/// FNV-1a, 64 bits: a stable short name for a proposal's content (not a security hash).
func stableHash(_ text: String) -> String {
    var hash: UInt64 = 0xcbf2_9ce4_8422_2325
    for byte in text.utf8 {
        hash ^= UInt64(byte)
        hash = hash &* 0x0000_0100_0000_01b3
    }
    let hex = String(hash, radix: 16)
    return String(repeating: "0", count: 16 - hex.count) + hex
}
