import Foundation
import Logging

/// A swift-log handler that writes one JSON object per line to standard error, for log
/// collectors: `{"time":…,"level":…,"label":…,"message":…,"metadata":{…}}`.
public struct JSONLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    public var logLevel: Logger.Level = .info
    let label: String
    let write: @Sendable (String) -> Void

    public init(label: String, write: @escaping @Sendable (String) -> Void = Self.standardError) {
        self.label = label
        self.write = write
    }

    public static let standardError: @Sendable (String) -> Void = { line in
        FileHandle.standardError.write(Data(line.utf8))
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var merged = metadata
        if let provided = metadataProvider?.get() { merged.merge(provided) { $1 } }
        if let extra = event.metadata { merged.merge(extra) { $1 } }
        let line = Line(
            time: Date().formatted(.iso8601.year().month().day().time(includingFractionalSeconds: true).timeZone(separator: .omitted)),
            level: event.level.rawValue, label: label, message: event.message.description, error: event.error.map { "\($0)" },
            metadata: merged.isEmpty ? nil : merged.mapValues(Value.init))
        guard let data = try? Self.encoder.encode(line) else { return }
        write(String(decoding: data, as: UTF8.self) + "\n")
    }

    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }()

    /// One log line; absent fields are left out.
    struct Line: Encodable {
        var time: String
        var level: String
        var label: String
        var message: String
        var error: String?
        var metadata: [String: Value]?
    }

    /// A metadata value as plain JSON: a string, an array or an object.
    enum Value: Encodable {
        case text(String)
        case list([Value])
        case map([String: Value])

        init(_ value: Logger.MetadataValue) {
            switch value {
            case .string(let text): self = .text(text)
            case .stringConvertible(let value): self = .text(value.description)
            case .array(let values): self = .list(values.map(Value.init))
            case .dictionary(let values): self = .map(values.mapValues(Value.init))
            }
        }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.singleValueContainer()
            switch self {
            case .text(let text): try container.encode(text)
            case .list(let values): try container.encode(values)
            case .map(let values): try container.encode(values)
            }
        }
    }
}
