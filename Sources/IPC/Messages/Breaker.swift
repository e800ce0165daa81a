import Foundation

/// The circuit breaker's position.
public enum BreakerState: String, Codable, Sendable, CaseIterable {
    /// Work is claimed normally.
    case closed
    /// Claims are paused until `retry_at`.
    case open
    /// One probe job may run; its outcome closes or reopens the breaker.
    case halfOpen = "half_open"
}

/// How often the breaker moved into each state since the supervisor started.
public struct BreakerTransitions: Codable, Sendable, Equatable {
    public var opened: Int
    public var halfOpened: Int
    public var closed: Int

    public init(opened: Int = 0, halfOpened: Int = 0, closed: Int = 0) {
        self.opened = opened
        self.halfOpened = halfOpened
        self.closed = closed
    }
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
    /// Moves into each state since the supervisor started (counters for `/metrics`).
    public var transitions: BreakerTransitions

    public init(
        state: BreakerState, consecutiveTransients: Int, threshold: Int, pauseS: Int, openedAt: Date?, retryAt: Date?,
        trips: Int, reason: String?, transitions: BreakerTransitions = BreakerTransitions()
    ) {
        self.state = state
        self.consecutiveTransients = consecutiveTransients
        self.threshold = threshold
        self.pauseS = pauseS
        self.openedAt = openedAt
        self.retryAt = retryAt
        self.trips = trips
        self.reason = reason
        self.transitions = transitions
    }

    private enum CodingKeys: String, CodingKey {
        case state, consecutiveTransients, threshold, pauseS, openedAt, retryAt, trips, reason, transitions
    }

    /// `transitions` may be missing: a supervisor from before it existed still runs during a rolling upgrade of its
    /// children.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        state = try container.decode(BreakerState.self, forKey: .state)
        consecutiveTransients = try container.decode(Int.self, forKey: .consecutiveTransients)
        threshold = try container.decode(Int.self, forKey: .threshold)
        pauseS = try container.decode(Int.self, forKey: .pauseS)
        openedAt = try container.decodeIfPresent(Date.self, forKey: .openedAt)
        retryAt = try container.decodeIfPresent(Date.self, forKey: .retryAt)
        trips = try container.decode(Int.self, forKey: .trips)
        reason = try container.decodeIfPresent(String.self, forKey: .reason)
        transitions =
            try container.decodeIfPresent(BreakerTransitions.self, forKey: .transitions) ?? BreakerTransitions()
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
        try container.encode(transitions, forKey: .transitions)
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
