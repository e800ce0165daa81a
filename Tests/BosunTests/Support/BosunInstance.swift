import Foundation
import IPC
import LinuxProcess
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A real `bosun run` on a fresh state directory, with helpers to look at it and poke it.
final class BosunInstance: @unchecked Sendable {
    // Invariant: used from one test task at a time.
    let directory: TemporaryDirectory
    let configPath: String
    let process: TestProcess

    /// Writes a config (`state_dir`, `listen` on port 0, fast restarts, plus `extra` YAML) and starts the
    /// supervisor, through `launcher` (a command that ends by running its arguments) if given. Does not wait for
    /// readiness.
    init(
        extraConfig extra: String = "", environment: [String: String] = [:], files: [String: String] = [:],
        launcher: [String] = []
    ) throws {
        directory = TemporaryDirectory("bosun-it")
        for (name, text) in files { try directory.write(name, text, mode: 0o600) }
        configPath = try directory.write(
            "bosun.yaml",
            """
            state_dir: ./state
            listen: 127.0.0.1:0
            \(extra)
            """)
        let command = launcher + [Binaries.bosun, "run", "-c", configPath]
        process = try TestProcess(
            command[0], Array(command.dropFirst()), environment: environment, output: directory.file("supervisor.out"))
    }

    var output: String { process.output }
    var controlSocket: String { directory.file("state/run/control.sock") }
    var supervisorSocket: String { directory.file("state/run/supervisor.sock") }

    /// Sends one control request over the real control socket.
    func request<R: IPCRequest>(_ request: R, timeout: Duration = .seconds(30)) async throws -> R.Reply {
        try await IPCClient.withConnection(
            path: controlSocket, hello: Hello(role: .cli, pid: getpid(), program: "test", version: "test"),
            logger: quietLogger
        ) { connection in
            try await connection.request(request, timeout: timeout)
        }
    }

    func status() async throws -> StatusReport {
        try await request(Status())
    }

    func process(_ name: String) async throws -> ProcessStatus {
        guard let process = try await status().processes.first(where: { $0.name == name }) else {
            throw TestFailure("no process \(name) in status")
        }
        return process
    }

    /// The port ingress serves, from the address the supervisor bound.
    func port() async throws -> Int {
        let listen = try await status().supervisor.listen
        guard let port = Int(listen.split(separator: ":").last ?? "") else { throw TestFailure("listen is \(listen)") }
        return port
    }

    /// Waits until every child is ready.
    func waitUntilReady(timeout: Duration = .seconds(30)) async throws {
        try await eventually(timeout: timeout, "all children ready; output:\n\(output)") {
            guard FileManager.default.fileExists(atPath: controlSocket),
                let report = try? await status()
            else { return false }
            return report.processes.allSatisfy { $0.state == .ready }
        }
    }

    /// Waits until `name` is ready with a pid other than `oldPID`.
    func waitForReplacement(
        of name: String, oldPID: Int32?, timeout: Duration = .seconds(30)
    ) async throws
        -> ProcessStatus
    {
        var latest: ProcessStatus?
        try await eventually(timeout: timeout, "\(name) replaced and ready") {
            latest = try? await process(name)
            guard let latest, let pid = latest.pid else { return false }
            return pid != oldPID && latest.state == .ready
        }
        return latest!
    }

    /// Runs `bosun ARGS -c CONFIG`.
    func cli(_ arguments: [String]) async throws -> (status: TerminationStatus, output: String) {
        try await bosun(arguments + ["-c", configPath], in: directory)
    }

    /// SIGTERM and wait; returns the exit status.
    func stop(timeout: Duration = .seconds(30)) async -> TerminationStatus? {
        process.signal(SIGTERM)
        return await process.wait(timeout: timeout)
    }

    /// Kills the supervisor and every process still in its children's groups; for the end of every test.
    func cleanUp() async {
        let children = ProcessTable.all().filter { $0.parentPID == process.pid }
        await process.terminate()
        for child in children { kill(-child.pid, SIGKILL) }
        // Run shims and agents live in their own sessions, on purpose: find them by their state directory.
        for stale in ProcessTable.all() where commandLine(of: stale.pid).contains(directory.path) {
            kill(stale.pid, SIGKILL)
        }
    }
}
