/// Parses durations such as `500ms`, `90s`, `5m`, `1h`, `1.5m`.
public enum Durations {
    public static func seconds(_ text: String) -> Double? {
        let trimmed = text.trimmingCharacters(in: " ")
        let units: [(String, Double)] = [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600)]
        for (suffix, scale) in units where trimmed.hasSuffix(suffix) {
            let number = trimmed.dropLast(suffix.count)
            if let value = Double(number), value.isFinite, value >= 0 { return value * scale }
        }
        if let value = Double(trimmed), value.isFinite, value >= 0 { return value }
        return nil
    }
}

/// Lexical path helpers (no file system access).
public enum Paths {
    /// `path` made absolute against `directory` and normalised (`.` and `..` removed).
    public static func resolve(_ path: String, from directory: String) -> String {
        let joined = path.hasPrefix("/") ? path : directory + "/" + path
        var parts: [Substring] = []
        for part in joined.split(separator: "/") {
            if part == "." || part.isEmpty { continue }
            if part == ".." {
                _ = parts.popLast()
            } else {
                parts.append(part)
            }
        }
        return "/" + parts.joined(separator: "/")
    }

    /// `path` relative to `root` when it lies inside it.
    public static func relative(_ path: String, to root: String) -> String? {
        let normalizedRoot = resolve(root, from: "/")
        let normalized = resolve(path, from: "/")
        if normalized == normalizedRoot { return "" }
        let prefix = normalizedRoot == "/" ? "/" : normalizedRoot + "/"
        guard normalized.hasPrefix(prefix) else { return nil }
        return String(normalized.dropFirst(prefix.count))
    }
}

extension StringProtocol {
    func trimmingCharacters(in set: String) -> String {
        let chars = Set(set)
        var slice = Substring(self)
        while let first = slice.first, chars.contains(first) { slice = slice.dropFirst() }
        while let last = slice.last, chars.contains(last) { slice = slice.dropLast() }
        return String(slice)
    }
}
