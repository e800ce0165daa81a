import Config
import Foundation
import IPC
import Logging
import ServiceLifecycle
import Synchronization

/// The skeleton every child shares: logging, the environment contract, the config, the supervisor link, and one
/// service group that shuts down gracefully on SIGTERM, on the supervisor's `stop`, or when the supervisor is gone.
public enum ChildRunner {
    /// What a child's services are built from.
    public struct Context: Sendable {
        public let role: IPCRole
        public let environment: ChildEnvironment
        public let config: CurrentConfig
        public let link: SupervisorLink
        public let logger: Logger
    }

    /// Runs the child and exits: 0 after a graceful shutdown, 1 if it could not start or a service failed.
    public static func main(
        role: IPCRole, makeServices: @Sendable (Context) async throws -> [any Service]
    ) async -> Never {
        bootstrapLogging()
        var logger = Logger(label: "bosun-\(role)")
        logger[metadataKey: "pid"] = "\(ProcessInfo.processInfo.processIdentifier)"
        do {
            let environment = try ChildEnvironment.fromProcess()
            let config = try ConfigLoader.loadSnapshot(environment.configSnapshot, of: environment.configPath)
            let link = SupervisorLink(role: role, socketPath: environment.supervisorSocket, logger: logger)
            let context = Context(
                role: role, environment: environment,
                config: CurrentConfig(config, snapshot: environment.configSnapshot), link: link, logger: logger)
            let services = try await makeServices(context)
            var configurations = [
                ServiceGroupConfiguration.ServiceConfiguration(
                    service: link, successTerminationBehavior: .gracefullyShutdownGroup,
                    failureTerminationBehavior: .gracefullyShutdownGroup)
            ]
            configurations += services.map {
                .init(
                    service: $0, successTerminationBehavior: .gracefullyShutdownGroup,
                    failureTerminationBehavior: .gracefullyShutdownGroup)
            }
            var groupConfiguration = ServiceGroupConfiguration(
                services: configurations, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
            groupConfiguration.maximumGracefulShutdownDuration = .seconds(config.stopGraceSeconds(for: role.rawValue))
            let group = ServiceGroup(configuration: groupConfiguration)
            link.onShutdownRequest { await group.triggerGracefulShutdown() }
            try await group.run()
            logger.info("stopped")
            exit(0)
        } catch {
            logger.critical("exiting", metadata: ["error": "\(error)"])
            exit(1)
        }
    }

    /// Installs `LineLogHandler` at the level in `BOSUN_LOG_LEVEL` (default `info`).
    public static func bootstrapLogging() {
        let name = ProcessInfo.processInfo.environment["BOSUN_LOG_LEVEL"] ?? "info"
        let level = Logger.Level(rawValue: name) ?? .info
        LoggingSystem.bootstrap { _ in LineLogHandler(level: level) }
    }
}

/// The config a child runs with; replaced as a whole on reload.
public final class CurrentConfig: Sendable {
    private let value: Mutex<BosunConfig>
    private let snapshot: String

    public init(_ config: BosunConfig, snapshot: String) {
        self.value = Mutex(config)
        self.snapshot = snapshot
    }

    public var current: BosunConfig { value.withLock { $0 } }

    /// Re-reads the snapshot the supervisor just wrote and swaps it in; an invalid one changes nothing and throws.
    public func reload() throws -> ReloadReport {
        let old = current
        let new = try ConfigLoader.loadSnapshot(snapshot, of: old.file)
        value.withLock { $0 = new }
        return ReloadReport(changes: ConfigDiff.changes(from: old, to: new))
    }
}
