import ArgumentParser
import Config
import Foundation
import LinuxProcess
import Logging
import ProcessRuntime

#if canImport(Glibc)
import Glibc
#endif

/// `bosun run`: the supervisor, in the foreground.
struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run", abstract: "Start the supervisor and its children in the foreground.")

    /// The signals `run` handles: child exits, stop, reload.
    static let handledSignals: [Int32] = [SIGCHLD, SIGTERM, SIGINT, SIGHUP]

    @OptionGroup var options: ConfigOption

    func run() async throws {
        try await reportingFailures {
            let source: ConfigSource
            do {
                source = try ConfigLoader.loadSource(path: options.path)
            } catch let error as ConfigError {
                let lines = error.issues.map { "\(error.file): \($0)" }.joined(separator: "\n")
                throw CommandFailure(message: "refusing to start; the config is invalid:\n\(lines)")
            }
            let level = Logger.Level(rawValue: ProcessInfo.processInfo.environment["BOSUN_LOG_LEVEL"] ?? "") ?? .info
            LoggingSystem.bootstrap { _ in LineLogHandler(level: level, sink: supervisorLogSink.write) }
            var logger = Logger(label: "bosun")
            logger.logLevel = level
            let signals = try ProcessSignals.stream()
            let supervisor: Supervisor
            do {
                supervisor = try await SupervisorBootstrap.prepare(source, logger: logger)
            } catch let error as SupervisorError {
                throw CommandFailure(message: error.message)
            }
            await supervisor.run(signals: signals)
        }
    }
}
