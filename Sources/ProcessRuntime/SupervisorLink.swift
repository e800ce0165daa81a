import Config
import IPC
import Logging
import ServiceLifecycle
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// What a child does when the supervisor asks. Every method has a default for children to which it does not apply.
public protocol SupervisedProcess: Sendable {
    /// Stop claiming new work.
    func pause() async throws -> PauseState
    func resume() async throws -> PauseState
    /// Re-read the config file and apply what can change while running.
    func reload() async throws -> ReloadReport
    /// The circuit breaker moved.
    func breakerChanged(_ breaker: BreakerStatus) async
    /// Start or stop accepting connections (ingress).
    func setAccepting(_ accepting: Bool) async throws -> AcceptingState
    /// Another process wrote something this one consumes (deliveries, jobs, outcomes).
    func wake(_ topic: WakeTopic) async
}

/// What a wake-up call is about.
public enum WakeTopic: Sendable, Equatable {
    case inbox
    case jobs
    case outcomes
}

extension SupervisedProcess {
    public func pause() async throws -> PauseState {
        throw IPCError(.remote, "this process has no work to pause")
    }

    public func resume() async throws -> PauseState {
        throw IPCError(.remote, "this process has no work to resume")
    }

    public func breakerChanged(_ breaker: BreakerStatus) async {}

    public func wake(_ topic: WakeTopic) async {}

    public func setAccepting(_ accepting: Bool) async throws -> AcceptingState {
        throw IPCError(.remote, "this process does not accept connections")
    }
}

/// A child's connection to its supervisor, as a service: connects and says hello, reports readiness, answers
/// pings and commands. When the supervisor asks it to stop, or the connection ends because the supervisor is gone,
/// it asks the child's service group to shut down gracefully. Being the first service of the group, it is the last
/// one shut down: the supervisor stays connected until everything else has finished.
public final class SupervisorLink: Service {
    private let role: IPCRole
    private let socketPath: String
    private let logger: Logger
    private let state = Mutex(LinkState())

    private struct LinkState {
        var connection: IPCConnection?
        var readyRequested = false
        var readySent = false
        var process: (any SupervisedProcess)?
        var shutdownGroup: (@Sendable () async -> Void)?
    }

    public init(role: IPCRole, socketPath: String, logger: Logger) {
        self.role = role
        self.socketPath = socketPath
        self.logger = logger
    }

    /// Sets who answers pause, resume and reload; call before `reportReady`.
    public func attach(_ process: any SupervisedProcess) {
        state.withLock { $0.process = process }
    }

    /// Sets how to shut the child's service group down gracefully (`ServiceGroup.triggerGracefulShutdown`).
    public func onShutdownRequest(_ shutdownGroup: @escaping @Sendable () async -> Void) {
        state.withLock { $0.shutdownGroup = shutdownGroup }
    }

    private func requestShutdown() async {
        await state.withLock { $0.shutdownGroup }?()
    }

    /// Tells the supervisor this process is ready, now or as soon as the link is up. Sent once.
    public func reportReady() async {
        let connection: IPCConnection? = state.withLock { state in
            state.readyRequested = true
            guard let connection = state.connection, !state.readySent else { return nil }
            state.readySent = true
            return connection
        }
        guard let connection else { return }
        do {
            try await connection.send(Ready())
            logger.info("reported ready")
        } catch {
            logger.error("cannot report ready", metadata: ["error": "\(error)"])
        }
    }

    /// Sends a request to the supervisor; fails with `closed` if the link is not up.
    public func request<R: IPCRequest>(_ request: R, timeout: Duration = .seconds(5)) async throws -> R.Reply {
        guard let connection = state.withLock({ $0.connection }) else {
            throw IPCError(.closed, "not connected to the supervisor")
        }
        return try await connection.request(request, timeout: timeout)
    }

    /// Sends an event to the supervisor if the link is up; false if it is not.
    @discardableResult
    public func send<E: IPCEvent>(_ event: E) async -> Bool {
        guard let connection = state.withLock({ $0.connection }) else { return false }
        return (try? await connection.send(event)) != nil
    }

    public func run() async throws {
        let hello = Hello(role: role, pid: getpid(), program: "bosun-\(role)", version: BosunVersion.current)
        let stopRequested = AsyncStream<Void>.makeStream()
        var handlers = IPCHandlers()
        handlers.onRequest(Ping.self) { _, _ in Pong(pid: getpid()) }
        handlers.onRequest(Stop.self) { [logger] request, _ in
            logger.info("supervisor asked to stop", metadata: ["reason": "\(request.reason)"])
            stopRequested.continuation.yield()
            return Empty()
        }
        handlers.onRequest(Pause.self) { _, _ in try await self.process().pause() }
        handlers.onRequest(Resume.self) { _, _ in try await self.process().resume() }
        handlers.onRequest(Reload.self) { _, _ in try await self.process().reload() }
        handlers.onRequest(SetAccepting.self) { request, _ in try await self.process().setAccepting(request.accepting) }
        handlers.onEvent(BreakerChanged.self) { event, _ in
            await (try? self.process())?.breakerChanged(event.breaker)
        }
        handlers.onEvent(InboxWake.self) { _, _ in await (try? self.process())?.wake(.inbox) }
        handlers.onEvent(JobsWake.self) { _, _ in await (try? self.process())?.wake(.jobs) }
        handlers.onEvent(OutcomesWake.self) { _, _ in await (try? self.process())?.wake(.outcomes) }

        try await IPCClient.withConnection(path: socketPath, hello: hello, handlers: handlers, logger: logger) {
            [logger] connection in
            let sendReady = self.state.withLock { state in
                state.connection = connection
                defer { state.readySent = state.readySent || state.readyRequested }
                return state.readyRequested && !state.readySent
            }
            if sendReady {
                try? await connection.send(Ready())
                logger.info("reported ready")
            }
            // Ask for the group's shutdown when the supervisor says stop or goes away; return only when this
            // service's own turn to shut down comes, which is last.
            await withTaskGroup(of: Void.self) { group in
                group.addTask {
                    for await _ in stopRequested.stream {
                        await self.requestShutdown()
                        return
                    }
                }
                group.addTask {
                    await connection.waitUntilClosed()
                    guard !Task.isCancelled else { return }
                    logger.warning("the supervisor connection closed; shutting down")
                    await self.requestShutdown()
                }
                try? await gracefulShutdown()
                group.cancelAll()
            }
            self.state.withLock { $0.connection = nil }
        }
    }

    private func process() throws -> any SupervisedProcess {
        guard let process = state.withLock({ $0.process }) else {
            throw IPCError(.remote, "this process is still starting")
        }
        return process
    }
}
