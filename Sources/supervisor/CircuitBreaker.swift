import Config
import Foundation
import IPC
import Store

/// The circuit breaker for rate limits and overload. Pure: outcomes and time go in, transitions come out.
///
/// `closed`: work is claimed; `threshold` transient failures in a row open it. `open`: claims pause until `retryAt`
/// (the pause, at least any `Retry-After` the service gave). Then `halfOpen`: one probe; success (or a non-transient
/// failure, which shows the service answers) closes it, another transient reopens it with the pause doubled, up to
/// `maxPauseSeconds`.
struct CircuitBreaker: Sendable, Equatable {
    /// A change worth announcing.
    enum Transition: Equatable, Sendable {
        case opened(until: Date)
        case halfOpened
        case closed
    }

    var config: BreakerConfig
    private(set) var state = BreakerState.closed
    private(set) var consecutiveTransients = 0
    /// The pause of the next opening.
    private(set) var pauseSeconds: Int
    private(set) var openedAt: Date?
    private(set) var retryAt: Date?
    private(set) var trips = 0
    private(set) var reason: String?
    /// Moves into each state since this value was made (the supervisor's start); never reset.
    private(set) var transitions = BreakerTransitions()

    init(config: BreakerConfig) {
        self.config = config
        self.pauseSeconds = config.pauseSeconds
    }

    /// Takes in one run's outcome.
    mutating func record(_ report: BreakerReport, at now: Date) -> Transition? {
        switch (state, report.outcome) {
        case (.closed, .transient):
            consecutiveTransients += 1
            guard consecutiveTransients >= config.threshold else { return nil }
            return open(at: now, reason: report.reason, retryAfter: report.retryAfterS)
        case (.closed, .success), (.closed, .failure):
            consecutiveTransients = 0
            return nil
        case (.open, _):
            // Runs that started before the opening still report; they change nothing.
            return nil
        case (.halfOpen, .transient):
            pauseSeconds = min(pauseSeconds * 2, config.maxPauseSeconds)
            return open(at: now, reason: report.reason, retryAfter: report.retryAfterS)
        case (.halfOpen, .success), (.halfOpen, .failure):
            return close()
        }
    }

    /// Moves an open breaker whose pause is over to half-open.
    mutating func tick(at now: Date) -> Transition? {
        guard state == .open, let retryAt, now >= retryAt else { return nil }
        state = .halfOpen
        transitions.halfOpened += 1
        return .halfOpened
    }

    /// Closes the breaker and forgets its history (`bosun breaker --reset`).
    mutating func reset() -> Transition? {
        let wasClosed = state == .closed
        trips = 0
        let transition = close()
        return wasClosed ? nil : transition
    }

    private mutating func open(at now: Date, reason: String, retryAfter: Int?) -> Transition {
        let pause = max(pauseSeconds, retryAfter ?? 0)
        state = .open
        transitions.opened += 1
        openedAt = now
        retryAt = now.addingTimeInterval(TimeInterval(pause))
        trips += 1
        self.reason = reason
        return .opened(until: retryAt!)
    }

    private mutating func close() -> Transition {
        if state != .closed { transitions.closed += 1 }
        state = .closed
        consecutiveTransients = 0
        pauseSeconds = config.pauseSeconds
        openedAt = nil
        retryAt = nil
        return .closed
    }

    /// The breaker as the IPC messages show it.
    var status: BreakerStatus {
        BreakerStatus(
            state: state, consecutiveTransients: consecutiveTransients, threshold: config.threshold,
            pauseS: pauseSeconds, openedAt: openedAt, retryAt: retryAt, trips: trips, reason: reason,
            transitions: transitions)
    }
}

extension CircuitBreaker {
    /// Restores a stored breaker; an unreadable state reads as closed.
    init(config: BreakerConfig, record: BreakerRecord) {
        self.init(config: config)
        state = BreakerState(rawValue: record.state) ?? .closed
        consecutiveTransients = record.consecutiveTransients
        pauseSeconds = min(max(record.pauseSeconds, config.pauseSeconds), config.maxPauseSeconds)
        openedAt = record.openedAtMs.map { Date(timeIntervalSince1970: Double($0) / 1000) }
        retryAt = record.retryAtMs.map { Date(timeIntervalSince1970: Double($0) / 1000) }
        trips = record.trips
        reason = record.reason
        if state == .open && retryAt == nil { state = .halfOpen }
    }

    /// The breaker as stored.
    var record: BreakerRecord {
        BreakerRecord(
            state: state.rawValue, consecutiveTransients: consecutiveTransients, pauseSeconds: pauseSeconds,
            openedAtMs: openedAt.map { Int64($0.timeIntervalSince1970 * 1000) },
            retryAtMs: retryAt.map { Int64($0.timeIntervalSince1970 * 1000) }, trips: trips, reason: reason)
    }
}
