import LinuxProcess

/// Everything needed to start one agent run under a shim. docs/RUNS.md describes the shim and its files.
public struct RunSpec: Sendable, Equatable {
    /// The run's id in the store; the watcher reports exits under it.
    public var runID: String
    /// The agent's command: argv[0] is looked up in the `PATH` of `environment`.
    public var argv: [String]
    /// The agent's complete environment (an allow-list built by the worker); nothing else is inherited.
    public var environment: [String: String]
    /// The directory the agent runs in (absolute).
    public var workingDirectory: String
    /// A file for the agent's stdin (the brief), or nil for /dev/null.
    public var stdinPath: String?
    /// The agent's stdout and stderr are appended here (created 0600).
    public var logPath: String
    /// Where the shim writes `agent.pid` and `exit.status`; one directory per run, made if missing.
    public var runDirectory: String
    /// After this the agent's process group gets SIGTERM, and SIGKILL after `killGrace`. Nil: no timeout.
    public var timeout: Duration?
    /// Between SIGTERM and SIGKILL, on timeout and on cancel.
    public var killGrace: Duration

    public init(
        runID: String, argv: [String], environment: [String: String], workingDirectory: String,
        stdinPath: String? = nil, logPath: String, runDirectory: String, timeout: Duration?,
        killGrace: Duration = .seconds(10)
    ) {
        self.runID = runID
        self.argv = argv
        self.environment = environment
        self.workingDirectory = workingDirectory
        self.stdinPath = stdinPath
        self.logPath = logPath
        self.runDirectory = runDirectory
        self.timeout = timeout
        self.killGrace = killGrace
    }

    /// The problem that makes this spec unrunnable, or nil.
    var problem: String? {
        if runID.isEmpty { return "the run id is empty" }
        if argv.isEmpty || argv[0].isEmpty { return "the agent command is empty" }
        for (name, path) in [
            ("working directory", workingDirectory), ("log path", logPath), ("run directory", runDirectory),
            ("stdin path", stdinPath ?? "/"),
        ] where !path.hasPrefix("/") {
            return "the \(name) must be absolute: \(path)"
        }
        if let timeout, timeout <= .zero { return "the timeout must be positive" }
        if killGrace < .zero { return "the kill grace must not be negative" }
        if environment.keys.contains(where: { $0.isEmpty || $0.contains("=") }) {
            return "an environment name is empty or contains '='"
        }
        let strings = argv + Array(environment.keys) + Array(environment.values)
        if strings.contains(where: { $0.utf8.contains(0) }) { return "argv or the environment contains a NUL byte" }
        return nil
    }
}

/// A run the shim has started: enough to record in the store and to adopt it after a restart.
public struct RunHandle: Sendable, Equatable {
    public var runID: String
    public var runDirectory: String
    /// The shim process; the watcher watches it.
    public var shim: ProcessIdentity
    /// The agent, once the shim wrote `agent.pid`; nil if the shim failed before starting it (the watcher then
    /// reports the shim's `setup_failed` status) or did not report within the launcher's wait.
    public var agent: ProcessIdentity?
}

extension Duration {
    /// Whole milliseconds, rounded down, at least 0.
    var wholeMilliseconds: Int64 {
        let (seconds, attoseconds) = components
        return max(0, seconds * 1000 + attoseconds / 1_000_000_000_000_000)
    }
}
