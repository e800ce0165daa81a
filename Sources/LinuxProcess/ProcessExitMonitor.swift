import CBosunPosix
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Watches any number of processes for their exit with one thread: a pidfd per process in one epoll set, so an idle
/// monitor costs no CPU however many processes it watches. Processes need not be children of the caller; those that
/// are get reaped through their pidfd (never `waitpid(-1)`, which would steal other children's exits).
///
/// The thread runs from `init` until `stop()`; whoever creates the monitor must call `stop()` to end it.
public final class ProcessExitMonitor: Sendable {
    /// Called on the monitor's thread once per watched process that exits, with the token given to `watch` and the
    /// process's status if it was a child of the caller (and so reaped here), else nil. It must not block for long.
    public typealias Handler = @Sendable (_ token: UInt64, _ status: TerminationStatus?) -> Void

    /// What `watch` found.
    public enum WatchResult: Equatable, Sendable {
        /// The process runs (or has just exited and is waiting to be reported): the handler will be called once.
        case watching
        /// The process is gone, or its pid belongs to another process now: the handler will not be called.
        case notRunning
    }

    private struct State {
        var descriptors: [UInt64: Int32] = [:]
        var stopped = false
    }

    private static let wakeToken = UInt64.max
    private let epoll: Int32
    private let wakeup: Int32
    private let state = Mutex(State())

    /// Starts the monitor's thread, named `name` (at most 15 bytes show).
    public init(name: String, handler: @escaping Handler) throws(LinuxProcessError) {
        let epoll = bosun_epoll_create()
        guard epoll >= 0 else { throw LinuxProcessError(.procfs, "cannot create an epoll instance", errno: errno) }
        let wakeup = bosun_eventfd()
        guard wakeup >= 0 else {
            let failure = errno
            close(epoll)
            throw LinuxProcessError(.procfs, "cannot create an eventfd", errno: failure)
        }
        guard bosun_epoll_add(epoll, wakeup, Self.wakeToken) == 0 else {
            let failure = errno
            close(epoll)
            close(wakeup)
            throw LinuxProcessError(.procfs, "cannot watch the eventfd", errno: failure)
        }
        self.epoll = epoll
        self.wakeup = wakeup
        // The thread keeps `self` until `stop()`, which is what lets it outlive the caller's reference.
        startDetachedThread { [self] in
            CurrentThread.setName(name)
            loop(handler)
        }
    }

    /// Starts watching `process`; `token` comes back to the handler. A token may be watched once at a time.
    public func watch(_ process: ProcessIdentity, token: UInt64) throws(LinuxProcessError) -> WatchResult {
        precondition(token != Self.wakeToken, "token UInt64.max is reserved")
        let descriptor = bosun_pidfd_open(process.pid)
        guard descriptor >= 0 else {
            if errno == ESRCH { return .notRunning }
            throw LinuxProcessError(.procfs, "cannot open a pidfd for \(process.pid)", errno: errno)
        }
        // The pidfd names whatever has the pid now. If that is our process (same start time; a zombie still counts,
        // its pid is not free), the pidfd is ours; otherwise our process is gone.
        guard process.liveness != .gone else {
            close(descriptor)
            return .notRunning
        }
        let added: Result<Void, LinuxProcessError> = state.withLock { state in
            if state.stopped { return .failure(LinuxProcessError(.procfs, "the exit monitor is stopped")) }
            if state.descriptors[token] != nil {
                return .failure(LinuxProcessError(.procfs, "token \(token) is already watched"))
            }
            guard bosun_epoll_add(epoll, descriptor, token) == 0 else {
                return .failure(LinuxProcessError(.procfs, "cannot watch the pidfd of \(process.pid)", errno: errno))
            }
            state.descriptors[token] = descriptor
            return .success(())
        }
        if case .failure(let error) = added {
            close(descriptor)
            throw error
        }
        return .watching
    }

    /// The number of processes being watched.
    public var count: Int { state.withLock { $0.descriptors.count } }

    /// Ends the thread and closes every pidfd. A handler already running finishes; none starts after this returns.
    /// Idempotent.
    public func stop() {
        let first = state.withLock { state in
            defer { state.stopped = true }
            return !state.stopped
        }
        guard first else { return }
        var one: UInt64 = 1
        _ = write(wakeup, &one, MemoryLayout<UInt64>.size)
    }

    private func loop(_ handler: Handler) {
        var tokens = [UInt64](repeating: 0, count: 64)
        while true {
            let count = bosun_epoll_wait(epoll, &tokens, Int32(tokens.count), -1)
            if count < 0 {
                if errno == EINTR { continue }
                break
            }
            for token in tokens[..<Int(count)] {
                if token == Self.wakeToken {
                    var value: UInt64 = 0
                    _ = read(wakeup, &value, MemoryLayout<UInt64>.size)
                    if state.withLock({ $0.stopped }) {
                        shutDown()
                        return
                    }
                    continue
                }
                // A token removed by an earlier event in this batch has nothing left to report.
                let taken: Int32? = state.withLock { state in
                    state.stopped ? nil : state.descriptors.removeValue(forKey: token)
                }
                guard let descriptor = taken else { continue }
                _ = bosun_epoll_remove(epoll, descriptor)
                var status: Int32 = 0
                let reaped = bosun_pidfd_reap(descriptor, &status) == 1
                close(descriptor)
                handler(token, reaped ? TerminationStatus(waitStatus: status) : nil)
            }
        }
        shutDown()
    }

    private func shutDown() {
        let descriptors = state.withLock { state in
            state.stopped = true
            defer { state.descriptors = [:] }
            return Array(state.descriptors.values)
        }
        descriptors.forEach { close($0) }
        close(epoll)
        close(wakeup)
    }
}
