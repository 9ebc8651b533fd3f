import Foundation

/// Escaping and the shared look of Ratchet's HTML (the morning report and the review UI).
/// Every piece of text that comes from a store, a diff, a config or a request goes through
/// `escape` before it reaches a page.
public enum HTML {
    /// `text` safe inside an element or a double- or single-quoted attribute.
    public static func escape(_ text: String) -> String {
        var result = ""
        result.reserveCapacity(text.utf8.count)
        for character in text.unicodeScalars {
            switch character {
            case "&": result += "&amp;"
            case "<": result += "&lt;"
            case ">": result += "&gt;"
            case "\"": result += "&quot;"
            case "'": result += "&#39;"
            default: result.unicodeScalars.append(character)
            }
        }
        return result
    }

    /// A percentage with its sign, `+12.3%`.
    public static func percent(_ value: Double?) -> String {
        guard let value, value.isFinite else { return "–" }
        return String(format: "%+.1f%%", value * 100)
    }

    /// `+12.3% [+8.0%, +16.1%]`.
    public static func effect(estimate: Double?, lower: Double?, upper: Double?) -> String {
        guard let estimate else { return "–" }
        guard let lower, let upper, lower.isFinite, upper.isFinite else { return percent(estimate) }
        return "\(percent(estimate)) [\(percent(lower)), \(percent(upper))]"
    }

    /// The style sheet shared by the report and the UI: system fonts, a light neutral page,
    /// green for better, red for worse, diff colours.
    public static let styleSheet = """
        :root { --fg:#1d2330; --muted:#5d6778; --line:#dde2ea; --bg:#f6f7f9; --card:#fff; --good:#1a7f37; --bad:#cf222e; --warn:#9a6700; --accent:#0b5cad; }
        * { box-sizing: border-box; }
        body { margin:0; font:14px/1.45 -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; color:var(--fg); background:var(--bg); }
        header.top { background:#1d2330; color:#fff; padding:10px 24px; display:flex; gap:18px; align-items:baseline; }
        header.top a { color:#fff; text-decoration:none; font-weight:600; }
        header.top .sub { color:#aab3c2; font-size:13px; }
        main { max-width:1180px; margin:0 auto; padding:18px 24px 48px; }
        h1 { font-size:22px; margin:6px 0 12px; } h2 { font-size:17px; margin:26px 0 10px; } h3 { font-size:15px; margin:16px 0 8px; }
        .card { background:var(--card); border:1px solid var(--line); border-radius:8px; padding:14px 16px; margin:10px 0; }
        table { border-collapse:collapse; width:100%; background:var(--card); }
        th, td { text-align:left; padding:6px 10px; border-bottom:1px solid var(--line); vertical-align:top; }
        th { font-size:12px; text-transform:uppercase; letter-spacing:.03em; color:var(--muted); }
        td.num, th.num { text-align:right; font-variant-numeric: tabular-nums; white-space:nowrap; }
        .muted { color:var(--muted); } .good { color:var(--good); } .bad { color:var(--bad); } .warn { color:var(--warn); }
        .pill { display:inline-block; padding:1px 8px; border-radius:10px; font-size:12px; font-weight:600; background:#eef1f5; color:var(--muted); }
        .pill.accepted, .pill.approved, .pill.running { background:#dafbe1; color:var(--good); }
        .pill.rejected, .pill.failed, .pill.rolled_back { background:#ffebe9; color:var(--bad); }
        .pill.pending, .pill.waiting, .pill.paused, .pill.budget, .pill.inconclusive { background:#fff8c5; color:var(--warn); }
        .alert { border-left:4px solid var(--warn); background:#fffbe6; padding:8px 12px; margin:6px 0; border-radius:4px; }
        .alert.bad { border-color:var(--bad); background:#fff1f0; }
        .flash { border-left:4px solid var(--good); background:#eefbf1; padding:8px 12px; margin:6px 0; border-radius:4px; }
        .error { border-left:4px solid var(--bad); background:#fff1f0; padding:8px 12px; margin:6px 0; border-radius:4px; }
        pre { margin:0; overflow-x:auto; font:12.5px/1.4 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
        .diff { border:1px solid var(--line); border-radius:6px; background:#fff; padding:6px 0; }
        .diff span { display:block; padding:0 10px; white-space:pre; }
        .diff .add { background:#e6ffec; color:#116329; } .diff .del { background:#ffebe9; color:#82071e; }
        .diff .hunk { background:#ddf4ff; color:#0550ae; } .diff .meta { color:var(--muted); font-weight:600; }
        .stat { font-variant-numeric: tabular-nums; } .stat .add { color:var(--good); } .stat .del { color:var(--bad); }
        .big { font-size:26px; font-weight:700; } .kpis { display:flex; gap:14px; flex-wrap:wrap; }
        .kpi { background:var(--card); border:1px solid var(--line); border-radius:8px; padding:10px 14px; min-width:150px; }
        .kpi .label { font-size:12px; color:var(--muted); text-transform:uppercase; letter-spacing:.03em; }
        form.actions { display:flex; gap:8px; flex-wrap:wrap; align-items:flex-end; }
        form.actions label { display:flex; flex-direction:column; font-size:12px; color:var(--muted); gap:2px; }
        input[type=text], textarea { font:inherit; padding:5px 8px; border:1px solid #c8cfda; border-radius:6px; min-width:220px; }
        textarea { min-width:360px; min-height:34px; }
        button { font:inherit; font-weight:600; padding:6px 14px; border-radius:6px; border:1px solid #c8cfda; background:#f3f5f8; cursor:pointer; }
        button.approve { background:#1a7f37; border-color:#1a7f37; color:#fff; } button.reject { background:#cf222e; border-color:#cf222e; color:#fff; }
        details summary { cursor:pointer; color:var(--accent); }
        a { color:var(--accent); }
        svg text { font:11px -apple-system, "Segoe UI", Roboto, Arial, sans-serif; fill:#5d6778; }
        """

    /// A whole page: doctype, title, the style sheet and `body`.
    public static func page(title: String, body: String, extraStyle: String = "") -> String {
        """
        <!DOCTYPE html>
        <html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
        <title>\(escape(title))</title>
        <style>\(styleSheet)\(extraStyle)</style></head>
        <body>\(body)</body></html>
        """
    }

    /// A status word as a coloured pill.
    public static func pill(_ word: String) -> String {
        let css = word.lowercased().filter { $0.isLetter || $0 == "_" }
        return "<span class=\"pill \(css)\">\(escape(word))</span>"
    }
}
