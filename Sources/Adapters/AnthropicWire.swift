// The Anthropic Messages API (`POST {base_url}/v1/messages`): the fields Ratchet sends and reads.
extension ModelProposer {
    struct AnthropicRequest: Encodable {
        var model: String
        var maxTokens: Int
        var system: String?
        var messages: [Message]
        var temperature: Double?

        enum CodingKeys: String, CodingKey {
            case model, system, messages, temperature
            case maxTokens = "max_tokens"
        }
    }

    struct AnthropicResponse: Decodable {
        struct Block: Decodable {
            var type: String?
            var text: String?
        }
        struct Tokens: Decodable {
            var inputTokens: Int?
            var outputTokens: Int?
            enum CodingKeys: String, CodingKey {
                case inputTokens = "input_tokens"
                case outputTokens = "output_tokens"
            }
        }
        var content: [Block]?
        var usage: Tokens?
        var stopReason: String?
        enum CodingKeys: String, CodingKey {
            case content, usage
            case stopReason = "stop_reason"
        }
    }
}
