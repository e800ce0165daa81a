/// Child → supervisor: the child has finished starting and serves. Sent once per process.
public struct Ready: IPCEvent {
    public static let type = "ready"
    public init() {}
}

/// Supervisor → child: are you alive and responsive?
public struct Ping: IPCRequest {
    public static let type = "ping"
    public typealias Reply = Pong
    public init() {}
}

/// The answer to `Ping`.
public struct Pong: Codable, Sendable {
    public var pid: Int32
    public init(pid: Int32) { self.pid = pid }
}

/// Stop claiming new work (the worker); running work continues. CLI → supervisor → worker.
public struct Pause: IPCRequest {
    public static let type = "pause"
    public typealias Reply = PauseState
    public init() {}
}

/// Resume claiming work. CLI → supervisor → worker.
public struct Resume: IPCRequest {
    public static let type = "resume"
    public typealias Reply = PauseState
    public init() {}
}

/// The answer to `Pause` and `Resume`.
public struct PauseState: Codable, Sendable, Equatable {
    public var paused: Bool
    public init(paused: Bool) { self.paused = paused }
}

/// Shut down gracefully. CLI → supervisor (stop everything), supervisor → child (stop this process).
public struct Stop: IPCRequest {
    public static let type = "stop"
    public typealias Reply = Empty
    public var reason: String
    public init(reason: String) { self.reason = reason }
}

/// Re-read and apply the configuration file. CLI → supervisor → each child. An invalid file is an error reply and
/// changes nothing.
public struct Reload: IPCRequest {
    public static let type = "reload"
    public typealias Reply = ReloadReport
    public init() {}
}

/// What a reload did. From the supervisor: one line per changed section and what each child noted. From a child:
/// only what needs the operator's attention, such as a setting that applies after its next restart.
public struct ReloadReport: Codable, Sendable {
    /// One line per change, e.g. `breaker changed`.
    public var changes: [String]
    public init(changes: [String]) { self.changes = changes }
}

/// Supervisor → ingress: start or stop accepting connections on the shared listening socket. Ingress starts
/// without accepting; the supervisor hands the socket over so that two ingress processes never accept at once (in a
/// rolling restart the old one lets go before the new one takes over, while the kernel queues connections).
public struct SetAccepting: IPCRequest {
    public static let type = "set_accepting"
    public typealias Reply = AcceptingState
    public var accepting: Bool
    public init(accepting: Bool) { self.accepting = accepting }
}

/// The answer to `SetAccepting`, sent once the change has taken effect.
public struct AcceptingState: Codable, Sendable, Equatable {
    public var accepting: Bool
    public init(accepting: Bool) { self.accepting = accepting }
}

/// Ingress → supervisor → gatekeeper: new deliveries are in the inbox. Best effort: the gatekeeper also finds
/// unprocessed rows by itself when it starts.
public struct InboxWake: IPCEvent {
    public static let type = "inbox_wake"
    public init() {}
}

/// Gatekeeper → supervisor → worker: jobs were enqueued (or became claimable). Best effort: the worker also polls
/// slowly.
public struct JobsWake: IPCEvent {
    public static let type = "jobs_wake"
    public init() {}
}

/// Worker → supervisor → gatekeeper: a job finished and its outcome is in the store. Best effort, like the others.
public struct OutcomesWake: IPCEvent {
    public static let type = "outcomes_wake"
    public init() {}
}
