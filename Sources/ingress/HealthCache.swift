import IPC
import ProcessRuntime
import Store
import Synchronization

/// The figures `/readyz` and `/metrics` report that cost a query or an IPC round trip, each a `RefreshedValue`: a
/// flood of health checks cannot pin the store or the supervisor.
final class HealthCache: Sendable {
    private let depth: RefreshedValue<InboxDepth>
    private let gatekeeperState: RefreshedValue<String>

    init(reader: Database, link: SupervisorLink) {
        depth = RefreshedValue { try? reader.inboxDepth() }
        gatekeeperState = RefreshedValue {
            try? await link.request(Status(), timeout: .seconds(2)).processes.first { $0.name == "gatekeeper" }?.state
                .rawValue
        }
    }

    func inboxDepth() async -> InboxDepth? { await depth.get() }

    /// The gatekeeper's state as the supervisor reports it.
    func gatekeeper() async -> String? { await gatekeeperState.get() }
}

/// A value fetched at most once per `interval` and by one caller at a time: a caller that finds it stale fetches it,
/// callers meanwhile get the last value. A failed fetch (nil) keeps the last value.
final class RefreshedValue<Value: Sendable>: Sendable {
    private let interval: Duration
    private let fetch: @Sendable () async -> Value?
    private let state = Mutex<(value: Value?, at: ContinuousClock.Instant?, fetching: Bool)>((nil, nil, false))

    init(interval: Duration = .seconds(1), fetch: @escaping @Sendable () async -> Value?) {
        self.interval = interval
        self.fetch = fetch
    }

    func get() async -> Value? {
        let (cached, mustFetch) = state.withLock { state -> (Value?, Bool) in
            let fresh = state.at.map { .now - $0 < interval } ?? false
            guard !fresh, !state.fetching else { return (state.value, false) }
            state.fetching = true
            return (state.value, true)
        }
        guard mustFetch else { return cached }
        let fetched = await fetch()
        state.withLock { state in
            state.fetching = false
            state.value = fetched ?? state.value
            state.at = .now
        }
        return fetched ?? cached
    }
}
