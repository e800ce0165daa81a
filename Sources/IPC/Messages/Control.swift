import Foundation

/// The states a supervised process moves through.
public enum ProcessState: String, Codable, Sendable, CaseIterable {
    /// Spawned; waiting for its `ready`.
    case starting
    case ready
    /// Exited; waiting out the restart delay.
    case backoff
    /// Restarted too often; left down until `bosun restart NAME`.
    case failed
    /// Asked to stop; waiting for it to exit.
    case stopping
}

/// How a process last ended. Absent values encode as `null`, so that every record has the same keys.
public struct ExitRecord: Codable, Sendable, Equatable {
    /// The exit code, when it exited.
    public var code: Int32?
    /// The signal number, when it was killed.
    public var signal: Int32?
    /// `exit 1`, `killed by SIGKILL`.
    public var description: String
    public var at: Date

    public init(code: Int32?, signal: Int32?, description: String, at: Date) {
        self.code = code
        self.signal = signal
        self.description = description
        self.at = at
    }

    private enum CodingKeys: String, CodingKey {
        case code, signal, description, at
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(code, forKey: .code)
        try container.encode(signal, forKey: .signal)
        try container.encode(description, forKey: .description)
        try container.encode(at, forKey: .at)
    }
}

/// One supervised process in `bosun status`. Absent values encode as `null`, so that every process has the same
/// keys.
public struct ProcessStatus: Codable, Sendable, Equatable {
    /// `ingress`, `worker` or `gatekeeper`.
    public var name: String
    public var pid: Int32?
    public var state: ProcessState
    /// Restarts after a crash since the supervisor started (or since `bosun restart NAME`).
    public var restarts: Int
    /// Seconds since the current instance was spawned.
    public var uptimeS: Double?
    public var lastExit: ExitRecord?
    /// The restart delay being waited out, in `backoff`.
    public var backoffMs: Int?
    /// Why the process is `failed`.
    public var failure: String?
    /// For the worker: whether claims are paused.
    public var paused: Bool?

    public init(
        name: String, pid: Int32?, state: ProcessState, restarts: Int, uptimeS: Double?, lastExit: ExitRecord?,
        backoffMs: Int?, failure: String?, paused: Bool?
    ) {
        self.name = name
        self.pid = pid
        self.state = state
        self.restarts = restarts
        self.uptimeS = uptimeS
        self.lastExit = lastExit
        self.backoffMs = backoffMs
        self.failure = failure
        self.paused = paused
    }

    private enum CodingKeys: String, CodingKey {
        case name, pid, state, restarts, uptimeS, lastExit, backoffMs, failure, paused
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(name, forKey: .name)
        try container.encode(pid, forKey: .pid)
        try container.encode(state, forKey: .state)
        try container.encode(restarts, forKey: .restarts)
        try container.encode(uptimeS, forKey: .uptimeS)
        try container.encode(lastExit, forKey: .lastExit)
        try container.encode(backoffMs, forKey: .backoffMs)
        try container.encode(failure, forKey: .failure)
        try container.encode(paused, forKey: .paused)
    }
}

/// The supervisor itself in `bosun status`.
public struct SupervisorStatus: Codable, Sendable, Equatable {
    public var pid: Int32
    public var version: String
    /// `starting`, `running`, `reloading` or `stopping`.
    public var state: String
    /// The address ingress serves, with the port the kernel chose if the config said 0.
    public var listen: String
    public var config: String
    public var uptimeS: Double
    /// The last sd_notify `STATUS=` text.
    public var statusText: String

    public init(
        pid: Int32, version: String, state: String, listen: String, config: String, uptimeS: Double,
        statusText: String
    ) {
        self.pid = pid
        self.version = version
        self.state = state
        self.listen = listen
        self.config = config
        self.uptimeS = uptimeS
        self.statusText = statusText
    }
}

/// CLI → supervisor: everything `bosun status` shows.
public struct Status: IPCRequest {
    public static let type = "status"
    public typealias Reply = StatusReport
    public init() {}
}

/// The answer to `Status`; `bosun status --json` prints it as is.
public struct StatusReport: Codable, Sendable, Equatable {
    public var supervisor: SupervisorStatus
    public var processes: [ProcessStatus]
    public var breaker: BreakerStatus

    public init(supervisor: SupervisorStatus, processes: [ProcessStatus], breaker: BreakerStatus) {
        self.supervisor = supervisor
        self.processes = processes
        self.breaker = breaker
    }
}

/// CLI → supervisor: restart one process now, clearing `failed` and its restart budget.
public struct Restart: IPCRequest {
    public static let type = "restart"
    public typealias Reply = ProcessStatus
    public var name: String
    public init(name: String) { self.name = name }
}

/// CLI → supervisor: replace every child, one at a time; the next starts only when the replacement is ready.
public struct RollingRestart: IPCRequest {
    public static let type = "rolling_restart"
    public typealias Reply = RollingRestartReport
    public init() {}
}

/// What a rolling restart did, process by process.
public struct RollingRestartReport: Codable, Sendable {
    /// One replaced process.
    public struct Step: Codable, Sendable {
        public var name: String
        public var oldPid: Int32?
        public var newPid: Int32
        /// From the decision to replace to the replacement's `ready`.
        public var durationMs: Int

        public init(name: String, oldPid: Int32?, newPid: Int32, durationMs: Int) {
            self.name = name
            self.oldPid = oldPid
            self.newPid = newPid
            self.durationMs = durationMs
        }
    }

    public var steps: [Step]
    public init(steps: [Step]) { self.steps = steps }
}
