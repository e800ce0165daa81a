import Config
import Foundation
import IPC
import LinuxProcess
import ProcessRuntime
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// The `bosun run` that `bosun demo` starts: this same executable (so the children are found next to it), in its own
/// process group so that Ctrl-C reaches only the demo, which then stops it through the control socket like
/// `bosun stop`; its output goes to a log file, and it gets SIGTERM if the demo dies.
final class DemoSupervisor: Sendable {
    let pid: Int32
    let configPath: String
    let logPath: String
    private let exit = Mutex<TerminationStatus?>(nil)

    init(configPath: String, logPath: String) async throws {
        self.configPath = configPath
        self.logPath = logPath
        let output = open(logPath, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0o644)
        guard output >= 0 else {
            throw CommandFailure(message: "cannot open \(logPath): \(String(cString: strerror(errno)))")
        }
        defer { close(output) }
        let devNull = try Descriptors.devNull()
        defer { close(devNull) }
        var request = SpawnRequest(
            executable: CurrentProcess.executablePath, arguments: ["run", "-c", configPath],
            environment: ProcessInfo.processInfo.environment.filter { !ChildEnvironment.isSupervisorOnly($0.key) },
            fileDescriptors: [(devNull, 0), (output, 1), (output, 2)])
        request.argv0 = "bosun"
        request.newProcessGroup = true
        request.parentDeathSignal = SIGTERM
        pid = try await Self.spawner.spawn(request)
    }

    /// The parent-death signal follows the thread that forked; this one lives as long as the process.
    private static let spawner = SpawnThread()

    /// How the supervisor ended, once it has; reaps it without blocking.
    var exitStatus: TerminationStatus? {
        exit.withLock { known in
            if known == nil {
                var status: Int32 = 0
                if waitpid(pid, &status, WNOHANG) == pid { known = TerminationStatus(waitStatus: status) }
            }
            return known
        }
    }

    /// Waits until all three children are ready; fails with the end of the log if the supervisor exits first.
    func waitUntilReady(timeout: Duration) async throws -> StatusReport {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let status = exitStatus {
                throw CommandFailure(message: "bosun run exited (\(status)) before it was ready:\n\(logTail())")
            }
            if let report = try? await ControlClient.send(Status(), configPath: configPath, timeout: .seconds(2)),
                report.processes.allSatisfy({ $0.state == .ready })
            {
                return report
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw CommandFailure(message: "bosun run was not ready within \(timeout):\n\(logTail())")
    }

    /// Stops it as `bosun stop` does (SIGTERM if the control socket does not answer), waits `grace`, then kills its
    /// process group. Returns how it ended.
    @discardableResult
    func stop(grace: Duration) async -> TerminationStatus? {
        if let status = exitStatus { return status }
        do {
            _ = try await ControlClient.send(Stop(reason: "bosun demo is done"), configPath: configPath)
        } catch {
            kill(pid, SIGTERM)
        }
        let deadline = ContinuousClock.now + grace
        while ContinuousClock.now < deadline {
            if let status = exitStatus { return status }
            try? await Task.sleep(for: .milliseconds(50))
        }
        kill(-pid, SIGKILL)
        for _ in 0..<100 {
            if let status = exitStatus { return status }
            try? await Task.sleep(for: .milliseconds(50))
        }
        return nil
    }

    /// The last lines of the supervisor's output, indented.
    func logTail(lines: Int = 15) -> String {
        let text = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").suffix(lines).map { "    \($0)" }.joined(separator: "\n")
    }
}
