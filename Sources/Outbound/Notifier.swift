/// A message for people: a title, the text, and optionally a link to the task.
public struct Notification: Codable, Sendable, Equatable {
    /// One line saying what happened.
    public var title: String
    /// The details.
    public var text: String
    /// A link to the task in Bosun's dashboard or the tracker.
    public var taskURL: String?

    /// A notification with the given parts.
    public init(title: String, text: String, taskURL: String? = nil) {
        self.title = title
        self.text = text
        self.taskURL = taskURL
    }
}

/// Where notifications go. The URLs and the bot token are secrets: they never appear in a result's reason.
public enum NotifierTarget: Sendable, Equatable {
    /// A Telegram bot: `POST {apiBaseURL}/bot{token}/sendMessage` with `chat_id` and `text`.
    case telegram(botToken: String, chatID: String, apiBaseURL: String = "https://api.telegram.org")
    /// A Slack-compatible incoming webhook: `POST {"text": ...}` (Slack, Mattermost, Rocket.Chat).
    case slack(webhookURL: String)
    /// Any HTTP endpoint taking a JSON document `{"title", "text", "task_url", "idempotency_key"}`, with an
    /// `Idempotency-Key` header and any extra headers given (e.g. an authorization header).
    case webhook(url: String, headers: [String: String] = [:])

    /// `telegram`, `slack` or `webhook`.
    public var kind: String {
        switch self {
        case .telegram: "telegram"
        case .slack: "slack"
        case .webhook: "webhook"
        }
    }
}

/// Sends one notification attempt and classifies the outcome like a forge call. Chat services do not deduplicate,
/// so delivery is at least once: a retry after a lost answer may post twice. The generic webhook gets the
/// idempotency key to deduplicate on. Blocking: call it from a thread that may block.
public final class Notifier: Sendable {
    /// Telegram refuses messages longer than 4096 characters.
    public static let telegramMaxCharacters = 4096

    /// Where notifications go.
    public let target: NotifierTarget
    let http: HTTPClient
    let clock: @Sendable () -> Int64

    /// A notifier for one target. `clock` gives Unix milliseconds.
    public init(
        target: NotifierTarget, http: HTTPClient, clock: @escaping @Sendable () -> Int64 = UnixClock.milliseconds
    ) {
        self.target = target
        self.http = http
        self.clock = clock
    }

    /// One attempt at delivering `notification`.
    public func send(_ notification: Notification, idempotencyKey: String) -> AttemptResult {
        guard IdempotencyMarker.isValidKey(idempotencyKey) else {
            return .failed(reason: "idempotency key must be 1-200 characters of A-Z a-z 0-9 . _ : / + = - without --")
        }
        let label: String
        let url: String
        var headers: [(name: String, value: String)] = [
            ("User-Agent", "bosun"), ("Accept", "application/json"), ("Content-Type", "application/json"),
        ]
        let body: JSONValue
        switch target {
        case .telegram(let botToken, let chatID, let apiBaseURL):
            label = "telegram sendMessage"
            guard !botToken.isEmpty, !botToken.contains("/"), !chatID.isEmpty else {
                return .failed(reason: "\(label): bot token and chat id are required, and the token has no /")
            }
            var base = apiBaseURL
            while base.hasSuffix("/") { base.removeLast() }
            url = "\(base)/bot\(botToken)/sendMessage"
            body = .object(["chat_id": .string(chatID), "text": .string(Self.telegramText(notification))])
        case .slack(let webhookURL):
            label = "slack webhook"
            url = webhookURL
            body = .object(["text": .string(Self.slackText(notification))])
        case .webhook(let webhookURL, let extra):
            label = "webhook"
            url = webhookURL
            headers.append(("Idempotency-Key", idempotencyKey))
            headers += extra.keys.sorted().map { ($0, extra[$0] ?? "") }
            var fields: [String: JSONValue] = [
                "title": .string(notification.title), "text": .string(notification.text),
                "idempotency_key": .string(idempotencyKey),
            ]
            if let taskURL = notification.taskURL { fields["task_url"] = .string(taskURL) }
            body = .object(fields)
        }
        guard url.hasPrefix("https://") || url.hasPrefix("http://") else {
            return .failed(reason: "\(label): URL must start with https:// or http://")
        }
        let response: HTTPResponse
        do {
            response = try http.send(HTTPRequest(method: "POST", url: url, headers: headers, body: body.encoded))
        } catch {
            return ResponseClassifier.verdict(for: error).prefixed(label).attemptResult()
        }
        let verdict = ResponseClassifier.verdict(for: response, nowMilliseconds: clock()).prefixed(label)
        guard verdict == .success else { return verdict.attemptResult() }
        if case .telegram = target {
            // Telegram answers {"ok": true, "result": {"message_id": …}}.
            let json = JSONValue.parse(response.body)
            guard json?["ok"]?.boolValue == true else {
                return .failed(
                    reason: "\(label): \(ResponseClassifier.forgeMessage(response.body) ?? "answer without ok")")
            }
            var detail: [String: String] = [:]
            detail["message_id"] = json?["result"]?["message_id"]?.scalarText
            return .done(detail: detail)
        }
        return .done(detail: [:])
    }

    /// Title, text and link as plain text (no parse mode, so nothing needs escaping), cut to Telegram's limit.
    static func telegramText(_ notification: Notification) -> String {
        var text = notification.title
        if !notification.text.isEmpty { text += "\n\n" + notification.text }
        if let taskURL = notification.taskURL { text += "\n\n" + taskURL }
        guard text.count > telegramMaxCharacters else { return text }
        return String(text.prefix(telegramMaxCharacters - 1)) + "…"
    }

    /// Slack mrkdwn: `&`, `<`, `>` escaped as Slack requires, the title bold, the link as `<url|Open task>`.
    static func slackText(_ notification: Notification) -> String {
        func escape(_ text: String) -> String {
            var result = ""
            for character in text {
                switch character {
                case "&": result += "&amp;"
                case "<": result += "&lt;"
                case ">": result += "&gt;"
                default: result.append(character)
                }
            }
            return result
        }
        var text = "*\(escape(notification.title))*"
        if !notification.text.isEmpty { text += "\n" + escape(notification.text) }
        if let taskURL = notification.taskURL, !taskURL.contains("|"), !taskURL.contains(">") {
            text += "\n<\(taskURL)|Open task>"
        }
        return text
    }
}
