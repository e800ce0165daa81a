import Foundation

/// What an agent said about itself in the structured events at the end of its log: Claude Code's
/// `--output-format stream-json` (or `json`) and Codex's `exec --json`. Lines that are not JSON objects, or not
/// events these agents emit, are skipped; so is a line that another event split (a known stream-json fault).
struct AgentEvents: Equatable, Sendable {
    /// Claude Code's final `{"type":"result",...}` event.
    struct ClaudeResult: Equatable, Sendable {
        var subtype: String
        var isError: Bool
        /// The final text (the answer, or the error message such as `API Error: 529 {...overloaded_error...}`).
        var text: String
        /// The HTTP status of the API error that ended the run, when Claude Code reports one.
        var apiErrorStatus: Int?
    }

    /// The last `{"type":"result"}` seen.
    var claudeResult: ClaudeResult?
    /// From the last `{"type":"rate_limit_event","rate_limit_info":{"status":"rejected","resetsAt":SECONDS}}`:
    /// the reset time in milliseconds since 1970, or nil when the event had none. Absent if no rejection was seen.
    var rateLimitRejectedUntilMs: Int64??
    /// Claude Code retrying an API error: `{"type":"system","subtype":"api_retry","error_status":529,"error":"..."}`.
    struct APIRetry: Equatable, Sendable {
        var status: Int?
        var error: String
    }

    /// The last `api_retry` event seen.
    var apiRetry: APIRetry?

    /// Codex's last terminal event: `turn.completed` (nil) or `turn.failed` with its error message.
    var codexTurnFailure: String??
    /// Token usage: Claude Code's result usage and cost, or the sum of Codex's `turn.completed` usages.
    var usage: AgentUsage?

    init(text: String) {
        var codexUsage: AgentUsage?
        for line in text.split(separator: "\n", omittingEmptySubsequences: true) {
            let trimmed = line.drop { $0 == " " || $0 == "\t" || $0 == "\r" }
            guard trimmed.first == "{", trimmed.contains("\"type\"") else { continue }
            guard case .object(let event)? = try? JSONDecoder().decode(JSONValue.self, from: Data(trimmed.utf8)),
                case .string(let type)? = event["type"]
            else { continue }
            switch type {
            case "result":
                let usage = event["usage"]?.objectValue
                claudeResult = ClaudeResult(
                    subtype: event["subtype"]?.stringValue ?? "",
                    isError: event["is_error"]?.boolValue ?? false,
                    text: event["result"]?.stringValue
                        ?? (event["errors"]?.arrayValue?.compactMap(\.stringValue)
                            .joined(separator: "; ") ?? ""),
                    apiErrorStatus: event["api_error_status"]?.intValue.map { Int($0) })
                self.usage = AgentUsage(
                    inputTokens: usage?["input_tokens"]?.intValue ?? 0,
                    outputTokens: usage?["output_tokens"]?.intValue ?? 0,
                    cacheReadTokens: usage?["cache_read_input_tokens"]?.intValue ?? 0,
                    cacheWriteTokens: usage?["cache_creation_input_tokens"]?.intValue ?? 0,
                    costUSD: event["total_cost_usd"]?.doubleValue)
            case "rate_limit_event":
                let info = event["rate_limit_info"]?.objectValue
                if info?["status"]?.stringValue == "rejected" {
                    rateLimitRejectedUntilMs = .some(info?["resetsAt"]?.doubleValue.map { Int64($0 * 1000) })
                }
            case "system" where event["subtype"]?.stringValue == "api_retry":
                apiRetry = APIRetry(
                    status: event["error_status"]?.intValue.map { Int($0) },
                    error: event["error"]?.stringValue ?? "")
            case "turn.completed":
                codexTurnFailure = .some(nil)
                let usage = event["usage"]?.objectValue
                var sum = codexUsage ?? AgentUsage()
                sum.inputTokens += usage?["input_tokens"]?.intValue ?? 0
                sum.cacheReadTokens += usage?["cached_input_tokens"]?.intValue ?? 0
                sum.outputTokens += usage?["output_tokens"]?.intValue ?? 0
                codexUsage = sum
            case "turn.failed":
                codexTurnFailure = .some(event["error"]?.objectValue?["message"]?.stringValue ?? "turn failed")
            default:
                continue
            }
        }
        if usage == nil { usage = codexUsage }
    }
}

/// Tokens and money one run spent, as the agent reported them.
public struct AgentUsage: Equatable, Sendable {
    public var inputTokens: Int64
    public var outputTokens: Int64
    /// Input tokens served from the prompt cache.
    public var cacheReadTokens: Int64
    /// Input tokens written to the prompt cache (Claude Code only).
    public var cacheWriteTokens: Int64
    /// Claude Code's `total_cost_usd`; nil when the agent does not report cost (Codex).
    public var costUSD: Double?

    public init(
        inputTokens: Int64 = 0, outputTokens: Int64 = 0, cacheReadTokens: Int64 = 0, cacheWriteTokens: Int64 = 0,
        costUSD: Double? = nil
    ) {
        self.inputTokens = inputTokens
        self.outputTokens = outputTokens
        self.cacheReadTokens = cacheReadTokens
        self.cacheWriteTokens = cacheWriteTokens
        self.costUSD = costUSD
    }
}

/// Any JSON value, decoded without a schema, so that an event with an unexpected field type is still read.
enum JSONValue: Decodable, Equatable, Sendable {
    case string(String)
    case integer(Int64)
    case number(Double)
    case bool(Bool)
    case null
    case array([JSONValue])
    case object([String: JSONValue])

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(Int64.self) {
            self = .integer(value)
        } else if let value = try? container.decode(Double.self) {
            self = .number(value)
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else if let value = try? container.decode([JSONValue].self) {
            self = .array(value)
        } else {
            self = .object(try container.decode([String: JSONValue].self))
        }
    }

    var stringValue: String? { if case .string(let value) = self { value } else { nil } }
    var boolValue: Bool? { if case .bool(let value) = self { value } else { nil } }
    var objectValue: [String: JSONValue]? { if case .object(let value) = self { value } else { nil } }
    var arrayValue: [JSONValue]? { if case .array(let value) = self { value } else { nil } }
    var intValue: Int64? {
        switch self {
        case .integer(let value): value
        case .number(let value) where value.rounded() == value && abs(value) < 9e18: Int64(value)
        default: nil
        }
    }
    var doubleValue: Double? {
        switch self {
        case .integer(let value): Double(value)
        case .number(let value): value
        default: nil
        }
    }
}
