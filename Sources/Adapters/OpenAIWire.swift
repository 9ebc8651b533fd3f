// Chat Completions (`POST {base_url}/chat/completions`): the fields Ratchet sends and reads.
extension ModelProposer {
    struct OpenAIRequest: Encodable {
        var model: String
        var messages: [Message]
        var temperature: Double?
        var maxTokens: Int

        enum CodingKeys: String, CodingKey {
            case model, messages, temperature
            case maxTokens = "max_tokens"
        }
    }

    struct OpenAIResponse: Decodable {
        struct Choice: Decodable {
            struct Content: Decodable { var content: String? }
            var message: Content?
            var finishReason: String?
            enum CodingKeys: String, CodingKey {
                case message
                case finishReason = "finish_reason"
            }
        }
        struct Tokens: Decodable {
            var promptTokens: Int?
            var completionTokens: Int?
            enum CodingKeys: String, CodingKey {
                case promptTokens = "prompt_tokens"
                case completionTokens = "completion_tokens"
            }
        }
        var choices: [Choice]?
        var usage: Tokens?
    }
}
