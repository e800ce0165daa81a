import Config
import Hummingbird
import IPC
import Logging
import ProcessRuntime

/// `bosun-ingress`: HTTP on the listening socket the supervisor hands over. In this release it serves `/healthz`;
/// webhooks and the REST API arrive with the intake.
@main
enum IngressMain {
    static func main() async {
        await ChildRunner.main(role: .ingress) { context in
            let descriptor = try context.environment.requireListenDescriptor()
            _ = try context.config.current.openDatabase()
            let server = IngressHTTPServer(
                descriptor: descriptor, responder: IngressRoutes.router().buildResponder(), logger: context.logger)
            context.link.attach(IngressControl(config: context.config, server: server, logger: context.logger))
            await context.link.reportReady()
            return [server]
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

/// The HTTP routes.
enum IngressRoutes {
    static func router() -> Router<BasicRequestContext> {
        let router = Router()
        router.get("/healthz") { _, _ in Health(status: "ok") }
        return router
    }

    /// The body of `/healthz`.
    struct Health: ResponseEncodable {
        var status: String
    }
}
