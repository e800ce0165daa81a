import Workflow

/// A circuit breaker for one forge host, pure: after `threshold` consecutive transient failures it opens for a
/// cool-down, so a wedged or rate-limiting host is not hammered by every outbox row. Each time it opens again
/// without a success in between, the cool-down doubles up to the backoff's maximum. When the cool-down has passed
/// calls are allowed again (half-open); the next failure reopens it at once, the next success closes it.
public struct HostBreaker: Sendable, Equatable {
    /// Where the breaker stands at a given time.
    public enum State: Sendable, Equatable {
        /// Calls flow.
        case closed
        /// Calls wait until the given Unix millisecond.
        case open(untilMilliseconds: Int64)
        /// The cool-down has passed; the next result decides.
        case halfOpen
    }

    /// Consecutive failures that open the breaker.
    public let threshold: Int
    /// Cool-downs: the first opening waits `ceiling(afterFailures: 1)` (the base), later ones longer.
    public let coolDown: Backoff
    /// Transient failures since the last success.
    public private(set) var consecutiveFailures = 0
    /// Openings since the last success.
    public private(set) var openings = 0
    /// When the current cool-down ends, if the breaker has opened.
    public private(set) var openUntilMilliseconds: Int64?

    /// A closed breaker.
    public init(threshold: Int = 5, coolDown: Backoff = Backoff(baseMilliseconds: 30_000, maxMilliseconds: 600_000)) {
        self.threshold = max(1, threshold)
        self.coolDown = coolDown
    }

    /// Whether a call may go to the host now.
    public func allow(now: Int64) -> Bool {
        guard let until = openUntilMilliseconds else { return true }
        return now >= until
    }

    /// The state at `now`.
    public func state(now: Int64) -> State {
        guard let until = openUntilMilliseconds else { return .closed }
        return now < until ? .open(untilMilliseconds: until) : .halfOpen
    }

    /// Records a call's outcome: `success` is false for a transient failure (`AttemptResult.isHostFailure`).
    public mutating func record(success: Bool, now: Int64) {
        if success {
            consecutiveFailures = 0
            openings = 0
            openUntilMilliseconds = nil
            return
        }
        consecutiveFailures += 1
        guard consecutiveFailures >= threshold else { return }
        openings += 1
        openUntilMilliseconds = now + coolDown.ceiling(afterFailures: openings)
    }

    /// Records an attempt's result.
    public mutating func record(_ result: AttemptResult, now: Int64) {
        record(success: !result.isHostFailure, now: now)
    }
}
