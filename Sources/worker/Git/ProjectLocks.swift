import Synchronization

/// One async lock per project: the operations on a project's repository and worktrees run one at a time, in the
/// order they asked, while different projects proceed in parallel. The holder of a lock hands it straight to the
/// next waiter, so no waiter can be overtaken.
final class ProjectLocks: Sendable {
    private struct State {
        var held: Set<String> = []
        var waiters: [String: [CheckedContinuation<Void, Never>]] = [:]
    }

    private let state = Mutex(State())

    /// Runs `body` while holding the lock of `project`.
    func withLock<Value>(
        _ project: String, _ body: () async throws(WorktreeError) -> Value
    ) async throws(WorktreeError) -> Value {
        await acquire(project)
        defer { release(project) }
        return try await body()
    }

    /// True if someone is waiting for `project`'s lock: work that only pays off when the project is idle (the
    /// pool of ready worktrees) gives way.
    func hasWaiters(_ project: String) -> Bool {
        state.withLock { !($0.waiters[project]?.isEmpty ?? true) }
    }

    private func acquire(_ project: String) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let acquired = state.withLock { state in
                if state.held.insert(project).inserted { return true }
                state.waiters[project, default: []].append(continuation)
                return false
            }
            if acquired { continuation.resume() }
        }
    }

    private func release(_ project: String) {
        let next = state.withLock { state -> CheckedContinuation<Void, Never>? in
            guard var queue = state.waiters[project], !queue.isEmpty else {
                state.held.remove(project)
                return nil
            }
            let first = queue.removeFirst()
            state.waiters[project] = queue.isEmpty ? nil : queue
            return first  // the lock stays held: it passes to `first`
        }
        next?.resume()
    }
}
