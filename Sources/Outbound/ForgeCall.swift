/// One request to a forge's API as the client saw it: where it went, what came back, and the rate limit the response
/// announced. `ForgeClient` hands one to its observer after every exchange, so the caller can count calls.
public struct ForgeCall: Sendable, Equatable {
    /// The API's host (and port).
    public var host: String
    public var forge: ForgeTarget.Kind
    /// The response's status; nil when none came (timeout, network or TLS trouble).
    public var status: Int?
    /// The rate limit the response announced, if it did.
    public var rateLimit: RateLimitStatus?
    /// When the exchange ended, in Unix milliseconds.
    public var atMilliseconds: Int64

    public init(
        host: String, forge: ForgeTarget.Kind, status: Int?, rateLimit: RateLimitStatus?, atMilliseconds: Int64
    ) {
        self.host = host
        self.forge = forge
        self.status = status
        self.rateLimit = rateLimit
        self.atMilliseconds = atMilliseconds
    }
}

/// Receives every `ForgeCall`; called on the thread that made the call.
public typealias ForgeCallObserver = @Sendable (ForgeCall) -> Void

/// A rate limit as response headers announce it (`X-RateLimit-*` on GitHub, Gitea and Plane, `RateLimit-*` on
/// GitLab).
public struct RateLimitStatus: Sendable, Equatable {
    /// Calls left in the current window.
    public var remaining: Int
    /// Calls allowed per window, when given.
    public var limit: Int?
    /// When the window resets, in Unix milliseconds, when given.
    public var resetAtMilliseconds: Int64?

    public init(remaining: Int, limit: Int?, resetAtMilliseconds: Int64?) {
        self.remaining = remaining
        self.limit = limit
        self.resetAtMilliseconds = resetAtMilliseconds
    }

    /// Reads the rate limit from response headers (names lowercased); nil without a readable remaining count.
    /// The reset is Unix epoch seconds or, when the number is small, seconds from now (as `ResponseClassifier`
    /// reads it).
    public static func parse(headers: [String: String], nowMilliseconds: Int64) -> RateLimitStatus? {
        func header(_ name: String) -> String? {
            headers["x-ratelimit-\(name)"] ?? headers["ratelimit-\(name)"]
        }
        guard let remaining = header("remaining").flatMap(count) else { return nil }
        let reset = header("reset").flatMap {
            ResponseClassifier.rateLimitResetMilliseconds($0, nowMilliseconds: nowMilliseconds)
        }
        return RateLimitStatus(
            remaining: remaining, limit: header("limit").flatMap(count),
            resetAtMilliseconds: reset.map { nowMilliseconds + $0 })
    }

    /// A non-negative decimal count of at most 12 digits.
    private static func count(_ text: String) -> Int? {
        let trimmed = text.trimmingSpaces()
        guard !trimmed.isEmpty, trimmed.count <= 12,
            trimmed.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") })
        else { return nil }
        return Int(trimmed)
    }
}
