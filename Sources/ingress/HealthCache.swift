import Dispatch
import IPC
import ProcessRuntime
import Store
import Synchronization

/// The figures `/readyz` and `/metrics` report that cost a query or an IPC round trip, each a `RefreshedValue`: a
/// flood of health checks or scrapes cannot pin the store or the supervisor.
final class HealthCache: Sendable {
    private let depth: RefreshedValue<InboxDepth>
    private let status: RefreshedValue<StatusReport>
    private let figures: RefreshedValue<StoreFigures>

    init(reader: Database, inboxReader: Database, link: SupervisorLink) {
        depth = RefreshedValue { try? inboxReader.inboxDepth(appliedIn: reader) }
        status = RefreshedValue { try? await link.request(Status(), timeout: .seconds(2)) }
        // Counting runs scans their table: off the concurrency pool, and at most every two seconds.
        figures = RefreshedValue(interval: .seconds(2)) {
            await Self.onBlockingThread {
                try? StoreFigures.read(from: reader, inbox: inboxReader, nowMs: Clock.nowMilliseconds)
            }
        }
    }

    func inboxDepth() async -> InboxDepth? { await depth.get() }

    /// The gatekeeper's state as the supervisor reports it.
    func gatekeeper() async -> String? {
        await status.get()?.processes.first { $0.name == "gatekeeper" }?.state.rawValue
    }

    /// The supervisor's status: processes, restarts, the breaker. Nil while the supervisor does not answer.
    func supervisorStatus() async -> StatusReport? { await status.get() }

    /// The queue, runs, outbox and forge figures from the store. Nil while the store cannot be read.
    func storeFigures() async -> StoreFigures? { await figures.get() }

    private static func onBlockingThread<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { continuation in
            DispatchQueue.global().async { continuation.resume(returning: body()) }
        }
    }
}

/// What `/metrics` reads from the store, in one read transaction: one consistent snapshot.
struct StoreFigures: Sendable {
    /// Upper bounds of the run duration buckets, in seconds: gates take seconds, agents minutes.
    static let runDurationBuckets: [Double] = [1, 5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200]

    var work: WorkFigures
    var runs: RunFigures
    var forge: [ForgeAPIStats]
    /// When they were read, for ages and lags.
    var readAtMs: Int64

    static func read(from database: Database, inbox: Database, nowMs: Int64) throws -> StoreFigures {
        let depth = try inbox.inboxDepth(appliedIn: database)
        return try database.read { transaction in
            StoreFigures(
                work: try transaction.workFigures(nowMs: nowMs, inbox: depth),
                runs: try transaction.runFigures(boundsMs: runDurationBuckets.map { Int64($0 * 1000) }),
                forge: try transaction.forgeAPIStats(), readAtMs: nowMs)
        }
    }
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
