import LinuxProcess

#if canImport(Glibc)
import Glibc
#endif

/// Starts agent runs under `bosun-shim`, so that they outlive the worker (SPEC §5.4).
///
/// The shim is spawned in its own session (the supervisor's kill of the worker's process group does not reach it),
/// without a parent-death signal, with stdin, stdout and stderr on /dev/null and no other descriptor but a readiness
/// pipe. The shim writes one line to that pipe once `agent.pid` is on disk.
public struct RunLauncher: Sendable {
    /// The `bosun-shim` executable.
    public var shimPath: String
    /// How long `launch` waits for the shim to report the agent started.
    public var readyTimeout: Duration

    /// `shimPath` nil: `bosun-shim` next to the running executable.
    public init(shimPath: String? = nil, readyTimeout: Duration = .seconds(5)) {
        self.shimPath = shimPath ?? RunLauncher.defaultShimPath
        self.readyTimeout = readyTimeout
    }

    /// The environment variable naming the run directory in the shim's and every run process's environment.
    public static let runMarker = "BOSUN_RUN_DIR"

    /// `bosun-shim` in the directory of `/proc/self/exe`.
    public static var defaultShimPath: String {
        let executable = CurrentProcess.executablePath
        guard let slash = executable.lastIndex(of: "/") else { return "bosun-shim" }
        return "\(executable[..<slash])/bosun-shim"
    }

    /// Starts the shim for `spec` and waits (at most `readyTimeout`) until it has started the agent. Throws only if
    /// the shim cannot be started; every run that returns a handle ends with one completion from a `RunWatcher`
    /// (a setup failure of the shim included, as `RunExit.Outcome.setupFailed`).
    public func launch(_ spec: RunSpec) throws(RunError) -> RunHandle {
        if let problem = spec.problem { throw RunError(.invalidSpec, "run \(spec.runID): \(problem)") }
        try prepareRunDirectory(spec.runDirectory)

        var arguments = [
            "--run-dir", spec.runDirectory, "--log", spec.logPath, "--cwd", spec.workingDirectory,
            "--timeout-ms", String(spec.timeout?.wholeMilliseconds ?? 0),
            "--grace-ms", String(spec.killGrace.wholeMilliseconds), "--ready-fd", "3",
        ]
        if let stdinPath = spec.stdinPath { arguments += ["--stdin", stdinPath] }
        arguments += ["--"] + spec.argv

        let ready: (read: Int32, write: Int32)
        let devNull: Int32
        do {
            ready = try Descriptors.pipe()
            devNull = try Descriptors.devNull()
        } catch {
            throw RunError(.spawn, "cannot prepare descriptors for run \(spec.runID)", cause: error)
        }
        defer { close(ready.read) }
        // Every process of the run inherits the marker, including one that leaves the agent's session: what a
        // killed shim can no longer clean up is found by it (`RunProbe.settle`).
        var environment = spec.environment
        environment[RunLauncher.runMarker] = spec.runDirectory
        var request = SpawnRequest(
            executable: shimPath, arguments: arguments, environment: environment,
            fileDescriptors: [(devNull, 0), (devNull, 1), (devNull, 2), (ready.write, 3)])
        request.argv0 = "bosun-shim"
        request.newSession = true
        request.parentDeathSignal = 0
        let pid: pid_t
        do {
            pid = try ProcessSpawner.spawn(request)
            close(ready.write)
            close(devNull)
        } catch {
            close(ready.write)
            close(devNull)
            if let child = error.childPID {
                var status: Int32 = 0
                _ = waitpid(child, &status, 0)  // the failed child has exited; it is ours to reap
            }
            throw RunError(.spawn, "cannot start \(shimPath) for run \(spec.runID)", cause: error)
        }
        // The shim is our unreaped child, so its pid and start time are stable here even if it has already exited.
        guard let shim = ProcessIdentity.of(pid) else {
            throw RunError(.spawn, "the shim of run \(spec.runID) (pid \(pid)) is not in /proc")
        }
        var handle = RunHandle(runID: spec.runID, runDirectory: spec.runDirectory, shim: shim, agent: nil)
        if waitForReadyLine(ready.read) {
            handle.agent = (try? AgentRecord.read(runDirectory: spec.runDirectory))??.agent
        }
        return handle
    }

    /// Makes the run directory (0700) if it is missing, and refuses one that holds a previous run's files: adoption
    /// would read them as this run's.
    private func prepareRunDirectory(_ path: String) throws(RunError) {
        if mkdir(path, 0o700) != 0 && errno != EEXIST {
            throw RunError(.runDirectory, "cannot make the run directory \(path)", cause: SystemError(errno))
        }
        for name in [RunFiles.agentPID, RunFiles.exitStatus] where access("\(path)/\(name)", F_OK) == 0 {
            throw RunError(.runDirectory, "\(path) already holds \(name) of another run")
        }
    }

    /// True once the shim wrote its readiness line; false on EOF (the shim ended early) or after `readyTimeout`.
    private func waitForReadyLine(_ descriptor: Int32) -> Bool {
        let deadline = ContinuousClock.now + readyTimeout
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 16)
        while true {
            let remaining = deadline - ContinuousClock.now
            guard remaining > .zero else { return false }
            var poll = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
            let polled = Glibc.poll(&poll, 1, Int32(clamping: remaining.wholeMilliseconds + 1))
            if polled < 0 && errno == EINTR { continue }
            guard polled > 0 else { return false }
            let count = read(descriptor, &buffer, buffer.count)
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { return false }
            received += buffer[..<count]
            if received.contains(UInt8(ascii: "\n")) { return true }
        }
    }
}
