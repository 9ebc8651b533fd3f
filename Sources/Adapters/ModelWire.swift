import Core
import Foundation

// The wire formats of the two protocols: the request body sent, and the reply read back.
extension ModelProposer {
    struct Message: Codable {
        var role: String
        var content: String
    }

    /// What the model said, whichever the protocol.
    struct ModelReply {
        var text: String
        var inputTokens: Int
        var outputTokens: Int
        /// The reply stopped at the output token limit.
        var truncated: Bool
    }

    func requestBody(_ prompt: Prompt) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let data: Data?
        switch api {
        case .openAI:
            data = try? encoder.encode(
                OpenAIRequest(
                    model: spec.model,
                    messages: [Message(role: "system", content: prompt.system), Message(role: "user", content: prompt.user)],
                    temperature: spec.temperature, maxTokens: spec.maxOutputTokens))
        case .anthropic:
            data = try? encoder.encode(
                AnthropicRequest(
                    model: spec.model, maxTokens: spec.maxOutputTokens, system: prompt.system,
                    messages: [Message(role: "user", content: prompt.user)], temperature: spec.temperature))
        }
        // Encoding strings and numbers cannot fail; an empty body would be refused by the server.
        return data.map { Array($0) } ?? []
    }

    /// The reply's text and token counts.
    /// - Throws: `ProposerError` (without source) saying what is wrong with the body.
    func decode(_ body: [UInt8]) throws(ProposerError) -> ModelReply {
        let decoder = JSONDecoder()
        let excerpt = String(decoding: body.prefix(400), as: UTF8.self).excerpt(200)
        switch api {
        case .openAI:
            let response: OpenAIResponse
            do {
                response = try decoder.decode(OpenAIResponse.self, from: Data(body))
            } catch {
                throw ProposerError("the response is not valid Chat Completions JSON (\(Self.describe(error))): \(excerpt)")
            }
            guard let choice = response.choices?.first else {
                throw ProposerError("the response has no choices: \(excerpt)")
            }
            return ModelReply(
                text: choice.message?.content ?? "",
                inputTokens: response.usage?.promptTokens ?? 0, outputTokens: response.usage?.completionTokens ?? 0,
                truncated: choice.finishReason == "length")
        case .anthropic:
            let response: AnthropicResponse
            do {
                response = try decoder.decode(AnthropicResponse.self, from: Data(body))
            } catch {
                throw ProposerError("the response is not valid Messages JSON (\(Self.describe(error))): \(excerpt)")
            }
            guard let content = response.content else {
                throw ProposerError("the response has no content: \(excerpt)")
            }
            let text = content.filter { $0.type == nil || $0.type == "text" }.compactMap(\.text).joined(separator: "\n")
            return ModelReply(
                text: text, inputTokens: response.usage?.inputTokens ?? 0, outputTokens: response.usage?.outputTokens ?? 0,
                truncated: response.stopReason == "max_tokens")
        }
    }

    static func describe(_ error: any Error) -> String {
        switch error {
        case DecodingError.dataCorrupted(let context): "corrupted: \(context.debugDescription)"
        case DecodingError.typeMismatch(_, let context), DecodingError.valueNotFound(_, let context):
            "at \(context.codingPath.map(\.stringValue).joined(separator: ".")): \(context.debugDescription)"
        case DecodingError.keyNotFound(let key, _): "missing key \(key.stringValue)"
        default: String(describing: error)
        }
    }

    /// The message inside a JSON error body (`{"error": {"message": …}}`), else the body's start.
    static func errorExcerpt(_ body: [UInt8]) -> String {
        if let object = try? JSONSerialization.jsonObject(with: Data(body.prefix(1 << 20))) as? [String: Any] {
            if let error = object["error"] as? [String: Any], let message = error["message"] as? String {
                let type = (error["type"] as? String).map { "\($0): " } ?? ""
                return (type + message).excerpt(300)
            }
            if let message = object["message"] as? String { return message.excerpt(300) }
        }
        let text = String(decoding: body.prefix(2000), as: UTF8.self).excerpt(300)
        return text.isEmpty ? "(empty body)" : text
    }
}
