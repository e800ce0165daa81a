/// The status classes forge API calls are counted in: the response's class, or `error` when no response came (a
/// timeout, a refused connection, TLS trouble).
public enum ForgeCallClass: String, Sendable, CaseIterable, Codable {
    case success = "2xx"
    case redirect = "3xx"
    case clientError = "4xx"
    case serverError = "5xx"
    case error

    /// The class of an HTTP status; nil for a status outside 200…599 (which a final response never has).
    public init?(status: Int) {
        switch status {
        case 200..<300: self = .success
        case 300..<400: self = .redirect
        case 400..<500: self = .clientError
        case 500..<600: self = .serverError
        default: return nil
        }
    }

    /// The column that counts this class in `forge_api_stats`.
    var column: String {
        switch self {
        case .success: "calls_2xx"
        case .redirect: "calls_3xx"
        case .clientError: "calls_4xx"
        case .serverError: "calls_5xx"
        case .error: "calls_error"
        }
    }
}

/// A forge's rate limit as one response announced it.
public struct ForgeRateLimit: Sendable, Equatable, Codable {
    /// Calls left in the current window.
    public var remaining: Int
    /// Calls allowed per window, when the forge says.
    public var limit: Int?
    /// When the window resets, in Unix milliseconds, when the forge says.
    public var resetAtMs: Int64?
    /// When the response that carried it arrived.
    public var seenAtMs: Int64

    public init(remaining: Int, limit: Int?, resetAtMs: Int64?, seenAtMs: Int64) {
        self.remaining = remaining
        self.limit = limit
        self.resetAtMs = resetAtMs
        self.seenAtMs = seenAtMs
    }
}

/// The forge API calls of one host (and forge kind), either a delta to add or the stored totals.
public struct ForgeAPIStats: Sendable, Equatable {
    public var host: String
    /// `github`, `gitea`, `gitlab`, `plane`.
    public var forge: String
    /// Calls by status class; a class with no calls may be absent.
    public var calls: [ForgeCallClass: Int]
    /// The last rate limit seen, if any response carried one.
    public var rateLimit: ForgeRateLimit?

    public init(host: String, forge: String, calls: [ForgeCallClass: Int] = [:], rateLimit: ForgeRateLimit? = nil) {
        self.host = host
        self.forge = forge
        self.calls = calls
        self.rateLimit = rateLimit
    }
}

extension Transaction {
    /// Adds `delta`'s calls to the host's totals and, when it carries a rate limit newer than the stored one,
    /// replaces that.
    public func addForgeAPIStats(_ delta: ForgeAPIStats, nowMs: Int64) throws(StoreError) {
        let calls: [SQLValue] = ForgeCallClass.allCases.map { SQLValue.integer(delta.calls[$0] ?? 0) }
        _ = try execute(
            """
            INSERT INTO forge_api_stats (host, forge, calls_2xx, calls_3xx, calls_4xx, calls_5xx, calls_error,
                                         updated_at_ms)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT (host, forge) DO UPDATE SET
                calls_2xx = forge_api_stats.calls_2xx + excluded.calls_2xx,
                calls_3xx = forge_api_stats.calls_3xx + excluded.calls_3xx,
                calls_4xx = forge_api_stats.calls_4xx + excluded.calls_4xx,
                calls_5xx = forge_api_stats.calls_5xx + excluded.calls_5xx,
                calls_error = forge_api_stats.calls_error + excluded.calls_error,
                updated_at_ms = excluded.updated_at_ms
            """, bindings: [.text(delta.host), .text(delta.forge)] + calls + [.integer(nowMs)])
        guard let limit = delta.rateLimit else { return }
        _ = try execute(
            """
            UPDATE forge_api_stats
            SET rate_limit_remaining = ?, rate_limit_limit = ?, rate_limit_reset_at_ms = ?, rate_limit_seen_at_ms = ?
            WHERE host = ? AND forge = ? AND COALESCE(rate_limit_seen_at_ms, 0) <= ?
            """, .integer(limit.remaining), .integer(limit.limit), .integer(limit.resetAtMs), .integer(limit.seenAtMs),
            .text(delta.host), .text(delta.forge), .integer(limit.seenAtMs))
    }

    /// Every host's totals, by host and forge.
    public func forgeAPIStats() throws(StoreError) -> [ForgeAPIStats] {
        try query("SELECT * FROM forge_api_stats ORDER BY host, forge").map { row throws(StoreError) -> ForgeAPIStats in
            var calls: [ForgeCallClass: Int] = [:]
            for callClass in ForgeCallClass.allCases {
                calls[callClass] = try row.int(callClass.column) ?? 0
            }
            var rateLimit: ForgeRateLimit?
            if let remaining = try row.int("rate_limit_remaining"), let seen = try row.int64("rate_limit_seen_at_ms") {
                rateLimit = ForgeRateLimit(
                    remaining: remaining, limit: try row.int("rate_limit_limit"),
                    resetAtMs: try row.int64("rate_limit_reset_at_ms"), seenAtMs: seen)
            }
            return ForgeAPIStats(
                host: try row.required("host", row.string), forge: try row.required("forge", row.string),
                calls: calls, rateLimit: rateLimit)
        }
    }
}
