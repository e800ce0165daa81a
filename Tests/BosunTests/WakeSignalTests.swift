import Testing

@testable import ProcessRuntime

@Suite("WakeSignal")
struct WakeSignalTests {
    @Test("finish ends every wait at once, however many wait on a channel")
    func finishAll() async {
        let signal = WakeSignal()
        let started = ContinuousClock.now
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<3 { group.addTask { await signal.wait(upTo: .seconds(60)) } }
            group.addTask { await signal.wait(upTo: .seconds(60), channel: .outbox) }
            while signal.waiting < 4 { try? await Task.sleep(for: .milliseconds(5)) }
            signal.finish()
        }
        #expect(ContinuousClock.now - started < .seconds(30))
    }

    @Test("a wake reaches every waiter of its channel and only those; an early wake is kept for the next wait")
    func wakeChannel() async {
        let signal = WakeSignal()
        signal.wake(.outbox)
        let started = ContinuousClock.now
        await signal.wait(upTo: .seconds(60), channel: .outbox)
        #expect(ContinuousClock.now - started < .seconds(30))
        await withTaskGroup(of: Bool.self) { group in
            for _ in 0..<2 {
                group.addTask {
                    let begin = ContinuousClock.now
                    await signal.wait(upTo: .seconds(60))
                    return ContinuousClock.now - begin < .seconds(30)
                }
            }
            group.addTask {
                let begin = ContinuousClock.now
                await signal.wait(upTo: .seconds(2), channel: .outbox)
                return ContinuousClock.now - begin >= .milliseconds(1900)
            }
            while signal.waiting < 3 { try? await Task.sleep(for: .milliseconds(5)) }
            signal.wake()
            for await fine in group { #expect(fine) }
        }
    }
}
