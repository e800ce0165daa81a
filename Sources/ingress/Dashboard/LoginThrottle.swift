/// Limits failed dashboard logins per client address: after `maxFailures` failures within `windowMs` of the first,
/// that address is refused until the window has passed. A success clears its count. The table is bounded: when it
/// is full, expired entries go first, then the oldest. Pure: time is an input.
struct LoginThrottle: Sendable {
    var maxFailures = 5
    var windowMs: Int64 = 60_000
    var capacity = 4096

    private var failures: [String: (count: Int, firstAtMs: Int64)] = [:]

    /// How long `peer` must wait before trying again, in whole seconds; nil if it may try now.
    func retryAfterSeconds(peer: String, nowMs: Int64) -> Int64? {
        guard let entry = failures[peer], nowMs - entry.firstAtMs < windowMs, entry.count >= maxFailures else {
            return nil
        }
        return max(1, (entry.firstAtMs + windowMs - nowMs + 999) / 1000)
    }

    mutating func recordFailure(peer: String, nowMs: Int64) {
        if let entry = failures[peer], nowMs - entry.firstAtMs < windowMs {
            failures[peer] = (entry.count + 1, entry.firstAtMs)
            return
        }
        if failures[peer] == nil && failures.count >= capacity { makeRoom(nowMs: nowMs) }
        failures[peer] = (1, nowMs)
    }

    mutating func recordSuccess(peer: String) {
        failures[peer] = nil
    }

    /// How many addresses are tracked.
    var trackedPeers: Int { failures.count }

    private mutating func makeRoom(nowMs: Int64) {
        failures = failures.filter { nowMs - $0.value.firstAtMs < windowMs }
        if failures.count >= capacity, let oldest = failures.min(by: { $0.value.firstAtMs < $1.value.firstAtMs }) {
            failures[oldest.key] = nil
        }
    }
}
