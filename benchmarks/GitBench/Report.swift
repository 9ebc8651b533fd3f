/// The stdout report: result table, Ratchet breakdown, setup costs, targets, then one JSON line.
struct Report {
    let results: [SizeResult]

    /// At 20k files Ratchet must be at least this many times cheaper than `git reset --hard`.
    static let minimumSpeedupAt20k = 5.0
    /// Ratchet at 100k files may cost at most this multiple of its 1k-file figure.
    static let maximumGrowth100kOver1k = 3.0

    private func result(_ size: Int) -> SizeResult? { results.first { $0.size == size } }

    private func ratio(_ numerator: Double?, _ denominator: Double?) -> Double? {
        guard let numerator, let denominator, denominator > 0 else { return nil }
        return numerator / denominator
    }

    private func medianAndP90(_ summary: Summary?) -> String {
        guard let summary else { return "–" }
        return "\(format(summary.median)) (\(format(summary.p90)))"
    }

    func print() {
        var lines: [String] = []
        lines.append("Git cost per candidate (reset working folder + apply 2-file diff + commit), milliseconds")
        lines.append("")
        let header = [
            pad("files", 7), pad("ratchet median (p90)", 22), pad("cli reset median (p90)", 24),
            pad("cli fresh median", 17), pad("reset/ratchet", 14),
        ]
        lines.append(header.joined(separator: " | "))
        lines.append(header.map { String(repeating: "-", count: $0.count) }.joined(separator: "-|-"))
        for r in results {
            let row = [
                pad(String(r.size), 7),
                pad(medianAndP90(r.ratchet), 22),
                pad(medianAndP90(r.cliReset), 24),
                pad(r.cliFresh.map { "\(format($0.median, decimals: 1)) (n=\($0.count))" } ?? "skipped", 17),
                pad(ratio(r.cliReset?.median, r.ratchet?.median).map { format($0, decimals: 1) + "x" } ?? "–", 14),
            ]
            lines.append(row.joined(separator: " | "))
        }
        lines.append("")
        lines.append("Ratchet breakdown, median ms (sync = Slot.sync; tree diff = Repository.changes base→candidate, measured apart)")
        let stepHeader = [pad("files", 7)] + Step.allCases.map { pad($0.label, 10) } + [pad("tree diff", 10), pad("n", 4)]
        lines.append(stepHeader.joined(separator: " | "))
        lines.append(stepHeader.map { String(repeating: "-", count: $0.count) }.joined(separator: "-|-"))
        for r in results {
            let row =
                [pad(String(r.size), 7)] + Step.allCases.map { pad(format(r.steps[$0]?.median), 10) }
                + [pad(format(r.treeDiff?.median), 10), pad(String(r.ratchet?.count ?? 0), 4)]
            lines.append(row.joined(separator: " | "))
        }
        lines.append("")
        lines.append(
            "Untimed setup: "
                + results.map { r in
                    "\(r.size) files: fast-import \(format(r.fastImportSeconds, decimals: 1)) s, slot fill \(format(r.slotFillSeconds, decimals: 1)) s, "
                        + "slot guard open \(format(r.guardOpenSeconds, decimals: 1)) s, "
                        + "worktree add \(format(r.worktreeAddSeconds, decimals: 1)) s"
                        + (r.freshRemoval.map { ", fresh worktree removal \(format($0.median, decimals: 0)) ms" } ?? "")
                }.joined(separator: "; "))
        lines.append("")

        let speedup = ratio(result(20_000)?.cliReset?.median, result(20_000)?.ratchet?.median)
        let growth = ratio(result(100_000)?.ratchet?.median, result(1_000)?.ratchet?.median)
        lines.append(
            "target: at 20000 files cli_reset/ratchet >= \(format(Self.minimumSpeedupAt20k, decimals: 0))x: "
                + verdict(speedup) { $0 >= Self.minimumSpeedupAt20k })
        lines.append(
            "target: ratchet(100000) <= \(format(Self.maximumGrowth100kOver1k, decimals: 0))x ratchet(1000) (slot check included): "
                + verdict(growth) { $0 <= Self.maximumGrowth100kOver1k })
        lines.append(
            "target: the slot check with nothing changed at 20000 files <= 5 ms: "
                + verdict(result(20_000)?.steps[.slotCheck]?.median, unit: " ms") { $0 <= 5 })

        var json: [String] = []
        for r in results {
            // Each size: the totals, then every Ratchet step's median as `<step>_ms`.
            let fields =
                [
                    ("ratchet_ms", r.ratchet?.median), ("cli_fresh_ms", r.cliFresh?.median), ("cli_reset_ms", r.cliReset?.median),
                ] + Step.allCases.map { ("\($0.rawValue)_ms", r.steps[$0]?.median) }
            let setup = [("guard_open_s", r.guardOpenSeconds)]
            json.append(
                "\"\(r.size)\": {"
                    + (fields + setup.map { ($0.0, Optional($0.1)) }).map { "\"\($0.0)\": \(jsonNumber($0.1))" }.joined(separator: ", ") + "}")
        }
        if let speedup { json.append("\"ratio_reset_over_ratchet_20000\": \(jsonNumber(speedup))") }
        if let growth { json.append("\"ratio_ratchet_100000_over_1000\": \(jsonNumber(growth))") }
        let checkAt20k = result(20_000)?.steps[.slotCheck]?.median
        if let checkAt20k { json.append("\"slot_check_ms_20000\": \(jsonNumber(checkAt20k))") }
        lines.append("{" + json.joined(separator: ", ") + "}")
        Swift.print(lines.joined(separator: "\n"))
    }

    private func verdict(_ value: Double?, unit: String = "x", _ passes: (Double) -> Bool) -> String {
        guard let value else { return "SKIP (size not measured)" }
        return "\(format(value, decimals: 2))\(unit)  \(passes(value) ? "PASS" : "FAIL")"
    }
}
