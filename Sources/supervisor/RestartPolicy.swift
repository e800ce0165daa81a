import Config

/// When to restart a crashed child, and when to stop trying. Pure: time is an input, decisions are the output.
///
/// Delays grow exponentially with crashes in a row (`base`, `2·base`, `4·base` … up to `max`); a child that stayed up
/// for a whole window starts over at `base`. More than `budget` restarts within `window` and the child is given up
/// on (`failed`) until an operator resets the policy with `bosun restart NAME`.
struct RestartPolicy: Sendable {
    /// What to do about one exit.
    enum Decision: Equatable, Sendable {
        case restart(after: Duration)
        case giveUp(reason: String)
    }

    var config: RestartConfig
    /// Restart times within the current window, oldest first.
    private(set) var recentRestarts: [ContinuousClock.Instant] = []
    /// Crashes since the child last ran for a full window.
    private(set) var crashesInARow = 0

    init(config: RestartConfig) {
        self.config = config
    }

    private var window: Duration { .seconds(config.windowSeconds) }

    /// Decides about a child that crashed at `now` after running for `uptime`.
    mutating func childCrashed(at now: ContinuousClock.Instant, uptime: Duration) -> Decision {
        if uptime >= window { crashesInARow = 0 }
        let window = self.window
        recentRestarts.removeAll { now - $0 >= window }
        guard recentRestarts.count < config.budget else {
            return .giveUp(
                reason:
                    "restarted \(recentRestarts.count) times within \(config.windowSeconds)s (budget \(config.budget))")
        }
        let exponent = min(crashesInARow, 30)
        let delay = min(config.baseMilliseconds << exponent, config.maxMilliseconds)
        crashesInARow += 1
        recentRestarts.append(now)
        return .restart(after: .milliseconds(delay))
    }

    /// Forgets all history: the operator restarted the child by hand.
    mutating func reset() {
        recentRestarts = []
        crashesInARow = 0
    }
}
