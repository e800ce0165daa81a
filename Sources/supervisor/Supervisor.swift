import Config
import Foundation
import IPC
import LinuxProcess
import Logging
import ProcessRuntime
import Store
import Systemd

/// The supervisor: spawns the three children, waits for their readiness, reaps every exit, restarts crashes by the
/// restart policy, and answers control commands. All of its state lives in this actor; signals, IPC and timers
/// come in as calls to it.
///
/// Reading order: `run` (the whole life), `spawn` (one start), `processExited` (every reap and the restart
/// decision), `childReady` (the readiness wait), then the commands in `Supervisor+Commands.swift`.
actor Supervisor {
    let layout: StateLayout
    let listener: ListeningSocket
    let database: Database
    let notifier = SystemdNotifier()
    let logger: Logger
    let known = KnownChildren()
    let timers = Timers()
    let startedAt = ContinuousClock.now
    private let spawner = SpawnThread()
    private let childServer: IPCServer
    private let controlServer: IPCServer
    private let executableDirectory: String
    private let childLogs: [ChildName: RotatingLog]
    /// `/dev/null`, the children's stdin; open for the supervisor's life.
    private let devNull: Int32
    let supervisorLog: RotatingLog

    var config: BosunConfig
    var slots: [ChildName: ChildSlot]
    var breaker: CircuitBreaker
    var paused: Bool
    /// Where the supervisor is in its life.
    enum Phase: String {
        /// Until all three children have been ready once (READY=1).
        case starting
        case running
        /// From the first stop request on; nothing is (re)started any more.
        case stopping
    }

    var phase = Phase.starting
    /// True while a reload runs; one at a time.
    var reloading = false
    var statusText = "starting"
    /// READY=1 has been sent.
    var announcedReady = false
    /// Set while a restart by hand or a rolling restart runs; one at a time.
    var maintenance: String?
    /// What that command is doing right now (`rolling restart: replacing worker (2/3)`); leads the STATUS= line.
    var maintenanceStep: String?

    private var spawnsInFlight = 0
    /// Exits reaped while a spawn was still returning its pid.
    private var unclaimedExits: [Int32: TerminationStatus] = [:]
    private var readyWaiters: [Int32: [OneShot<Result<Void, SupervisorError>>]] = [:]
    private var exitWaiters: [Int32: [OneShot<Bool>]] = [:]
    private var spawnWaiters: [OneShot<Void>] = []
    /// The last exits reaped, so that a command waiting on a pid that is already gone can say how it ended.
    private var recentExits: [(pid: Int32, name: ChildName?, status: TerminationStatus)] = []
    /// Stop requests (SIGTERM, SIGINT, `bosun stop`), handled by a task of `run`.
    let stopRequests = AsyncStream<String>.makeStream()
    /// Reloads asked for by SIGHUP, handled by a task of `run`.
    let reloadRequests = AsyncStream<Void>.makeStream()
    private let stopped = OneShot<Void>()

    init(
        config: BosunConfig, listener: ListeningSocket, database: Database, childServer: IPCServer,
        controlServer: IPCServer, supervisorLog: RotatingLog, logger: Logger
    ) throws(SupervisorError) {
        self.config = config
        self.layout = config.layout
        self.listener = listener
        self.database = database
        self.childServer = childServer
        self.controlServer = controlServer
        self.supervisorLog = supervisorLog
        self.logger = logger
        self.executableDirectory = URL(fileURLWithPath: CurrentProcess.executablePath).deletingLastPathComponent().path
        var logs: [ChildName: RotatingLog] = [:]
        for name in ChildName.allCases {
            logs[name] = try RotatingLog(
                path: config.layout.logFile(for: name.rawValue), maxBytes: config.logs.maxFileBytes,
                keep: config.logs.keepFiles)
        }
        self.childLogs = logs
        do {
            self.devNull = try Descriptors.devNull()
        } catch {
            throw SupervisorError(.setup, error.description)
        }
        self.slots = Dictionary(
            uniqueKeysWithValues: ChildName.allCases.map {
                ($0, ChildSlot(name: $0, policy: RestartPolicy(config: config.supervisor.restart)))
            })
        do {
            let stored = try database.loadBreaker()
            self.breaker =
                stored.map { CircuitBreaker(config: config.breaker, record: $0) }
                ?? CircuitBreaker(config: config.breaker)
            self.paused = try database.operatorFlag("paused") == "true"
        } catch {
            throw SupervisorError(.setup, "cannot read the supervisor's state from \(database.path): \(error)")
        }
    }

    // MARK: Life

    /// Runs until a stop completes: serves both sockets, handles signals, starts the children.
    func run(signals: AsyncStream<Int32>) async {
        await withDiscardingTaskGroup { group in
            group.addTask { await self.serveChildren() }
            group.addTask { await self.serveControl() }
            group.addTask {
                for await signal in signals { await self.handle(signal: signal) }
            }
            group.addTask {
                for await reason in self.stopRequests.stream { await self.shutdown(reason: reason) }
            }
            group.addTask {
                for await _ in self.reloadRequests.stream {
                    // `reload` logs why a reload failed, as for `bosun reload`; a busy refusal is logged here.
                    do {
                        _ = try await self.reload()
                    } catch let error as SupervisorError where error.code == .busy {
                        self.logger.warning("SIGHUP ignored", metadata: ["reason": "\(error.message)"])
                    } catch {}
                }
            }
            if let interval = watchdogInterval() {
                group.addTask { await self.watchdog(every: interval) }
            }
            resumeBreakerTimer()
            logger.info(
                "starting children",
                metadata: ["listen": "\(listener.address)", "socket_activation": "\(listener.fromSystemd)"])
            for name in ChildName.allCases {
                await spawn(name)
            }
            await stopped.wait()
            group.cancelAll()
        }
        timers.cancelAll()
        logger.info("stopped")
    }

    /// Handles one signal without waiting on anything that needs another signal: the stop sequence and a reload
    /// run in their own tasks, so that SIGCHLD keeps being handled while they wait for children.
    private func handle(signal: Int32) async {
        switch signal {
        case SIGCHLD:
            for (pid, status) in Reaper.reapAll() {
                processExited(pid, status)
            }
        case SIGTERM, SIGINT:
            requestStop(reason: "\(SignalName.of(signal)) received")
        case SIGHUP:
            reloadRequests.continuation.yield()
        default:
            break
        }
    }

    // MARK: Spawning

    /// Starts one process of `name` and makes it the slot's current instance. A start that fails is handled like
    /// a crash. Returns the pid, or nil if nothing could be started.
    @discardableResult
    func spawn(_ name: ChildName) async -> Int32? {
        guard phase != .stopping, !slots[name]!.isSpawning else { return nil }
        slots[name]!.isSpawning = true
        spawnsInFlight += 1
        let started = await startProcess(name)
        // The spawn is over once the process is installed (or failed); reading its output is not part of it, so
        // that a crash-restart timer of a few milliseconds never finds the previous spawn still "in flight".
        slots[name]!.isSpawning = false
        spawnsInFlight -= 1
        if spawnsInFlight == 0 { unclaimedExits.removeAll() }
        spawnWaiters.forEach { $0.resolve(()) }
        spawnWaiters = []
        guard let (pid, output) = started else { return nil }
        do {
            try await ChildOutput.pump(descriptor: output, sink: outputSink(for: name, pid: pid))
        } catch {
            // NIO owns the descriptor once it was handed over, and may have closed it: leak rather than close twice.
            logger.error("cannot read the output of \(name.rawValue)", metadata: ["error": "\(error)"])
        }
        return pid
    }

    /// The fork and exec of `spawn`, and the new process's installation; returns its pid and the read end of its
    /// output pipe.
    private func startProcess(_ name: ChildName) async -> (pid: Int32, output: Int32)? {
        timers.cancel("restart.\(name.rawValue)")
        slots[name]!.state = .starting
        slots[name]!.backoff = nil
        let pid: Int32
        let output: (read: Int32, write: Int32)
        do {
            output = try Descriptors.pipe()
        } catch {
            startFailed(name, error.description)
            return nil
        }
        do {
            pid = try await spawner.spawn(spawnRequest(for: name, output: output.write))
            close(output.write)
        } catch {
            close(output.read)
            close(output.write)
            if let pid = error.childPID { unclaimedExits.removeValue(forKey: pid) }
            startFailed(name, error.description)
            return nil
        }
        guard slots[name]!.current == nil else {
            // Never two current processes of one child: this one lost a race it should not have entered.
            logger.error("\(name.rawValue) already has a process; killing the extra one", metadata: ["pid": "\(pid)"])
            kill(-pid, SIGKILL)
            close(output.read)
            return nil
        }
        known.insert(pid, as: name)
        slots[name]!.current = ChildInstance(pid: pid, spawnedAt: .now)
        logger.info("spawned \(name.rawValue)", metadata: ["pid": "\(pid)"])
        let readyTimeout = Duration.seconds(config.supervisor.readyTimeoutSeconds)
        timers.schedule("ready.\(pid)", after: readyTimeout) { await self.readyTimedOut(name, pid: pid) }
        if let status = unclaimedExits.removeValue(forKey: pid) {
            processExited(pid, status)
        }
        publishStatus()
        return (pid, output.read)
    }

    /// Admission for the children's socket: the hello's role must match what the supervisor spawned at the pid the
    /// kernel reports. A child can connect before its spawn has returned here, so an unknown pid waits for the
    /// spawns in flight.
    func admit(_ hello: Hello, pid: Int32) async -> String? {
        while known.name(of: pid) == nil && spawnsInFlight > 0 {
            let waiter = OneShot<Void>()
            spawnWaiters.append(waiter)
            await waiter.wait()
        }
        guard let name = known.name(of: pid) else {
            return "pid \(pid) is not a process this supervisor started"
        }
        guard name.role == hello.role else {
            return "pid \(pid) was started as \(name.rawValue), not \(hello.role)"
        }
        return nil
    }

    private func spawnRequest(for name: ChildName, output: Int32) -> SpawnRequest {
        let executable = config.supervisor.executables[name.rawValue] ?? "\(executableDirectory)/\(name.program)"
        var environment = ProcessInfo.processInfo.environment.filter { !ChildEnvironment.isSupervisorOnly($0.key) }
        environment[ChildEnvironment.supervisorSocketKey] = layout.supervisorSocket
        environment[ChildEnvironment.configKey] = config.file
        environment[ChildEnvironment.configSnapshotKey] = layout.configSnapshot
        environment[ChildEnvironment.processKey] = name.rawValue
        var descriptors: [(source: Int32, target: Int32)] = [(devNull, 0), (output, 1), (output, 2)]
        if name == .ingress {
            descriptors.append((listener.descriptor, 3))
            environment[ChildEnvironment.listenDescriptorKey] = "3"
        }
        var request = SpawnRequest(
            executable: executable, environment: environment, fileDescriptors: descriptors)
        request.argv0 = name.program
        request.newProcessGroup = true
        request.parentDeathSignal = SIGTERM
        if name == .worker {
            // Agents, gate commands and git run under the worker and inherit this: on a busy machine, intake and
            // the gatekeeper get the CPU first (SPEC §5: an agent's load must not slow webhook intake).
            request.niceness = ProcessNiceness.below(by: config.worker.nice)
        }
        return request
    }

    private func outputSink(for name: ChildName, pid: Int32) -> @Sendable (String) -> Void {
        let file = childLogs[name]!
        return { line in
            file.append("[\(pid)] \(line)")
            logRelay.relay(line, identifier: name.program, prefix: name.rawValue, pid: pid)
        }
    }

    private func startFailed(_ name: ChildName, _ message: String) {
        logger.error("cannot start \(name.rawValue)", metadata: ["error": "\(message)"])
        slots[name]!.failure = message
        // A replacement that fails to start is the replacing command's to report; the old process still serves.
        if !slots[name]!.isBeingReplaced { crashed(name, uptime: .zero) }
    }

    // MARK: Exits

    /// Every reaped pid comes here: a child's exit is a crash (restart policy), an expected exit (stop, retirement),
    /// or an orphaned descendant that was re-parented to the supervisor.
    func processExited(_ pid: Int32, _ status: TerminationStatus) {
        known.remove(pid)
        let owner = slots.values.first(where: { $0.instance(pid) != nil })?.name
        exitWaiters.removeValue(forKey: pid)?.forEach { $0.resolve(true) }
        readyWaiters.removeValue(forKey: pid)?.forEach {
            $0.resolve(.failure(SupervisorError(.childFailed, Self.exitedBeforeReady(pid, owner, status))))
        }
        recentExits.append((pid, owner, status))
        if recentExits.count > 64 { recentExits.removeFirst() }
        guard let name = owner else {
            if spawnsInFlight > 0 {
                unclaimedExits[pid] = status
            } else {
                logger.debug("reaped a descendant", metadata: ["pid": "\(pid)", "status": "\(status)"])
            }
            return
        }
        // Helpers the child left in its process group go with it (agent runs live in their own sessions).
        kill(-pid, SIGKILL)
        timers.cancel("ready.\(pid)")

        let record = ExitRecord(status, at: Date())
        if let retired = slots[name]!.retiring.removeValue(forKey: pid) {
            logger.info("\(name.rawValue) retired", metadata: ["pid": "\(retired.pid)", "status": "\(status)"])
            publishStatus()
            return
        }
        let instance = slots[name]!.current!
        slots[name]!.current = nil
        slots[name]!.lastExit = record
        if phase == .stopping {
            logger.info("\(name.rawValue) stopped", metadata: ["pid": "\(pid)", "status": "\(status)"])
            publishStatus()
            return
        }
        logger.warning("\(name.rawValue) exited", metadata: ["pid": "\(pid)", "status": "\(status)"])
        if slots[name]!.isBeingReplaced {
            publishStatus()
            return
        }
        crashed(name, uptime: .now - instance.spawnedAt)
    }

    /// Applies the restart policy to a crash.
    func crashed(_ name: ChildName, uptime: Duration) {
        guard phase != .stopping else { return }
        switch slots[name]!.policy.childCrashed(at: .now, uptime: uptime) {
        case .restart(let delay):
            slots[name]!.state = .backoff
            slots[name]!.backoff = delay
            slots[name]!.restarts += 1
            logger.info(
                "restarting \(name.rawValue)",
                metadata: ["delay_ms": "\(ChildSlot.milliseconds(delay))", "restarts": "\(slots[name]!.restarts)"])
            timers.schedule("restart.\(name.rawValue)", after: delay) { await self.spawn(name) }
        case .giveUp(let reason):
            slots[name]!.state = .failed
            slots[name]!.failure = reason
            logger.error(
                "\(name.rawValue) failed; not restarting it until `bosun restart \(name.rawValue)`",
                metadata: ["reason": "\(reason)"])
        }
        publishStatus()
    }

    // MARK: Readiness

    /// A child said hello; the admission check has matched its pid (from the kernel) to a process we spawned.
    func childConnected(_ connection: IPCConnection) {
        guard let name = known.name(of: connection.peer.pid), slots[name]!.instance(connection.peer.pid) != nil else {
            connection.close()
            return
        }
        let pid = connection.peer.pid
        if slots[name]!.current?.pid == pid {
            slots[name]!.current!.connection = connection
        } else {
            slots[name]!.retiring[pid]?.connection = connection
        }
    }

    /// The child reported `ready`. Ingress is ready once it accepts: the supervisor hands it the socket, unless a
    /// rolling restart does that itself after the old ingress has let go.
    func childReady(_ connection: IPCConnection) async {
        let pid = connection.peer.pid
        guard phase != .stopping, let name = known.name(of: pid), slots[name]!.current?.pid == pid else { return }
        if name == .ingress && !slots[name]!.isBeingReplaced {
            do {
                _ = try await connection.request(SetAccepting(accepting: true))
            } catch {
                // Killed only if still ours: if it already exited, its pid may since belong to someone else.
                guard slots[name]!.current?.pid == pid else { return }
                logger.error(
                    "ingress cannot accept connections; killing it", metadata: ["pid": "\(pid)", "error": "\(error)"])
                slots[name]!.failure = "cannot accept connections: \(error)"
                kill(-pid, SIGKILL)
                return
            }
            guard phase != .stopping, slots[name]!.current?.pid == pid else { return }
        }
        timers.cancel("ready.\(pid)")
        slots[name]!.current!.isReady = true
        slots[name]!.current!.connection = connection
        slots[name]!.state = .ready
        slots[name]!.failure = nil
        let uptime = ContinuousClock.now - slots[name]!.current!.spawnedAt
        logger.info(
            "\(name.rawValue) ready", metadata: ["pid": "\(pid)", "startup_ms": "\(ChildSlot.milliseconds(uptime))"])
        readyWaiters.removeValue(forKey: pid)?.forEach { $0.resolve(.success(())) }
        publishStatus()
        if name == .worker {
            await bringWorkerUpToDate(connection)
        }
    }

    private func readyTimedOut(_ name: ChildName, pid: Int32) {
        guard let instance = slots[name]!.current, instance.pid == pid, !instance.isReady else { return }
        let message = "did not report ready within \(config.supervisor.readyTimeoutSeconds)s"
        logger.error("\(name.rawValue) \(message); killing it", metadata: ["pid": "\(pid)"])
        slots[name]!.failure = message
        kill(-pid, SIGKILL)
    }

    /// Waits until the process `pid` reports ready; fails if it exits first or takes longer than the ready timeout.
    func waitUntilReady(_ pid: Int32) async throws(SupervisorError) {
        guard let name = known.name(of: pid) else {
            let exit = recentExits.last { $0.pid == pid }
            throw SupervisorError(.childFailed, Self.exitedBeforeReady(pid, exit?.name, exit?.status))
        }
        if slots[name]!.current?.pid == pid && slots[name]!.current!.isReady { return }
        let waiter = OneShot<Result<Void, SupervisorError>>()
        readyWaiters[pid, default: []].append(waiter)
        try await waiter.wait().get()
    }

    private static func exitedBeforeReady(_ pid: Int32, _ name: ChildName?, _ status: TerminationStatus?) -> String {
        "\(name?.rawValue ?? "process") (pid \(pid)) exited before it was ready" + (status.map { ": \($0)" } ?? "")
    }

    /// Returns once no spawn of `name` (or of any child, for nil) is on its way.
    func waitForSpawns(of name: ChildName? = nil) async {
        while name.map({ slots[$0]!.isSpawning }) ?? (spawnsInFlight > 0) {
            let waiter = OneShot<Void>()
            spawnWaiters.append(waiter)
            await waiter.wait()
        }
    }

    /// Waits until `pid` has been reaped, at most `timeout`; true if it was.
    func waitForExit(_ pid: Int32, timeout: Duration) async -> Bool {
        guard known.name(of: pid) != nil else { return true }
        let waiter = OneShot<Bool>()
        exitWaiters[pid, default: []].append(waiter)
        timers.schedule("exit-wait.\(pid).\(ObjectIdentifier(waiter).hashValue)", after: timeout) {
            waiter.resolve(false)
        }
        return await waiter.wait()
    }

    /// Passes a wake-up call on to the child that consumes it, if it is up; that child finds the rows anyway.
    func relay<E: IPCEvent>(_ event: E, to name: ChildName) async {
        guard let child = slots[name]!.current, child.isReady, let connection = child.connection else { return }
        try? await connection.send(event)
    }

    /// Applies reloaded log rotation limits to the children's log files.
    func applyLogLimits(_ limits: LogConfig) {
        for log in childLogs.values { log.setLimits(maxBytes: limits.maxFileBytes, keep: limits.keepFiles) }
    }

    // MARK: Status

    /// Recomputes the status line and sends it to systemd when it changed; announces READY=1 the first time all
    /// three children are ready.
    func publishStatus() {
        let text = describeChildren()
        let allReady = slots.values.allSatisfy { $0.state == .ready }
        if allReady && !announcedReady && phase == .starting {
            announcedReady = true
            phase = .running
            statusText = text
            notifier.ready(status: text)
            logger.info("all children ready")
            return
        }
        guard text != statusText else { return }
        statusText = text
        notifier.status(text)
    }

    /// The STATUS= line for the children's states (and a restart command's step).
    func describeChildren() -> String {
        if phase == .stopping { return "stopping" }
        let children = ChildName.allCases.map { name -> String in
            let slot = slots[name]!
            switch slot.state {
            case .backoff:
                return "\(name.rawValue) restarting in \(ChildSlot.milliseconds(slot.backoff ?? .zero)) ms"
            case .failed:
                return "\(name.rawValue) FAILED (\(slot.failure ?? "restart budget exhausted"))"
            default:
                return "\(name.rawValue) \(slot.state.rawValue)"
            }
        }.joined(separator: ", ")
        return maintenanceStep.map { "\($0); \(children)" } ?? children
    }

    func status() -> StatusReport {
        let now = ContinuousClock.now
        return StatusReport(
            supervisor: SupervisorStatus(
                pid: getpid(), version: BosunVersion.current, state: reloading ? "reloading" : phase.rawValue,
                listen: listener.address,
                config: config.file,
                uptimeS: ChildSlot.seconds(now - startedAt),
                statusText: statusText),
            processes: ChildName.allCases.map { slots[$0]!.status(now: now, paused: $0 == .worker ? paused : nil) },
            breaker: breaker.status)
    }

    // MARK: Sockets and watchdog

    private func serveChildren() async {
        var handlers = IPCHandlers()
        handlers.onEvent(Ready.self) { _, connection in await self.childReady(connection) }
        handlers.onEvent(BreakerReport.self) { report, _ in await self.breakerReport(report) }
        handlers.onEvent(InboxWake.self) { event, _ in await self.relay(event, to: .gatekeeper) }
        handlers.onEvent(JobsWake.self) { event, _ in await self.relay(event, to: .worker) }
        handlers.onEvent(OutcomesWake.self) { event, _ in await self.relay(event, to: .gatekeeper) }
        handlers.onRequest(Status.self) { _, _ in await self.status() }
        await childServer.run(
            handlers: handlers,
            admit: { hello, credentials in await self.admit(hello, pid: credentials.pid) },
            connected: { connection in
                await self.childConnected(connection)
                await connection.waitUntilClosed()
            })
    }

    private func serveControl() async {
        await controlServer.run(
            handlers: ControlHandlers.make(for: self),
            admit: { hello, _ in hello.role == .cli ? nil : "the control socket is for the bosun command" })
    }

    private func watchdogInterval() -> Duration? {
        guard config.supervisor.watchdog, let timeout = notifier.watchdogTimeout() else { return nil }
        return timeout / 2
    }

    /// Pings systemd's watchdog at half its timeout, each time after a round trip through this actor, so that a
    /// wedged supervisor stops pinging and systemd restarts it.
    private nonisolated func watchdog(every interval: Duration) async {
        while !Task.isCancelled {
            await self.heartbeat()
            notifier.watchdog()
            try? await Task.sleep(for: interval)
        }
    }

    private func heartbeat() {}

    /// Resolves `run`'s wait: the stop sequence is done.
    func finishStopping() {
        stopped.resolve(())
    }
}
