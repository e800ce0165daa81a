import Outbound
import Store
import Synchronization

/// Counts forge API calls per host between two outbox passes. The sender takes the counts out and adds them to
/// `forge_api_stats` in the transaction that records the pass, so ingress can serve them at `/metrics` without
/// another message between the processes (see docs/OBSERVABILITY.md).
final class ForgeAPITally: Sendable {
    private struct Key: Hashable {
        var host: String
        var forge: String
    }

    private let pending = Mutex<[Key: ForgeAPIStats]>([:])

    /// Counts one call; a `ForgeCallObserver`.
    func record(_ call: ForgeCall) {
        let key = Key(host: call.host, forge: call.forge.rawValue)
        let callClass = call.status.map { ForgeCallClass(status: $0) ?? .error } ?? .error
        pending.withLock { pending in
            var stats = pending[key] ?? ForgeAPIStats(host: key.host, forge: key.forge)
            stats.calls[callClass, default: 0] += 1
            if let limit = call.rateLimit {
                stats.rateLimit = ForgeRateLimit(
                    remaining: limit.remaining, limit: limit.limit, resetAtMs: limit.resetAtMilliseconds,
                    seenAtMs: call.atMilliseconds)
            }
            pending[key] = stats
        }
    }

    /// Takes out everything counted so far.
    func drain() -> [ForgeAPIStats] {
        pending.withLock { pending in
            defer { pending = [:] }
            return Array(pending.values)
        }
    }

    /// Puts back counts that could not be stored, merging them with what was counted meanwhile.
    func restore(_ drained: [ForgeAPIStats]) {
        pending.withLock { pending in
            for stats in drained {
                let key = Key(host: stats.host, forge: stats.forge)
                var merged = pending[key] ?? ForgeAPIStats(host: stats.host, forge: stats.forge)
                merged.calls.merge(stats.calls, uniquingKeysWith: +)
                if merged.rateLimit == nil || (stats.rateLimit?.seenAtMs ?? 0) > merged.rateLimit!.seenAtMs {
                    merged.rateLimit = stats.rateLimit ?? merged.rateLimit
                }
                pending[key] = merged
            }
        }
    }
}
