import Synchronization

/// Named one-shot timers. Scheduling a name again replaces its timer; `cancelAll` at shutdown ends every pending
/// one. Each timer is an unstructured task whose lifetime this object owns: it ends when it fires or is cancelled.
final class Timers: Sendable {
    private let tasks = Mutex<[String: (token: UInt64, task: Task<Void, Never>)]>([:])
    private let nextToken = Atomic<UInt64>(0)

    /// Runs `action` after `delay`, unless cancelled or replaced first.
    func schedule(_ name: String, after delay: Duration, _ action: @escaping @Sendable () async -> Void) {
        let token = nextToken.add(1, ordering: .relaxed).newValue
        // Created and registered under the lock, so that even a zero delay finds its own entry when it fires.
        let replaced = tasks.withLock { tasks in
            let previous = tasks[name]?.task
            let task = Task {
                do {
                    try await Task.sleep(for: delay)
                } catch {
                    return
                }
                let current = self.tasks.withLock { tasks -> Bool in
                    guard tasks[name]?.token == token else { return false }
                    tasks[name] = nil
                    return true
                }
                if current { await action() }
            }
            tasks[name] = (token, task)
            return previous
        }
        replaced?.cancel()
    }

    func cancel(_ name: String) {
        tasks.withLock { $0.removeValue(forKey: name) }?.task.cancel()
    }

    func cancelAll() {
        let all = tasks.withLock { tasks in
            defer { tasks = [:] }
            return tasks.values.map(\.task)
        }
        all.forEach { $0.cancel() }
    }
}

/// A value delivered at most once to one waiter, from whichever side comes first (an event or a timeout).
final class OneShot<Value: Sendable>: Sendable {
    private let state = Mutex<(continuation: CheckedContinuation<Value, Never>?, value: Value?)>((nil, nil))

    /// Delivers `value` unless one was delivered already.
    func resolve(_ value: Value) {
        let continuation = state.withLock { state -> CheckedContinuation<Value, Never>? in
            guard state.value == nil else { return nil }
            state.value = value
            defer { state.continuation = nil }
            return state.continuation
        }
        continuation?.resume(returning: value)
    }

    /// Waits for the value.
    func wait() async -> Value {
        await withCheckedContinuation { continuation in
            let ready = state.withLock { state -> Value? in
                if let value = state.value { return value }
                state.continuation = continuation
                return nil
            }
            if let ready { continuation.resume(returning: ready) }
        }
    }
}
