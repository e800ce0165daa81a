import LinuxProcess
import Synchronization

/// The end of one watched run.
public struct RunCompletion: Equatable, Sendable {
    public var runID: String
    /// `.exited` with the shim's status, or `.lost` if the shim died without writing one.
    public var state: RunState
}

/// Watches every running shim with one thread (pidfds in one epoll set, see `ProcessExitMonitor`) and reports each
/// run's end once on `completions`. Shims that are children of this process are reaped through their pidfd.
///
/// Lifetime: `init` starts the thread; `shutdown()` ends it and finishes `completions`. The owner (the worker's run
/// service) must call `shutdown()`; runs still going at that point are left to the next worker's adoption.
public final class RunWatcher: Sendable {
    /// Every watched run's end, once each, in the order seen.
    public let completions: AsyncStream<RunCompletion>
    private let continuation: AsyncStream<RunCompletion>.Continuation
    private let monitor: ProcessExitMonitor
    private let registry: Registry

    private struct WatchedRun: Sendable {
        var runID: String
        var runDirectory: String
    }

    /// Token → run, shared with the monitor's handler.
    private final class Registry: Sendable {
        struct State {
            var runs: [UInt64: WatchedRun] = [:]
            var ids: Set<String> = []
            var nextToken: UInt64 = 1
        }
        let state = Mutex(State())
    }

    public init() throws(RunError) {
        let (stream, continuation) = AsyncStream<RunCompletion>.makeStream()
        let registry = Registry()
        self.completions = stream
        self.continuation = continuation
        self.registry = registry
        do {
            monitor = try ProcessExitMonitor(name: "bosun-runs") { token, _ in
                let run: WatchedRun? = registry.state.withLock { state in
                    guard let run = state.runs.removeValue(forKey: token) else { return nil }
                    state.ids.remove(run.runID)
                    return run
                }
                guard let run else { return }
                let state = RunProbe.settle(
                    runDirectory: run.runDirectory, record: nil, lostReason: "the shim ended without exit.status")
                continuation.yield(RunCompletion(runID: run.runID, state: state))
            }
        } catch {
            continuation.finish()
            throw RunError(.watcher, "cannot start the run watcher", cause: error)
        }
    }

    /// Watches the run whose shim is `shim`. If the shim is already gone (or its pid is another process now), the
    /// run's end is reported at once from its run directory. A run id may be watched once at a time.
    public func watch(runID: String, runDirectory: String, shim: ProcessIdentity) throws(RunError) {
        let token: UInt64? = registry.state.withLock { state in
            guard !state.ids.contains(runID) else { return nil }
            let token = state.nextToken
            state.nextToken += 1
            state.ids.insert(runID)
            state.runs[token] = WatchedRun(runID: runID, runDirectory: runDirectory)
            return token
        }
        guard let token else { throw RunError(.watcher, "run \(runID) is already watched") }
        let result: ProcessExitMonitor.WatchResult
        do {
            result = try monitor.watch(shim, token: token)
        } catch {
            forget(token)
            throw RunError(.watcher, "cannot watch run \(runID)", cause: error)
        }
        guard result == .notRunning else { return }
        forget(token)
        // Gone before we could watch it (a zombie still counts as watchable, so nothing is left to reap): settle now.
        let state = RunProbe.settle(
            runDirectory: runDirectory, record: nil, lostReason: "the shim ended without exit.status")
        continuation.yield(RunCompletion(runID: runID, state: state))
    }

    /// Watches a run just launched.
    public func watch(_ handle: RunHandle) throws(RunError) {
        try watch(runID: handle.runID, runDirectory: handle.runDirectory, shim: handle.shim)
    }

    /// The number of runs being watched.
    public var count: Int { registry.state.withLock { $0.runs.count } }

    /// Stops watching and finishes `completions`. Runs still going are not touched.
    public func shutdown() {
        monitor.stop()
        continuation.finish()
    }

    private func forget(_ token: UInt64) {
        registry.state.withLock { state in
            if let run = state.runs.removeValue(forKey: token) { state.ids.remove(run.runID) }
        }
    }
}
