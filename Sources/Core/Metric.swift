import Foundation

/// A JSON path such as `results[0].mean` or `stats.p50`.
public enum JSONPath {
    public enum Component: Sendable, Equatable {
        case key(String)
        case index(Int)
    }

    /// The path's components, or `nil` when it is not a path.
    public static func parse(_ text: String) -> [Component]? {
        var components: [Component] = []
        var rest = Substring(text.hasPrefix("$.") ? String(text.dropFirst(2)) : text)
        guard !rest.isEmpty else { return nil }
        while !rest.isEmpty {
            if rest.first == "[" {
                guard let close = rest.firstIndex(of: "]"), let index = Int(rest[rest.index(after: rest.startIndex)..<close]),
                    index >= 0
                else { return nil }
                components.append(.index(index))
                rest = rest[rest.index(after: close)...]
                if rest.first == "." { rest = rest.dropFirst() }
                continue
            }
            let end = rest.firstIndex(where: { $0 == "." || $0 == "[" }) ?? rest.endIndex
            let key = rest[..<end]
            guard !key.isEmpty else { return nil }
            components.append(.key(String(key)))
            rest = rest[end...]
            if rest.first == "." { rest = rest.dropFirst() }
        }
        return components
    }
}

/// Why a benchmark run produced no usable number.
public struct MetricError: Error, Sendable, Equatable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// Everything one benchmark run produced that a metric can be read from.
public struct MetricInputs: Sendable {
    public var wallSeconds: Double
    public var output: String
    /// The contents of the source's file, when it names one.
    public var file: String?
    public var peakMemoryBytes: Int?
    /// Instructions counted by callgrind, when the run was under it.
    public var instructions: Double?

    public init(wallSeconds: Double, output: String, file: String? = nil, peakMemoryBytes: Int? = nil, instructions: Double? = nil) {
        self.wallSeconds = wallSeconds
        self.output = output
        self.file = file
        self.peakMemoryBytes = peakMemoryBytes
        self.instructions = instructions
    }
}

/// Pulls the measured number out of a benchmark run.
public enum MetricExtractor {
    /// The metric value of one run, from everything it produced.
    public static func value(source: MetricSource, inputs: MetricInputs) throws(MetricError) -> Double {
        switch source {
        case .callgrind:
            guard let instructions = inputs.instructions, instructions > 0 else {
                throw MetricError("callgrind counted no instructions (is valgrind installed? apt-get install valgrind)")
            }
            return instructions
        case .peakMemory:
            guard let bytes = inputs.peakMemoryBytes, bytes > 0 else { throw MetricError("the peak memory of the run is unknown") }
            return Double(bytes)
        default:
            return try value(source: source, wallSeconds: inputs.wallSeconds, output: inputs.output, file: inputs.file)
        }
    }

    /// The total instruction count (`summary:` or `totals:` line) of callgrind output files.
    public static func callgrindInstructions(_ outputs: [String]) -> Double? {
        var total = 0.0
        var found = false
        for text in outputs {
            for line in text.split(separator: "\n") where line.hasPrefix("summary:") || line.hasPrefix("totals:") {
                if let number = line.split(separator: " ").dropFirst().first.flatMap({ Double($0) }) {
                    total += number
                    found = true
                    break
                }
            }
        }
        return found ? total : nil
    }

    /// Standard output with the lines that may legitimately differ between two runs removed
    /// (those matching `ignore` or the metric's own pattern), for output comparison.
    public static func comparable(_ output: String, ignoring patterns: [String]) -> String {
        let regexes = patterns.compactMap { try? Regex($0) }
        return output.split(separator: "\n", omittingEmptySubsequences: false)
            .filter { line in !regexes.contains { (try? $0.firstMatch(in: String(line))) != nil } }
            .joined(separator: "\n")
    }

    /// The metric value of one run.
    /// - Parameters:
    ///   - source: the configured source.
    ///   - wallSeconds: the command's wall time.
    ///   - output: its standard output.
    ///   - file: the contents of the source's file, when it names one.
    /// - Throws: `MetricError` naming what was looked for and what was found instead.
    public static func value(
        source: MetricSource, wallSeconds: Double, output: String, file: String?
    ) throws(MetricError) -> Double {
        switch source {
        case .wallTime:
            return wallSeconds
        case .regex(let pattern):
            guard let regex = try? Regex(pattern) else { throw MetricError("pattern '\(pattern)' is not a regular expression") }
            guard let match = try? regex.firstMatch(in: output) else {
                throw MetricError("pattern '\(pattern)' did not match the benchmark output (\(tail(output)))")
            }
            guard match.count > 1, let captured = match[1].substring else {
                throw MetricError("pattern '\(pattern)' has no first capture group")
            }
            guard let number = Double(captured.trimmingCharacters(in: " \t")), number.isFinite else {
                throw MetricError("pattern '\(pattern)' captured '\(captured)', which is not a number")
            }
            return number
        case .json(let path, let fileName):
            let text = fileName == nil ? output : (file ?? "")
            let origin = fileName.map { "file '\($0)'" } ?? "the benchmark output"
            return try number(atPath: path, inJSON: text, origin: origin)
        case .hyperfine(let fileName):
            guard let file else { throw MetricError("hyperfine export '\(fileName)' was not written; run hyperfine with --export-json \(fileName)") }
            return try number(atPath: "results[0].mean", inJSON: file, origin: "hyperfine export '\(fileName)'")
        case .callgrind, .peakMemory:
            throw MetricError("\(source.name) needs the run's counters; use value(source:inputs:)")
        }
    }

    static func number(atPath path: String, inJSON text: String, origin: String) throws(MetricError) -> Double {
        guard let components = JSONPath.parse(path) else { throw MetricError("'\(path)' is not a JSON path") }
        let object: Any
        do {
            object = try JSONSerialization.jsonObject(with: Data(text.utf8), options: [.fragmentsAllowed])
        } catch {
            throw MetricError("\(origin) is not valid JSON (\(tail(text)))")
        }
        var current: Any = object
        var walked = ""
        for component in components {
            switch component {
            case .key(let key):
                guard let dictionary = current as? [String: Any], let next = dictionary[key] else {
                    throw MetricError("\(origin) has no key '\(key)' at '\(walked.isEmpty ? "$" : walked)'")
                }
                current = next
                walked += walked.isEmpty ? key : ".\(key)"
            case .index(let index):
                guard let array = current as? [Any], index < array.count else {
                    throw MetricError("\(origin) has no element [\(index)] at '\(walked.isEmpty ? "$" : walked)'")
                }
                current = array[index]
                walked += "[\(index)]"
            }
        }
        if let number = current as? NSNumber, !(current is Bool) {
            let value = number.doubleValue
            if value.isFinite { return value }
        }
        if let string = current as? String, let value = Double(string), value.isFinite { return value }
        throw MetricError("\(origin) at '\(path)' is not a number")
    }

    static func tail(_ text: String) -> String {
        let trimmed = text.trimmingCharacters(in: " \n\t")
        if trimmed.isEmpty { return "it was empty" }
        return "it ended: '" + String(trimmed.suffix(120)) + "'"
    }
}
