import Config
import Foundation
import IPC
import LinuxProcess
import Logging
import ProcessRuntime
import ServiceLifecycle
import Store
import Synchronization

/// `bosun-worker`: the job queue's consumer. Claims jobs under a lease, runs agents and gate commands under
/// per-run shims that outlive it, reports outcomes to the gatekeeper and the breaker, and adopts its predecessor's
/// runs when it starts.
@main
enum WorkerMain {
    static func main() async {
        await ChildRunner.main(role: .worker) { context in
            let database = try context.config.current.openDatabase()
            let wakes = WakeSignal()
            let control = WorkerControl(config: context.config, logger: context.logger, wakes: wakes)
            context.link.attach(control)
            let config = context.config
            guard let identity = ProcessIdentity.of(getpid()) else {
                throw LinuxProcessError(.procfs, "cannot read this process's start time from /proc")
            }
            let owner = JobRunner.ownerName(of: identity)
            let link = context.link
            let runner = JobRunner(
                database: database, config: { config.current }, logger: context.logger, owner: owner,
                launcher: RunLauncher(), watcher: try RunWatcher(),
                worktrees: try WorktreeManager(
                    stateDirectory: config.current.stateDirectory, git: try Git(),
                    poolSize: config.current.worker.readyWorktrees),
                control: control,
                notify: { notice in
                    switch notice {
                    case .outcome: _ = await link.send(OutcomesWake())
                    case .breaker(let report): _ = await link.send(report)
                    }
                })
            return [WorkerService(link: context.link, runner: runner, wakes: wakes, logger: context.logger)]
        }
    }
}

/// The worker's answers to the supervisor.
final class WorkerControl: SupervisedProcess {
    private let config: CurrentConfig
    private let logger: Logger
    private let wakes: WakeSignal
    private let state = Mutex(State())

    struct State {
        var paused = false
        /// Whether the supervisor has said pause or resume since this worker started.
        var pauseHeard = false
        var breaker: BreakerStatus?
        /// The breaker's position in the store, until the supervisor reports it (see `restore(from:)`).
        var storedBreaker: BreakerState?
    }

    init(config: CurrentConfig, logger: Logger, wakes: WakeSignal = WakeSignal()) {
        self.config = config
        self.logger = logger
        self.wakes = wakes
    }

    /// True while claims are paused by the operator.
    var isPaused: Bool { state.withLock { $0.paused } }

    /// The breaker's position as last reported by the supervisor, or as stored until it has reported it.
    var breakerState: BreakerState? { state.withLock { $0.breaker?.state ?? $0.storedBreaker } }

    /// Takes the pause and the breaker from the store, where the supervisor records both before it tells a worker.
    /// A new worker claims as soon as it is ready, a moment before the supervisor's `pause` and `breaker_changed`
    /// reach it; without this, a worker restarted while the breaker is open (or claims are paused) would start
    /// agent runs in that moment. What the supervisor says wins over what was read here.
    func restore(from database: Database) throws {
        let breaker = try database.loadBreaker().flatMap { BreakerState(rawValue: $0.state) }
        let paused = try database.operatorFlag("paused") == "true"
        state.withLock { state in
            state.storedBreaker = breaker
            if !state.pauseHeard { state.paused = paused }
        }
    }

    func pause() async throws -> PauseState {
        state.withLock {
            $0.paused = true
            $0.pauseHeard = true
        }
        logger.info("claims paused")
        return PauseState(paused: true)
    }

    func resume() async throws -> PauseState {
        state.withLock {
            $0.paused = false
            $0.pauseHeard = true
        }
        logger.info("claims resumed")
        wakes.wake()
        return PauseState(paused: false)
    }

    func reload() async throws -> ReloadReport {
        let report = try config.reload()
        logger.info("config reloaded", metadata: ["changes": "\(report.changes)"])
        wakes.wake()
        return ReloadReport(changes: [])
    }

    func breakerChanged(_ breaker: BreakerStatus) async {
        state.withLock { $0.breaker = breaker }
        logger.info("breaker changed", metadata: ["breaker.state": "\(breaker.state.rawValue)"])
        wakes.wake()
    }

