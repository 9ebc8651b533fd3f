import Git

/// Finds the unified diff in a model's reply and repairs what models commonly get wrong.
///
/// Accepts ```` ```diff ```` / ```` ```patch ```` fenced blocks (several are concatenated),
/// unlabelled fenced blocks that hold a diff, and a bare diff with prose around it, with LF
/// or CRLF line ends. The diff is then normalised so libgit2 can parse it: `diff --git`
/// headers are added where only `---`/`+++` lines were given, `a/` and `b/` prefixes are
/// added where missing, blank lines inside a hunk become blank context lines, and hunk line
/// counts are recomputed from the lines actually present.
public enum ReplyParser {
    /// The diff in `reply`, normalised, or `nil` when the reply holds none.
    public static func extractDiff(from reply: String) -> String? {
        let lines = splitLines(reply)
        let blocks = fencedBlocks(lines)
        let labelled = blocks.filter { ["diff", "patch", "udiff", "git"].contains($0.info) }
        let candidates = labelled.isEmpty ? blocks.filter { looksLikeDiff($0.lines) } : labelled
        var sections: [String] = []
        if candidates.isEmpty {
            // No fenced diff: look for a bare one between the prose.
            sections = scan(lines, fenced: false)
        } else {
            for block in candidates { sections += scan(block.lines, fenced: true) }
        }
        guard !sections.isEmpty else { return nil }
        return sections.joined()
    }

    /// The proposal's one-line title: a `Title:` line, else the first line of prose before
    /// the diff, trimmed to 100 characters.
    public static func title(from reply: String) -> String? {
        let lines = splitLines(reply)
        for line in lines {
            let trimmed = line.drop(while: { $0 == " " || $0 == "*" || $0 == "#" })
            if trimmed.lowercased().hasPrefix("title:") {
                let value = trimmed.dropFirst(6).trimmed(of: " *`\"")
                if !value.isEmpty { return String(value.prefix(100)) }
            }
        }
        for line in lines {
            if line.hasPrefix("```") || line.hasPrefix("~~~") || line.hasPrefix("diff --git") || line.hasPrefix("--- ") { break }
            let value = line.trimmed(of: " #*`")
            if !value.isEmpty { return String(value.prefix(100)) }
        }
        return nil
    }

