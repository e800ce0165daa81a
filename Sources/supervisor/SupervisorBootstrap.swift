import Config
import Foundation
import IPC
import LinuxProcess
import Logging
import ProcessRuntime
import Store
import Synchronization
import Systemd

/// Everything `bosun run` prepares before the first child is spawned, in order; each failure is one clear error.
enum SupervisorBootstrap {
    static func prepare(_ source: ConfigSource, logger: Logger) async throws(SupervisorError) -> Supervisor {
        let config = source.config
        let layout = config.layout
        try makeDirectory(layout.root, mode: 0o700)
        try makeDirectory(layout.logDirectory, mode: 0o750)
        try makeDirectory(layout.runDirectory, mode: 0o700)
        let supervisorLog = try RotatingLog(
            path: layout.logFile(for: "supervisor"), maxBytes: config.logs.maxFileBytes, keep: config.logs.keepFiles)
        supervisorLogSink.attach(supervisorLog)

        let controlServer: IPCServer
        do {
            controlServer = try await IPCServer.bind(path: layout.controlSocket, role: .supervisor, logger: logger)
        } catch {
            if error.code == .socketSetup && error.message.contains("in use") {
                throw SupervisorError(
                    .alreadyRunning, "another bosun is already running on \(layout.root) (\(layout.controlSocket))")
            }
            throw SupervisorError(.setup, error.message)
        }

        let database: Database
        do {
            database = try config.openDatabase()
            // Opening the inbox moves an older store's deliveries into it, before any child stores one.
            _ = try config.openInbox(store: database)
        } catch {
            throw SupervisorError(.setup, "cannot open the store \(layout.database): \(error)")
        }

        let listener: ListeningSocket
        do {
            if let descriptor = try SocketActivation.takeListeningSockets().first {
                listener = ListeningSocket.adopt(systemdDescriptor: descriptor)
                logger.info("using the socket from systemd", metadata: ["listen": "\(listener.address)"])
            } else {
                listener = try ListeningSocket.bind(config.listen, backlog: config.supervisor.listenBacklog)
            }
        } catch {
            throw SupervisorError(.setup, "\(error)")
        }

        do {
            try Reaper.becomeSubreaper()
            try ConfigSnapshot.write(source.text, to: layout.configSnapshot)
        } catch {
            throw SupervisorError(.setup, "\(error)")
        }
        let childServer: IPCServer
        do {
            childServer = try await IPCServer.bind(path: layout.supervisorSocket, role: .supervisor, logger: logger)
        } catch {
            throw SupervisorError(.setup, error.message)
        }
        return try Supervisor(
            config: config, listener: listener, database: database, childServer: childServer,
            controlServer: controlServer, supervisorLog: supervisorLog, logger: logger)
    }

    private static func makeDirectory(_ path: String, mode: mode_t) throws(SupervisorError) {
        do {
            try FileManager.default.createDirectory(
                atPath: path, withIntermediateDirectories: true, attributes: [.posixPermissions: mode])
        } catch {
            throw SupervisorError(.setup, "cannot create \(path): \(error.localizedDescription)")
        }
    }
}

/// Where the supervisor's own log lines go: the log relay (stderr, or the journal under systemd) and, once the state
/// directory is known, `logs/supervisor.log`.
final class SupervisorLogSink: Sendable {
    private let file = Mutex<RotatingLog?>(nil)

    func attach(_ log: RotatingLog) {
        file.withLock { $0 = log }
    }

    func write(_ line: String) {
        file.withLock { $0 }?.append("[\(getpid())] \(line)")
        logRelay.relay(line, identifier: "bosun", prefix: "bosun", pid: getpid())
    }
}

/// The supervisor's log sink; one per process.
let supervisorLogSink = SupervisorLogSink()
