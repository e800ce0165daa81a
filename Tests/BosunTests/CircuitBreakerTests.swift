import Config
import Foundation
import IPC
import Store
import Testing

@testable import BosunSupervisor

@Suite("Circuit breaker")
struct CircuitBreakerTests {
    let now = Date(timeIntervalSince1970: 1_800_000_000)

    func breaker(threshold: Int = 3, pause: Int = 300, maxPause: Int = 3600) -> CircuitBreaker {
        var config = BreakerConfig()
        config.threshold = threshold
        config.pauseSeconds = pause
        config.maxPauseSeconds = maxPause
        return CircuitBreaker(config: config)
    }

    let transient = BreakerReport(outcome: .transient, reason: "429 Too Many Requests")
    let success = BreakerReport(outcome: .success, reason: "ok")
    let failure = BreakerReport(outcome: .failure, reason: "tests failed")

    @Test("opens after threshold transient failures in a row, for the pause")
    func opensAtThreshold() {
        var breaker = breaker()
        #expect(breaker.record(transient, at: now) == nil)
        #expect(breaker.record(transient, at: now) == nil)
        #expect(breaker.record(transient, at: now) == .opened(until: now.addingTimeInterval(300)))
        #expect(breaker.state == .open)
        #expect(breaker.trips == 1)
        #expect(breaker.reason == "429 Too Many Requests")
    }

    @Test("a success or a code failure in between resets the count")
    func nonTransientResets() {
        var breaker = breaker()
        _ = breaker.record(transient, at: now)
        _ = breaker.record(transient, at: now)
        _ = breaker.record(failure, at: now)
        _ = breaker.record(transient, at: now)
        _ = breaker.record(transient, at: now)
        #expect(breaker.state == .closed)
        _ = breaker.record(success, at: now)
        #expect(breaker.consecutiveTransients == 0)
    }

    @Test("Retry-After longer than the pause wins")
    func retryAfterExtendsPause() {
        var breaker = breaker(threshold: 1, pause: 60)
        let report = BreakerReport(outcome: .transient, reason: "529", retryAfterS: 900)
        #expect(breaker.record(report, at: now) == .opened(until: now.addingTimeInterval(900)))
    }

    @Test("open → half-open when the pause is over; reports while open change nothing")
    func halfOpensAfterPause() {
        var breaker = breaker(threshold: 1, pause: 10)
        _ = breaker.record(transient, at: now)
        #expect(breaker.record(success, at: now.addingTimeInterval(1)) == nil)
        #expect(breaker.state == .open)
        #expect(breaker.tick(at: now.addingTimeInterval(9)) == nil)
        #expect(breaker.tick(at: now.addingTimeInterval(10)) == .halfOpened)
        #expect(breaker.state == .halfOpen)
    }

    @Test("half-open: success closes; transient reopens with the pause doubled up to the maximum")
    func halfOpenOutcomes() {
        var breaker = breaker(threshold: 1, pause: 100, maxPause: 250)
        _ = breaker.record(transient, at: now)
        _ = breaker.tick(at: now.addingTimeInterval(100))
        #expect(
            breaker.record(transient, at: now.addingTimeInterval(100)) == .opened(until: now.addingTimeInterval(300)))
        _ = breaker.tick(at: now.addingTimeInterval(300))
        #expect(
            breaker.record(transient, at: now.addingTimeInterval(300)) == .opened(until: now.addingTimeInterval(550)))
        _ = breaker.tick(at: now.addingTimeInterval(550))
        #expect(breaker.record(success, at: now.addingTimeInterval(551)) == .closed)
        #expect(breaker.state == .closed)
        #expect(breaker.pauseSeconds == 100)
        #expect(breaker.trips == 3)
    }

    @Test("reset closes and clears the trips; resetting a closed breaker is no transition")
    func reset() {
        var breaker = breaker(threshold: 1)
        _ = breaker.record(transient, at: now)
        #expect(breaker.reset() == .closed)
        #expect(breaker.trips == 0)
        #expect(breaker.reset() == nil)
    }

    @Test("survives a round trip through the store")
    func storedRoundTrip() throws {
        let directory = TemporaryDirectory()
        let database = try Database(path: directory.file("bosun.db"))
        try database.migrate()
        var breaker = breaker(threshold: 1, pause: 60)
        _ = breaker.record(transient, at: now)
        try database.saveBreaker(breaker.record)
        let restored = CircuitBreaker(config: breaker.config, record: try #require(try database.loadBreaker()))
        #expect(restored.record == breaker.record)
        // The transition counters count since the supervisor started; they are not stored.
        #expect(breaker.transitions == BreakerTransitions(opened: 1))
        #expect(restored.transitions == BreakerTransitions())
    }
}