    func wake(_ topic: WakeTopic) async {
        if topic == .jobs { wakes.wake() }
    }
}

/// Adopts the previous worker's runs, reports ready, then claims whenever woken (and on a slow safety poll),
/// heartbeats its leases, and turns run ends into outcomes. On stop it claims nothing more and leaves running
/// agents to the next worker (or waits for them up to `worker.drain_s`).
struct WorkerService: Service {
    let link: SupervisorLink
    let runner: JobRunner
    let wakes: WakeSignal
    let logger: Logger
    var pollInterval: Duration = .seconds(5)

    func run() async throws {
        let adoption = try await runner.adoptAndRescue()
        logger.info(
            "adoption done",
            metadata: [
                "adopted": "\(adoption.adopted)", "settled": "\(adoption.settled)", "rescued": "\(adoption.rescued)",
            ])
        await link.reportReady()
        do {
            try runner.control.restore(from: runner.database)
        } catch {
            logger.error("cannot read the pause and the breaker from the store", metadata: ["error": "\(error)"])
        }
        let stopped = WakeSignal()
        await withGracefulShutdownHandler {
            await withTaskGroup(of: Void.self) { group in
                // Ends when the watcher shuts down, after the drain: runs that end while draining still count.
                group.addTask { await self.completions() }
                group.addTask { await self.heartbeats(until: stopped) }
                group.addTask { await self.housekeeping(until: stopped) }
                await self.claims()
                await self.drain()
                stopped.finish()
                runner.watcher.shutdown()
            }
        } onGracefulShutdown: {
            wakes.finish()
        }
    }

    private func claims() async {
        while !wakes.isFinished && !Task.isCancelled {
            _ = await runner.claimAvailable()
            // Sleep until the next backoff ends. Due jobs still queued now wait for what holds them (capacity, a
            // pause, the breaker, a limit), and each of those wakes this loop when it changes (a run's end,
            // resume, breaker_changed, jobs_wake); counting them as due would spin the loop every 5 ms.
            let now = runner.clock()
            let next = (try? runner.database.read { try $0.nextAvailableAtMs(after: now) }) ?? nil
            let wait = next.map { Duration.milliseconds(min($0 - now, 5000)) } ?? pollInterval
            await wakes.wait(upTo: wait)
        }
    }

    private func completions() async {
        for await completion in runner.watcher.completions {
            guard let runID = Int64(completion.runID) else { continue }
            await runner.finish(runID: runID, state: completion.state)
            wakes.wake()
        }
    }

    private func heartbeats(until stopped: WakeSignal) async {
        let interval = Duration.seconds(runner.config().worker.heartbeatSeconds)
        while !stopped.isFinished && !Task.isCancelled {
            await stopped.wait(upTo: interval)
            runner.heartbeat()
        }
    }

    /// Retention, at start and then hourly.
    private func housekeeping(until stopped: WakeSignal) async {
        while !stopped.isFinished && !Task.isCancelled {
            let sweep = await Retention.sweep(
                database: runner.database, worktrees: runner.worktrees, config: runner.config(), now: Date(),
                logger: logger)
            if sweep != Retention.Sweep() {
                logger.info(
                    "retention sweep",
                    metadata: [
                        "removed": "\(sweep.removed)", "quarantined": "\(sweep.quarantined)",
                        "failed": "\(sweep.failed)", "files": "\(sweep.files)",
                    ])
            }
            await stopped.wait(upTo: .seconds(3600))
        }
    }

    /// With `worker.drain_s` > 0, waits up to that long for runs in flight; else leaves them to be re-adopted.
    private func drain() async {
        let seconds = runner.config().worker.drainSeconds
        guard seconds > 0 else {
            if runner.inFlight > 0 {
                logger.info("leaving runs to the next worker", metadata: ["runs": "\(runner.inFlight)"])
            }
            return
        }
        let deadline = ContinuousClock.now + .seconds(seconds)
        while runner.inFlight > 0 && ContinuousClock.now < deadline && !Task.isCancelled {
            try? await Task.sleep(for: .milliseconds(200))
        }
    }
}
