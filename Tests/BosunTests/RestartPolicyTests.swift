import Config
import Testing

@testable import BosunSupervisor

@Suite("Restart policy")
struct RestartPolicyTests {
    let start = ContinuousClock.now

    func policy(base: Int = 100, max: Int = 1000, budget: Int = 5, window: Int = 60) -> RestartPolicy {
        var config = RestartConfig()
        config.baseMilliseconds = base
        config.maxMilliseconds = max
        config.budget = budget
        config.windowSeconds = window
        return RestartPolicy(config: config)
    }

    @Test("delays double with each crash in a row and stop at max")
    func delaysGrow() {
        var policy = policy(budget: 100)
        let delays = (0..<6).map { index in
            policy.childCrashed(at: start + .seconds(index), uptime: .milliseconds(10))
        }
        #expect(
            delays == [100, 200, 400, 800, 1000, 1000].map { RestartPolicy.Decision.restart(after: .milliseconds($0)) })
    }

    @Test("more than budget restarts within the window gives up")
    func budgetRunsOut() {
        var policy = policy(budget: 3, window: 60)
        for index in 0..<3 {
            guard case .restart = policy.childCrashed(at: start + .seconds(index), uptime: .zero) else {
                Issue.record("crash \(index) should restart")
                return
            }
        }
        guard case .giveUp(let reason) = policy.childCrashed(at: start + .seconds(4), uptime: .zero) else {
            Issue.record("the fourth crash within the window should give up")
            return
        }
        #expect(reason.contains("3 times within 60s"))
    }

    @Test("restarts older than the window no longer count")
    func windowSlides() {
        var policy = policy(budget: 2, window: 10)
        _ = policy.childCrashed(at: start, uptime: .zero)
        _ = policy.childCrashed(at: start + .seconds(1), uptime: .zero)
        #expect(policy.childCrashed(at: start + .seconds(2), uptime: .zero).isGiveUp)
        #expect(!policy.childCrashed(at: start + .seconds(12), uptime: .zero).isGiveUp)
    }

    @Test("a child that ran a whole window starts over at the base delay")
    func stableRunResets() {
        var policy = policy(budget: 100, window: 30)
        _ = policy.childCrashed(at: start, uptime: .zero)
        _ = policy.childCrashed(at: start + .seconds(1), uptime: .zero)
        #expect(
            policy.childCrashed(at: start + .seconds(100), uptime: .seconds(99)) == .restart(after: .milliseconds(100)))
    }

    @Test("reset clears the budget and the delay")
    func resetClears() {
        var policy = policy(budget: 1)
        _ = policy.childCrashed(at: start, uptime: .zero)
        #expect(policy.childCrashed(at: start, uptime: .zero).isGiveUp)
        policy.reset()
        #expect(policy.childCrashed(at: start, uptime: .zero) == .restart(after: .milliseconds(100)))
    }
}

extension RestartPolicy.Decision {
    var isGiveUp: Bool {
        if case .giveUp = self { return true }
        return false
    }
}
