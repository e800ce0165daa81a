import Config
import Foundation
import IPC
import Logging
import ProcessRuntime

/// How a command reaches the running supervisor: the control socket in the config's state directory.
enum ControlClient {
    /// Sends `request` and returns the reply.
    ///
    /// - Throws: `CommandFailure` with status 3 if no supervisor runs; with status 1 for a refused or failed command.
    static func send<Request: IPCRequest>(
        _ request: Request, configPath: String, timeout: Duration = .seconds(10)
    ) async throws -> Request.Reply {
        try await withConnection(configPath: configPath) { connection in
            try await connection.request(request, timeout: timeout)
        }
    }

    /// Runs `body` with a connection to the supervisor.
    static func withConnection<Result: Sendable>(
        configPath: String, _ body: @escaping @Sendable (IPCConnection) async throws -> Result
    ) async throws -> Result {
        let stateDirectory: String
        do {
            stateDirectory = try ConfigLoader.stateDirectory(ofConfigAt: configPath)
        } catch {
            throw CommandFailure(message: "\(error.file): \(error)")
        }
        let socket = StateLayout(root: stateDirectory).controlSocket
        let notRunning = CommandFailure(
            message: "no supervisor is running for \(configPath) (nothing answers on \(socket))",
            status: CommandFailure.notRunning)
        guard FileManager.default.fileExists(atPath: socket) else { throw notRunning }
        var logger = Logger(label: "bosun")
        logger.logLevel = .critical
        do {
            return try await IPCClient.withConnection(
                path: socket,
                hello: Hello(role: .cli, pid: getpid(), program: "bosun", version: BosunVersion.current),
                logger: logger, body: body)
        } catch let error as IPCError where error.code == .unreachable {
            throw notRunning
        } catch let error as IPCError {
            throw CommandFailure(message: error.message)
        }
    }
}
