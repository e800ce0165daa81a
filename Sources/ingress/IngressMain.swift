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
            let reader = try config.openDatabase()
            // The inbox file is ingress's alone to write (and `bosun task`'s): a commit never waits for the
            // gatekeeper's or the worker's transactions, which are in the main file.
            let writer = try config.openInbox(
                store: reader, busyTimeout: .milliseconds(config.ingress.storeTimeoutMilliseconds))
            let inboxReader = try config.openInbox(store: reader)
            let wakes = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
            let inbox = try InboxWriter(database: writer, logger: context.logger) { _ in
                wakes.continuation.yield()
            }
            let metrics = IngressMetrics()
            let health = HealthCache(reader: reader, inboxReader: inboxReader, link: context.link)
            var app = IngressApp(
                config: context.config, inbox: inbox, health: health,
                bodies: BodyBudget(limit: config.ingress.maxInflightBodyBytes), metrics: metrics,
                logger: context.logger)
            let api = TasksAPI(
                config: context.config, reader: reader, inboxReader: inboxReader, inbox: inbox, health: health)
            app.api = api
            app.dashboard = Dashboard(config: context.config, api: api, logger: context.logger)
            let current = context.config
            let server = IngressHTTPServer(
                descriptor: descriptor, responder: app.router().buildResponder(),
                deadlines: {
                    let limits = current.current.ingress
                    return DeadlineSettings(
                        head: .seconds(Int64(limits.headerTimeoutSeconds)),
                        body: .seconds(Int64(limits.bodyTimeoutSeconds)))
                },
                idleTimeout: .seconds(Int64(config.ingress.idleTimeoutSeconds)), metrics: metrics,
                logger: context.logger)
            context.link.attach(
                IngressControl(config: context.config, server: server, inbox: inbox, logger: context.logger))
            await context.link.reportReady()
            return [server, GatekeeperWaker(link: context.link, wakes: wakes.stream)]
        }
    }
}

/// The ingress's answers to the supervisor.
struct IngressControl<Responder: HTTPResponder>: SupervisedProcess where Responder.Context == BasicRequestContext {
    let config: CurrentConfig
    let server: IngressHTTPServer<Responder>
    let inbox: InboxWriter
    let logger: Logger

    func setAccepting(_ accepting: Bool) async throws -> AcceptingState {
        try await server.setAccepting(accepting)
    }

    /// Everything under `ingress` takes effect at once (limits and deadlines are read per request and per deadline,
    /// the store timeout is applied to the writer) except the idle timeout and the in-flight body budget, which the
    /// next ingress process gets: the report says so.
    func reload() async throws -> ReloadReport {
        let old = config.current.ingress
        let report = try config.reload()
        let new = config.current.ingress
        inbox.setStoreTimeout(.milliseconds(new.storeTimeoutMilliseconds))
        logger.info("config reloaded", metadata: ["changes": "\(report.changes)"])
        var notes: [String] = []
        if new.idleTimeoutSeconds != old.idleTimeoutSeconds {
            notes.append("ingress.idle_timeout_s applies after `bosun restart ingress`")
        }
        if new.maxInflightBodyBytes != old.maxInflightBodyBytes {
            notes.append("ingress.max_inflight_body_bytes applies after `bosun restart ingress`")
        }
        return ReloadReport(changes: notes)
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
