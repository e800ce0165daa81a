import Synchronization

/// The request bodies held in memory at once, all connections together. A request reserves its size before its
/// body is read and releases it when it is answered; past the limit it is refused before it costs anything.
final class BodyBudget: Sendable {
    private let limit: Int
    private let used = Atomic<Int>(0)

    init(limit: Int) {
        self.limit = limit
    }

    /// Reserves `bytes`; false if that would pass the limit.
    func reserve(_ bytes: Int) -> Bool {
        var current = used.load(ordering: .relaxed)
        while true {
            guard current + bytes <= limit else { return false }
            let (exchanged, original) = used.compareExchange(
                expected: current, desired: current + bytes, ordering: .acquiringAndReleasing)
            if exchanged { return true }
            current = original
        }
    }

    func release(_ bytes: Int) {
        used.subtract(bytes, ordering: .relaxed)
    }

    /// Bytes reserved now.
    var inUse: Int { used.load(ordering: .relaxed) }
}
