/// What one HTTP exchange means for the attempt, before any effect-specific reading (such as "404 on a label
/// removal is fine"), which the caller applies first.
public enum ResponseVerdict: Sendable, Equatable {
    /// A 2xx answer: go on.
    case success
    /// Transient: rate limits, overload, server errors, network trouble and timeouts.
    case retry(afterMilliseconds: Int64?, reason: String)
    /// Permanent: any other answer.
    case failed(reason: String)

    /// The verdict as an attempt result; `success` becomes `done` with the given detail.
    public func attemptResult(detail: [String: String] = [:]) -> AttemptResult {
        switch self {
        case .success: return .done(detail: detail)
        case .retry(let after, let reason): return .retry(afterMilliseconds: after, reason: reason)
        case .failed(let reason): return .failed(reason: reason)
        }
    }
}

/// Pure classification of HTTP outcomes. Time is an input (Unix milliseconds) so every rule is testable.
public enum ResponseClassifier {
    /// GitHub asks for at least a minute after a secondary rate limit that carries no header.
    public static let secondaryRateLimitMilliseconds: Int64 = 60_000

    /// Classifies a response by status and headers (names lowercased):
    /// - 2xx → success;
    /// - 429, 408 and 5xx → retry, after `Retry-After` or an exhausted rate limit's reset when given;
    /// - 403 with `X-RateLimit-Remaining: 0`, a `Retry-After`, or GitHub's "secondary rate limit" message → retry;
    /// - anything else (3xx, other 4xx) → failed, with the forge's own message.
    public static func verdict(
        status: Int, headers: [String: String], body: [UInt8], nowMilliseconds: Int64
    ) -> ResponseVerdict {
        if (200..<300).contains(status) { return .success }
        let message = forgeMessage(body).map { ": \($0)" } ?? ""
        let hint = serverHintMilliseconds(headers: headers, body: body, nowMilliseconds: nowMilliseconds)
        switch status {
        case 429:
            return .retry(afterMilliseconds: hint, reason: "rate limited (429)\(message)")
        case 403 where hint != nil:
            return .retry(afterMilliseconds: hint, reason: "rate limited (403)\(message)")
        case 403 where message.lowercased().contains("secondary rate limit"):
            return .retry(afterMilliseconds: secondaryRateLimitMilliseconds, reason: "rate limited (403)\(message)")
        case 408:
            return .retry(afterMilliseconds: hint, reason: "server timed out the request (408)\(message)")
        case 500..<600:
            return .retry(afterMilliseconds: hint, reason: "server error (\(status))\(message)")
        case 300..<400:
            return .failed(reason: "unexpected redirect (\(status)); check the API base URL")
        case 401:
            return .failed(reason: "unauthorized (401), check the token\(message)")
        default:
            return .failed(reason: "HTTP \(status)\(message)")
        }
    }

    /// Classifies a response.
    public static func verdict(for response: HTTPResponse, nowMilliseconds: Int64) -> ResponseVerdict {
        verdict(
            status: response.status, headers: response.headers, body: response.body, nowMilliseconds: nowMilliseconds)
    }

    /// Classifies a transport failure: timeouts and network or TLS trouble are transient; a request libcurl
    /// refuses and a response over the size cap are permanent.
    public static func verdict(for error: OutboundError) -> ResponseVerdict {
        switch error.code {
        case .timeout, .network, .tls, .transport:
            return .retry(afterMilliseconds: nil, reason: error.description)
        default:
            return .failed(reason: error.description)
        }
    }

    /// The earliest retry the server asked for, in milliseconds from now: the later of `Retry-After` and, when the
    /// rate limit is exhausted (`X-RateLimit-Remaining` or `RateLimit-Remaining` is 0), its reset. Telegram's
    /// `parameters.retry_after` in a JSON body counts as a `Retry-After`. Nil when the server gave no hint.
    public static func serverHintMilliseconds(
        headers: [String: String], body: [UInt8], nowMilliseconds: Int64
    ) -> Int64? {
        var hints: [Int64] = []
        if let value = headers["retry-after"],
            let delay = retryAfterMilliseconds(value, nowMilliseconds: nowMilliseconds)
        {
            hints.append(delay)
        } else if let seconds = JSONValue.parse(body)?["parameters"]?["retry_after"]?.scalarText.flatMap({ Int64($0) }),
            seconds >= 0
        {
            hints.append(seconds * 1000)
        }
        let remaining = headers["x-ratelimit-remaining"] ?? headers["ratelimit-remaining"]
        if remaining?.trimmingSpaces() == "0", let reset = headers["x-ratelimit-reset"] ?? headers["ratelimit-reset"],
            let delay = rateLimitResetMilliseconds(reset, nowMilliseconds: nowMilliseconds)
        {
            hints.append(delay)
        }
        return hints.max()
    }

