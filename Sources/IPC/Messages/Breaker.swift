import Foundation

/// The circuit breaker's position.
public enum BreakerState: String, Codable, Sendable {
    /// Work is claimed normally.
    case closed
    /// Claims are paused until `retry_at`.
    case open
    /// One probe job may run; its outcome closes or reopens the breaker.
    case halfOpen = "half_open"
}

/// The breaker as `bosun status` and the worker see it. Absent values encode as `null`.
public struct BreakerStatus: Codable, Sendable, Equatable {
    public var state: BreakerState
    /// Transient failures in a row so far.
    public var consecutiveTransients: Int
    /// How many in a row open the breaker.
    public var threshold: Int
    /// The pause the next (or current) opening lasts.
    public var pauseS: Int
    public var openedAt: Date?
    /// When an open breaker turns half-open.
    public var retryAt: Date?
    /// Times the breaker has opened since it was last reset.
    public var trips: Int
    /// Why it last opened.
    public var reason: String?

    public init(
        state: BreakerState, consecutiveTransients: Int, threshold: Int, pauseS: Int, openedAt: Date?, retryAt: Date?,
        trips: Int, reason: String?
    ) {
        self.state = state
        self.consecutiveTransients = consecutiveTransients
        self.threshold = threshold
        self.pauseS = pauseS
        self.openedAt = openedAt
        self.retryAt = retryAt
        self.trips = trips
        self.reason = reason
    }

    private enum CodingKeys: String, CodingKey {
        case state, consecutiveTransients, threshold, pauseS, openedAt, retryAt, trips, reason
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(state, forKey: .state)
        try container.encode(consecutiveTransients, forKey: .consecutiveTransients)
        try container.encode(threshold, forKey: .threshold)
        try container.encode(pauseS, forKey: .pauseS)
        try container.encode(openedAt, forKey: .openedAt)
        try container.encode(retryAt, forKey: .retryAt)
        try container.encode(trips, forKey: .trips)
        try container.encode(reason, forKey: .reason)
    }
}

/// Worker → supervisor: how a job attempt ended, as far as the breaker cares.
public struct BreakerReport: IPCEvent {
    public static let type = "breaker_report"

    /// The classes of outcome the breaker distinguishes.
    public enum Outcome: String, Codable, Sendable {
        /// The run worked: the service behind it is healthy.
        case success
        /// A rate limit, overload or usage limit: counts toward opening.
        case transient
        /// A failure of the code or the agent, not of the service: resets the count without opening.
        case failure
    }

    public var outcome: Outcome
    public var reason: String
    /// A `Retry-After` the service gave, if any; an opening pauses at least this long.
    public var retryAfterS: Int?

    public init(outcome: Outcome, reason: String, retryAfterS: Int? = nil) {
        self.outcome = outcome
        self.reason = reason
        self.retryAfterS = retryAfterS
    }
}

/// Supervisor → worker: the breaker moved. Also sent to every worker that becomes ready.
public struct BreakerChanged: IPCEvent {
    public static let type = "breaker_changed"
    public var breaker: BreakerStatus
    public init(breaker: BreakerStatus) { self.breaker = breaker }
}

/// CLI → supervisor: show the breaker, or reset it to closed.
public struct BreakerCommand: IPCRequest {
    public static let type = "breaker"
    public typealias Reply = BreakerStatus
    public var reset: Bool
    public init(reset: Bool) { self.reset = reset }
}
