import Config
import IPC
import Logging
import ProcessRuntime
import ServiceLifecycle
import Store
import Synchronization

/// `bosun-worker`: the job queue's consumer. In this release it holds the store open, obeys pause and resume, and
/// follows the circuit breaker; claiming and running jobs arrive with the queue.
@main
enum WorkerMain {
    static func main() async {
        await ChildRunner.main(role: .worker) { context in
            _ = try context.config.current.openDatabase()
            let control = WorkerControl(config: context.config, logger: context.logger)
            context.link.attach(control)
            return [WorkerService(link: context.link, control: control, logger: context.logger)]
        }
    }
}

/// The worker's answers to the supervisor.
final class WorkerControl: SupervisedProcess {
    private let config: CurrentConfig
    private let logger: Logger
    private let state = Mutex(State())

    struct State {
        var paused = false
        var breaker: BreakerStatus?
    }

    init(config: CurrentConfig, logger: Logger) {
        self.config = config
        self.logger = logger
    }

    /// True while claims are paused by the operator.
    var isPaused: Bool { state.withLock { $0.paused } }

    /// The breaker as last reported by the supervisor.
    var breaker: BreakerStatus? { state.withLock { $0.breaker } }

    func pause() async throws -> PauseState {
        state.withLock { $0.paused = true }
        logger.info("claims paused")
        return PauseState(paused: true)
    }

    func resume() async throws -> PauseState {
        state.withLock { $0.paused = false }
        logger.info("claims resumed")
        return PauseState(paused: false)
    }

    func reload() async throws -> ReloadReport {
        let report = try config.reload()
        logger.info("config reloaded", metadata: ["changes": "\(report.changes)"])
        return ReloadReport(changes: [])
    }

    func breakerChanged(_ breaker: BreakerStatus) async {
        state.withLock { $0.breaker = breaker }
        logger.info("breaker changed", metadata: ["breaker.state": "\(breaker.state.rawValue)"])
    }
}

/// Reports ready once the store is open, then waits for shutdown.
struct WorkerService: Service {
    let link: SupervisorLink
    let control: WorkerControl
    let logger: Logger

    func run() async throws {
        await link.reportReady()
        try? await gracefulShutdown()
    }
}