    /// Parses `Retry-After`: delay seconds, or an HTTP-date (IMF-fixdate, RFC 850 or asctime form). A date in the
    /// past means zero. Nil when unparseable.
    public static func retryAfterMilliseconds(_ value: String, nowMilliseconds: Int64) -> Int64? {
        let trimmed = value.trimmingSpaces()
        if !trimmed.isEmpty, trimmed.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) {
            guard let seconds = Int64(trimmed.prefix(12)) else { return nil }
            return seconds * 1000
        }
        guard let epochSeconds = HTTPDate.parse(trimmed) else { return nil }
        return max(0, epochSeconds * 1000 - nowMilliseconds)
    }

    /// Parses a rate-limit reset: Unix epoch seconds (GitHub, GitLab, Plane) when the number is that large,
    /// otherwise seconds from now (some servers send a delta). A reset in the past means zero.
    public static func rateLimitResetMilliseconds(_ value: String, nowMilliseconds: Int64) -> Int64? {
        let trimmed = value.trimmingSpaces()
        guard !trimmed.isEmpty, trimmed.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }),
            let number = Int64(trimmed.prefix(15))
        else { return nil }
        if number >= 1_000_000_000 { return max(0, number * 1000 - nowMilliseconds) }
        return number * 1000
    }

    /// The forge's own error text from a JSON body (`message` as text, list or field map — GitLab uses all three;
    /// GitHub's `errors`; `error`, `detail`, `description`), or the start of a plain-text body. Control characters
    /// are dropped and the text is cut at 300 characters.
    public static func forgeMessage(_ body: [UInt8]) -> String? {
        var parts: [String] = []
        if let json = JSONValue.parse(body) {
            for key in ["message", "error", "error_description", "detail", "description"] {
                if let value = json[key], let text = flatten(value) { parts.append(text) }
            }
            if let errors = json["errors"]?.arrayValue {
                let details = errors.compactMap { item -> String? in
                    if let message = item["message"]?.stringValue { return message }
                    if let code = item["code"]?.stringValue { return code }
                    return item.stringValue
                }
                if !details.isEmpty { parts.append(details.joined(separator: "; ")) }
            }
            if parts.isEmpty, case .string(let text) = json { parts.append(text) }
        } else {
            parts.append(String(decoding: body.prefix(1024), as: UTF8.self))
        }
        let joined = parts.joined(separator: " — ")
        let cleaned = String(
            joined.unicodeScalars.map { $0.properties.generalCategory == .control ? " " : Character($0) }
        )
        .trimmingSpaces()
        guard !cleaned.isEmpty else { return nil }
        return cleaned.count > 300 ? String(cleaned.prefix(300)) + "…" : cleaned
    }

    private static func flatten(_ value: JSONValue) -> String? {
        switch value {
        case .string(let text): return text
        case .array(let items):
            let texts = items.compactMap(flatten)
            return texts.isEmpty ? nil : texts.joined(separator: "; ")
        case .object(let members):
            let texts = members.keys.sorted().compactMap { key in members[key].flatMap(flatten).map { "\(key) \($0)" } }
            return texts.isEmpty ? nil : texts.joined(separator: "; ")
        default: return value.scalarText
        }
    }
}

extension StringProtocol {
    /// The text without leading and trailing spaces, tabs and line breaks.
    func trimmingSpaces() -> String {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\r" || $0 == "\n" || $0 == "\r\n" }
        guard let start = firstIndex(where: { !isSpace($0) }), let end = lastIndex(where: { !isSpace($0) }) else {
            return ""
        }
        return String(self[start...end])
    }
}

/// HTTP-date parsing (RFC 9110 §5.6.7), pure: IMF-fixdate `Sun, 06 Nov 1994 08:49:37 GMT`, the obsolete RFC 850
/// form `Sunday, 06-Nov-94 08:49:37 GMT` and asctime `Sun Nov  6 08:49:37 1994`.
enum HTTPDate {
    private static let months = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]

    /// Seconds since the Unix epoch, or nil.
    static func parse(_ text: String) -> Int64? {
        let tokens = text.split(whereSeparator: { $0 == " " || $0 == "," || $0 == "-" }).map(String.init)
        var day: Int64?
        var month: Int64?
        var year: Int64?
        var time: (Int64, Int64, Int64)?
        for token in tokens {
            if let index = months.firstIndex(of: token.lowercased()) {
                month = Int64(index + 1)
            } else if token.contains(":") {
                let pieces = token.split(separator: ":").compactMap { Int64($0) }
                guard pieces.count == 3 else { return nil }
                time = (pieces[0], pieces[1], pieces[2])
            } else if let number = Int64(token) {
                if token.count == 4 {
                    year = number
                } else if day == nil {
                    day = number
                } else if token.count == 2 {
                    year = number >= 70 ? 1900 + number : 2000 + number
                }
            }
        }
        guard let day, let month, let year, let time else { return nil }
        let (hour, minute, second) = time
        guard (1...31).contains(day), (0...23).contains(hour), (0...59).contains(minute), (0...60).contains(second)
        else { return nil }
        return daysFromCivil(year: year, month: month, day: day) * 86_400 + hour * 3600 + minute * 60 + second
    }

    /// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
    static func daysFromCivil(year: Int64, month: Int64, day: Int64) -> Int64 {
        let shiftedYear = month <= 2 ? year - 1 : year
        let era = (shiftedYear >= 0 ? shiftedYear : shiftedYear - 399) / 400
        let yearOfEra = shiftedYear - era * 400
        let dayOfYear = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }
}