    static func splitLines(_ text: String) -> [Substring] {
        // "\r\n" is one Character in Swift: split on it as well as on "\n".
        var lines = text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" }).map { line in
            line.hasSuffix("\r") ? line.dropLast() : line
        }
        // `split` keeps a trailing empty piece after the final newline.
        if lines.last?.isEmpty == true { lines.removeLast() }
        return lines
    }

    struct Block {
        var info: String
        var lines: [Substring]
    }

    /// Markdown fenced blocks: an opener of three or more backticks or tildes (indented up to
    /// three spaces) and a closer of the same character, at least as long, at the same indent.
    static func fencedBlocks(_ lines: [Substring]) -> [Block] {
        var blocks: [Block] = []
        var index = 0
        while index < lines.count {
            let line = lines[index]
            let indent = line.prefix(while: { $0 == " " }).count
            let rest = line.dropFirst(indent)
            guard indent <= 3, let fence = rest.first, fence == "`" || fence == "~" else {
                index += 1
                continue
            }
            let length = rest.prefix(while: { $0 == fence }).count
            guard length >= 3 else {
                index += 1
                continue
            }
            let info = rest.dropFirst(length).trimmed(of: " \t").split(separator: " ").first.map { $0.lowercased() } ?? ""
            // An unclosed block (a reply cut short) still counts: its diff may be whole.
            var body: [Substring] = []
            index += 1
            while index < lines.count {
                let candidate = lines[index]
                let candidateIndent = candidate.prefix(while: { $0 == " " }).count
                let candidateRest = candidate.dropFirst(candidateIndent)
                if candidateIndent == indent, candidateRest.prefix(while: { $0 == fence }).count >= length,
                    candidateRest.drop(while: { $0 == fence }).allSatisfy({ $0 == " " || $0 == "\t" })
                {
                    index += 1
                    break
                }
                body.append(indent > 0 ? Substring(candidate.dropFirst(min(indent, candidateIndent))) : candidate)
                index += 1
            }
            blocks.append(Block(info: info, lines: body))
        }
        return blocks
    }

    static func looksLikeDiff(_ lines: [Substring]) -> Bool {
        let hasHeader = lines.contains { $0.hasPrefix("diff --git ") || $0.hasPrefix("--- ") }
        let hasHunk = lines.contains { $0.hasPrefix("@@ ") }
        return hasHeader && hasHunk
    }

    static func isHeaderStart(_ lines: [Substring], _ index: Int) -> Bool {
        let line = lines[index]
        if line.hasPrefix("diff --git ") { return true }
        return line.hasPrefix("--- ") && index + 1 < lines.count && lines[index + 1].hasPrefix("+++ ")
    }

    static let extendedHeaders = [
        "index ", "new file mode ", "deleted file mode ", "old mode ", "new mode ", "similarity index ", "dissimilarity index ",
        "rename from ", "rename to ", "copy from ", "copy to ", "Binary files ", "GIT binary patch",
    ]

    /// Pulls file sections out of `lines`. In a fenced block everything up to the fence is
    /// the diff (hunks end at the next header); in bare text a hunk ends when its header's
    /// counts are used up or a line cannot belong to it, and scanning goes on for another file.
    static func scan(_ lines: [Substring], fenced: Bool) -> [String] {
        var sections: [String] = []
        var index = 0
        while index < lines.count {
            guard isHeaderStart(lines, index) else {
                index += 1
                continue
            }
            var header: [Substring] = []
            if lines[index].hasPrefix("diff --git ") {
                header.append(lines[index])
                index += 1
                while index < lines.count, extendedHeaders.contains(where: { lines[index].hasPrefix($0) }) {
                    header.append(lines[index])
                    index += 1
                }
            }
            var oldPath: Substring?
            var newPath: Substring?
            if index + 1 < lines.count, lines[index].hasPrefix("--- "), lines[index + 1].hasPrefix("+++ ") {
                oldPath = pathField(lines[index].dropFirst(4))
                newPath = pathField(lines[index + 1].dropFirst(4))
                index += 2
            }
            var hunks: [[Substring]] = []
            while index < lines.count, lines[index].hasPrefix("@@ ") {
                let (hunk, next) = readHunk(lines, from: index, fenced: fenced)
                hunks.append(hunk)
                index = next
            }
            if let section = assemble(header: header, oldPath: oldPath, newPath: newPath, hunks: hunks) {
                sections.append(section)
            }
        }
        return sections
    }

    /// A path from a `---`/`+++` line: anything after a tab (a timestamp) dropped, quotes kept.
    static func pathField(_ text: Substring) -> Substring {
        let cut = text.split(separator: "\t", maxSplits: 1, omittingEmptySubsequences: false).first ?? text
        return Substring(cut.trimmed(of: " "))
    }

    /// One hunk starting at `start` (its `@@` line); returns its lines and where the next thing starts.
    static func readHunk(_ lines: [Substring], from start: Int, fenced: Bool) -> ([Substring], Int) {
        let counts = hunkCounts(lines[start])
        var oldLeft = counts?.old ?? Int.max
        var newLeft = counts?.new ?? Int.max
        var body: [Substring] = []
        var index = start + 1
        while index < lines.count {
            let line = lines[index]
            if line.hasPrefix("@@ ") || isHeaderStart(lines, index) { break }
            if !fenced && oldLeft <= 0 && newLeft <= 0 {
                // The header's counts are used up: what follows is prose or the next file,
                // unless it is a "no newline" marker.
                if line.hasPrefix("\\") { body.append(line); index += 1 }
                break
            }
            if line.isEmpty {
                // A blank context line whose leading space was lost.
                if !fenced {
                    // In bare text a blank line ends the hunk unless more hunk lines follow.
                    let next = index + 1 < lines.count ? lines[index + 1] : ""
                    guard let first = next.first, first == " " || first == "+" || first == "-" || first == "\\" else { break }
                    guard oldLeft > 0, newLeft > 0 else { break }
                }
                body.append(" ")
                oldLeft -= 1
                newLeft -= 1
            } else if let first = line.first, first == " " || first == "-" || first == "+" || first == "\\" {
                body.append(line)
                if first == " " { oldLeft -= 1; newLeft -= 1 }
                if first == "-" { oldLeft -= 1 }
                if first == "+" { newLeft -= 1 }
            } else {
                // Prose (or anything else): the hunk is over.
                if fenced {
                    index += 1
                    // Skip to the next hunk or file header inside the block.
                    while index < lines.count, !lines[index].hasPrefix("@@ "), !isHeaderStart(lines, index) { index += 1 }
                }
                break
            }
            index += 1
        }
        // Blank context lines at the very end are the space before a fence, not context.
        while let last = body.last, last == " " { body.removeLast() }
        return ([lines[start]] + body, index)
    }

    /// The old and new line counts of a hunk header (`@@ -a,b +c,d @@`; a missing count is 1).
    static func hunkCounts(_ header: Substring) -> (old: Int, new: Int)? {
        let parts = header.split(separator: " ")
        guard parts.count >= 3, parts[1].hasPrefix("-"), parts[2].hasPrefix("+") else { return nil }
        func count(_ range: Substring) -> Int? {
            let fields = range.dropFirst().split(separator: ",", omittingEmptySubsequences: false)
            guard let start = fields.first, Int(start) != nil else { return nil }
            return fields.count > 1 ? Int(fields[1]) : 1
        }
        guard let old = count(parts[1]), let new = count(parts[2]) else { return nil }
        return (old, new)
    }

    static func withPrefix(_ path: Substring, _ prefix: String) -> String {
        if path == "/dev/null" { return String(path) }
        if path.hasPrefix(prefix) { return String(path) }
        // A model that used the other side's prefix (`--- b/x`) or none at all.
        if path.hasPrefix("a/") || path.hasPrefix("b/") { return prefix + path.dropFirst(2) }
        return prefix + path
    }

    static func stripPrefix(_ path: String) -> String {
        (path.hasPrefix("a/") || path.hasPrefix("b/")) ? String(path.dropFirst(2)) : path
    }

    /// One file's section as git writes it, hunk counts recomputed.
    static func assemble(header: [Substring], oldPath: Substring?, newPath: Substring?, hunks: [[Substring]]) -> String? {
        var out: [String] = []
        let old = oldPath.map { withPrefix($0, "a/") }
        let new = newPath.map { withPrefix($0, "b/") }
        if header.isEmpty {
            // `---`/`+++` only (plain `diff -u` style): libgit2 needs the git header.
            guard let old, let new else { return nil }
            let path = stripPrefix(new == "/dev/null" ? old : new)
            let oldName = old == "/dev/null" ? path : stripPrefix(old)
            out.append("diff --git a/\(oldName) b/\(path)")
            if old == "/dev/null" { out.append("new file mode 100644") }
            if new == "/dev/null" { out.append("deleted file mode 100644") }
        } else {
            var first = String(header[0])
            // `diff --git x y` without prefixes.
            let names = first.dropFirst("diff --git ".count).split(separator: " ")
            if names.count == 2, !(names[0].hasPrefix("a/") && names[1].hasPrefix("b/")) {
                first = "diff --git \(withPrefix(names[0], "a/")) \(withPrefix(names[1], "b/"))"
            }
            out.append(first)
            out += header.dropFirst().map(String.init)
        }
        if let old, let new {
            out.append("--- \(old)")
            out.append("+++ \(new)")
        }
        for hunk in hunks {
            guard let head = hunk.first else { continue }
            let body = hunk.dropFirst()
            let oldCount = body.filter { $0.hasPrefix(" ") || $0.hasPrefix("-") }.count
            let newCount = body.filter { $0.hasPrefix(" ") || $0.hasPrefix("+") }.count
            out.append(rewriteHunkHeader(head, old: oldCount, new: newCount, newFile: old == "/dev/null", deletedFile: new == "/dev/null"))
            out += body.map(String.init)
        }
        // A header with neither hunks nor a mode/rename/binary change is not a change.
        if hunks.isEmpty && header.count <= 1 { return nil }
        return out.joined(separator: "\n") + "\n"
    }

    static func rewriteHunkHeader(_ header: Substring, old: Int, new: Int, newFile: Bool = false, deletedFile: Bool = false) -> String {
        var parts = header.split(separator: " ", maxSplits: 3, omittingEmptySubsequences: false).map(String.init)
        // Numbers that are not numbers cannot be repaired without guessing: leave them to libgit2.
        guard parts.count >= 3, hunkCounts(header) != nil else { return String(header) }
        func start(_ range: String) -> String {
            range.dropFirst().split(separator: ",").first.map(String.init) ?? "0"
        }
        // A new file's hunk starts at `-0,0` and a deleted file's at `+0,0`, as git writes them.
        parts[1] = "-\(newFile ? "0" : start(parts[1])),\(old)"
        parts[2] = "+\(deletedFile ? "0" : start(parts[2])),\(new)"
        if parts.count == 3 { parts.append("@@") }
        return parts.joined(separator: " ")
    }

    /// The diff in `reply`, checked by libgit2's parser.
    /// - Throws: `ProposerError` saying why the reply cannot be used.
    static func validatedDiff(from reply: String, repository: Repository) throws(ProposerError) -> String {
        guard let diff = extractDiff(from: reply) else {
            throw ProposerError("the reply holds no unified diff (expected a ```diff fenced block)")
        }
        do {
            _ = try repository.parsePatch(diff)
        } catch {
            throw ProposerError("the reply's diff is not usable: \(error.message)")
        }
        return diff
    }
}
