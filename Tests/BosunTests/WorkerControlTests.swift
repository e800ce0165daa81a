import Config
import Foundation
import IPC
import Logging
import ProcessRuntime
import Store
import Testing

@testable import BosunWorker

/// A new worker claims the moment it is ready, before the supervisor's `pause` and `breaker_changed` reach it; until
/// they do, it goes by the store (found by chaos/scenarios/rate_limit.py: a worker restarted while the breaker was open
/// started two agent runs in the pause).
@Suite("WorkerControl: the pause and the breaker before the supervisor reports them")
struct WorkerControlTests {
    let directory = TemporaryDirectory()

    func control() throws -> WorkerControl {
        let file = directory.file("bosun.yaml")
        let config = try ConfigLoader.parse(yaml: "state_dir: ./state\nlisten: 127.0.0.1:0\n", file: file)
        return WorkerControl(config: CurrentConfig(config, snapshot: file), logger: Logger(label: "test"))
    }

    func database() throws -> Database {
        let database = try Database(path: directory.file("bosun.db"))
        try database.migrate()
        return database
    }

    @Test("an open breaker and an operator's pause in the store hold until the supervisor says otherwise")
    func restoredFromStore() async throws {
        let database = try database()
        try database.saveBreaker(
            BreakerRecord(
                state: "open", consecutiveTransients: 3, pauseSeconds: 60, openedAtMs: 1, retryAtMs: 60_001, trips: 1,
                reason: "rate limit"))
        try database.setOperatorFlag("paused", to: "true")
        let control = try control()
        #expect(control.breakerState == nil && !control.isPaused)
        try control.restore(from: database)
        #expect(control.breakerState == .open && control.isPaused)

        await control.breakerChanged(
            BreakerStatus(
                state: .halfOpen, consecutiveTransients: 0, threshold: 3, pauseS: 60, openedAt: nil, retryAt: nil,
                trips: 1, reason: nil))
        _ = try await control.resume()
        #expect(control.breakerState == .halfOpen && !control.isPaused)
        // A late read of the store does not undo what the supervisor said.
        try control.restore(from: database)
        #expect(control.breakerState == .halfOpen && !control.isPaused)
    }

    @Test("a store without a breaker row or a pause leaves claims open")
    func emptyStore() throws {
        let control = try control()
        try control.restore(from: try database())
        #expect(control.breakerState == nil && !control.isPaused)
    }
}
