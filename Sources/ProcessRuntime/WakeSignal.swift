import Synchronization

/// Wake-up calls between a process's loops: `wake` makes the current waits on its channel return at once, and the
/// next one too (a loop may wake once more than needed, never less); several wakes before a wait count as one. Waits also end after their timeout (the
/// safety poll) and once `finish` was called. Two channels, so that one process can run two loops (the gatekeeper's
/// processing and its outbox); any number of tasks may wait on a channel.
public final class WakeSignal: Sendable {
    public enum Channel: Int, Sendable {
        case main
        case outbox
    }

    private struct Waiter {
        var channel: Int
        var continuation: CheckedContinuation<Void, Never>
    }

    private struct State {
        var pending: Set<Int> = []
        var waiters: [UInt64: Waiter] = [:]
        var nextID: UInt64 = 0
        var finished = false
    }

    private let state = Mutex(State())

    public init() {}

    /// How many waits are parked now (for tests that must not wake before everyone waits).
    var waiting: Int { state.withLock { $0.waiters.count } }

    /// True once `finish` was called.
    public var isFinished: Bool { state.withLock { $0.finished } }

    public func wake(_ channel: Channel = .main) {
        let woken = state.withLock { state -> [Waiter] in
            let ids = state.waiters.filter { $0.value.channel == channel.rawValue }.map(\.key)
            // Kept for a waiter that is about to wait, too: at worst one loop wakes once more than needed.
            state.pending.insert(channel.rawValue)
            return ids.compactMap { state.waiters.removeValue(forKey: $0) }
        }
        for waiter in woken { waiter.continuation.resume() }
    }

    /// `wake(.outbox)`.
    public func wakeOutbox() { wake(.outbox) }

    /// Ends every wait, now and later.
    public func finish() {
        let waiters = state.withLock { state -> [Waiter] in
            state.finished = true
            defer { state.waiters.removeAll() }
            return Array(state.waiters.values)
        }
        for waiter in waiters { waiter.continuation.resume() }
    }

    /// `wait(upTo:channel: .outbox)`.
    public func waitOutbox(upTo timeout: Duration) async { await wait(upTo: timeout, channel: .outbox) }

    /// Returns when woken, after `timeout`, or when finished.
    public func wait(upTo timeout: Duration, channel: Channel = .main) async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.waitForWake(channel) }
            group.addTask { try? await Task.sleep(for: timeout) }
            await group.next()
            group.cancelAll()
        }
    }

    private func waitForWake(_ channel: Channel) async {
        let id = state.withLock { state -> UInt64 in
            state.nextID += 1
            return state.nextID
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let resumeNow = state.withLock { state -> Bool in
                    if state.finished || state.pending.remove(channel.rawValue) != nil || Task.isCancelled {
                        return true
                    }
                    state.waiters[id] = Waiter(channel: channel.rawValue, continuation: continuation)
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        } onCancel: {
            let waiter = state.withLock { $0.waiters.removeValue(forKey: id) }
            waiter?.continuation.resume()
        }
    }
}
