import Config
import IPC
import Logging
import ProcessRuntime
import ServiceLifecycle
import Store

/// `bosun-gatekeeper`: the workflow engine. In this release it holds the store open and answers the supervisor;
/// the inbox, the statechart and the outbox arrive with the workflow engine.
@main
enum GatekeeperMain {
    static func main() async {
        await ChildRunner.main(role: .gatekeeper) { context in
            _ = try context.config.current.openDatabase()
            context.link.attach(GatekeeperControl(config: context.config, logger: context.logger))
            return [GatekeeperService(link: context.link)]
        }
    }
}

/// The gatekeeper's answers to the supervisor.
struct GatekeeperControl: SupervisedProcess {
    let config: CurrentConfig
    let logger: Logger

    func reload() async throws -> ReloadReport {
        let report = try config.reload()
        logger.info("config reloaded", metadata: ["changes": "\(report.changes)"])
        return ReloadReport(changes: [])
    }
}

/// Reports ready once the store is open, then waits for shutdown.
struct GatekeeperService: Service {
    let link: SupervisorLink

    func run() async throws {
        await link.reportReady()
        try? await gracefulShutdown()
    }
}
