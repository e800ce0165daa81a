import Config
import Hummingbird
import IPC
import Logging
import ProcessRuntime
import ServiceLifecycle
import Store

/// `bosun-ingress`: HTTP on the listening socket the supervisor hands over. Verifies, deduplicates and durably
/// stores webhooks before answering them; serves health, readiness and metrics.
@main
enum IngressMain {
    static func main() async {
        await ChildRunner.main(role: .ingress) { context in
            let descriptor = try context.environment.requireListenDescriptor()
            let config = context.config.current
            let writer = try config.openDatabase(busyTimeout: .milliseconds(config.ingress.storeTimeoutMilliseconds))
            let reader = try config.openDatabase()
            let wakes = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
            let inbox = try InboxWriter(
                database: writer, checkpointer: try config.openDatabase(), logger: context.logger
            ) {
                _ in wakes.continuation.yield()
            }
            let metrics = IngressMetrics()
            let app = IngressApp(
                config: context.config, inbox: inbox, reader: reader, metrics: metrics, link: context.link,
                logger: context.logger)
            let server = IngressHTTPServer(
                descriptor: descriptor, responder: app.router().buildResponder(), limits: config.ingress,
                metrics: metrics, logger: context.logger)
            context.link.attach(IngressControl(config: context.config, server: server, logger: context.logger))
            await context.link.reportReady()
            return [server, GatekeeperWaker(link: context.link, wakes: wakes.stream)]
        }
    }
}

/// The ingress's answers to the supervisor.
struct IngressControl<Responder: HTTPResponder>: SupervisedProcess where Responder.Context == BasicRequestContext {
    let config: CurrentConfig
    let server: IngressHTTPServer<Responder>
    let logger: Logger

    func setAccepting(_ accepting: Bool) async throws -> AcceptingState {
        try await server.setAccepting(accepting)
    }

    func reload() async throws -> ReloadReport {
        let report = try config.reload()
        logger.info("config reloaded", metadata: ["changes": "\(report.changes)"])
        return report
    }
}

/// Tells the gatekeeper (through the supervisor) that new deliveries are in the inbox, at most one wake-up in
/// flight: commits that happen meanwhile fold into the next one.
struct GatekeeperWaker: Service {
    let link: SupervisorLink
    let wakes: AsyncStream<Void>

    func run() async throws {
        await cancelWhenGracefulShutdown {
            for await _ in wakes {
                await link.send(InboxWake())
            }
        }
    }
}
