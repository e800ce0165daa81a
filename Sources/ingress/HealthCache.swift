import IPC
import ProcessRuntime
import Store
import Synchronization

/// The figures `/readyz` and `/metrics` report that cost a query or an IPC round trip: fetched at most once a second
/// and by one request at a time, whatever the scrape rate; a request that finds a fetch under way gets the last
/// figures. A flood of health checks cannot pin the store or the supervisor.
final class HealthCache: Sendable {
    private let reader: Database
    private let link: SupervisorLink
    private let state = Mutex(State())

    private struct State {
        var depth: InboxDepth?
        var depthAt: ContinuousClock.Instant?
        var fetchingDepth = false
        var gatekeeper: String?
        var gatekeeperAt: ContinuousClock.Instant?
        var fetchingGatekeeper = false
    }

    init(reader: Database, link: SupervisorLink) {
        self.reader = reader
        self.link = link
    }

    func inboxDepth() async -> InboxDepth? {
        let (cached, fetch) = state.withLock { state -> (InboxDepth?, Bool) in
            let fresh = state.depthAt.map { .now - $0 < .seconds(1) } ?? false
            guard !fresh, !state.fetchingDepth else { return (state.depth, false) }
            state.fetchingDepth = true
            return (state.depth, true)
        }
        guard fetch else { return cached }
        let depth = try? reader.inboxDepth()
        state.withLock { state in
            state.fetchingDepth = false
            state.depth = depth ?? state.depth
            state.depthAt = .now
        }
        return depth ?? cached
    }

    /// The gatekeeper's state as the supervisor reports it.
    func gatekeeper() async -> String? {
        let (cached, fetch) = state.withLock { state -> (String?, Bool) in
            let fresh = state.gatekeeperAt.map { .now - $0 < .seconds(1) } ?? false
            guard !fresh, !state.fetchingGatekeeper else { return (state.gatekeeper, false) }
            state.fetchingGatekeeper = true
            return (state.gatekeeper, true)
        }
        guard fetch else { return cached }
        let fetched = try? await link.request(Status(), timeout: .seconds(2)).processes.first {
            $0.name == "gatekeeper"
        }?.state.rawValue
        state.withLock { state in
            state.fetchingGatekeeper = false
            state.gatekeeper = fetched ?? state.gatekeeper
            state.gatekeeperAt = .now
        }
        return fetched ?? cached
    }
}
