import Foundation

/// A unified diff read for display: the files it touches with their line counts, and the
/// diff as coloured HTML. Tolerant: any text is shown, however malformed.
public struct DiffView: Sendable, Equatable, Codable {
    public struct File: Sendable, Equatable, Codable {
        public var path: String
        public var added: Int
        public var deleted: Int
    }

    public var files: [File]
    public var added: Int { files.reduce(0) { $0 + $1.added } }
    public var deleted: Int { files.reduce(0) { $0 + $1.deleted } }

    public init(_ diff: String) {
        var files: [File] = []
        var inHunk = false
        for line in diff.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("diff --git ") {
                inHunk = false
                // `diff --git a/x b/y`: take the b/ side.
                let rest = line.dropFirst("diff --git ".count)
                let path: String
                if let range = rest.range(of: " b/") {
                    path = String(rest[range.upperBound...])
                } else {
                    path = String(rest)
                }
                files.append(File(path: path, added: 0, deleted: 0))
            } else if line.hasPrefix("+++ ") && !inHunk {
                let name = line.dropFirst(4)
                let path = name.hasPrefix("b/") ? String(name.dropFirst(2)) : String(name)
                if files.isEmpty {
                    files.append(File(path: path, added: 0, deleted: 0))
                } else if path != "/dev/null", files[files.count - 1].path.isEmpty {
                    files[files.count - 1].path = path
                }
            } else if line.hasPrefix("--- ") && !inHunk {
                continue
            } else if line.hasPrefix("@@") {
                inHunk = true
                if files.isEmpty { files.append(File(path: "", added: 0, deleted: 0)) }
            } else if inHunk, !files.isEmpty {
                if line.hasPrefix("+") { files[files.count - 1].added += 1 } else if line.hasPrefix("-") { files[files.count - 1].deleted += 1 }
            }
        }
        self.files = files
    }

    /// `2 files, +10 −3`.
    public var stat: String {
        "\(files.count) file\(files.count == 1 ? "" : "s"), +\(added) −\(deleted)"
    }

    /// The diff as HTML lines: additions, deletions, hunk headers and file headers each in
    /// their own class (`add`, `del`, `hunk`, `meta`). Escaped.
    public static func html(_ diff: String) -> String {
        var out = "<pre class=\"diff\">"
        var inHunk = false
        for line in diff.split(separator: "\n", omittingEmptySubsequences: false) {
            let text = String(line)
            let css: String
            if text.hasPrefix("diff --git ") {
                inHunk = false
                css = "meta"
            } else if text.hasPrefix("@@") {
                inHunk = true
                css = "hunk"
            } else if !inHunk
                && (text.hasPrefix("+++ ") || text.hasPrefix("--- ") || text.hasPrefix("index ") || text.hasPrefix("new file")
                    || text.hasPrefix("deleted file") || text.hasPrefix("similarity") || text.hasPrefix("rename "))
            {
                css = "meta"
            } else if text.hasPrefix("+") {
                css = "add"
            } else if text.hasPrefix("-") {
                css = "del"
            } else {
                css = "ctx"
            }
            out += "<span class=\"\(css)\">\(text.isEmpty ? " " : HTML.escape(text))</span>"
        }
        return out + "</pre>"
    }
}
