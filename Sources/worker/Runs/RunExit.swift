import LinuxProcess

#if canImport(Glibc)
import Glibc
#endif

/// How an agent run ended, as the shim wrote it to `exit.status` (see docs/RUNS.md).
public struct RunExit: Equatable, Sendable {
    /// What happened to the agent.
    public enum Outcome: Equatable, Sendable {
        /// The agent exited with this code.
        case exited(code: Int32)
        /// The agent was killed by this signal (by the timeout, a cancel, or anything else).
        case signaled(signal: Int32)
        /// The agent could not be started: exec (or chdir, or setsid) failed. The reason names the step and errno.
        case execFailed(reason: String)
        /// The shim could not prepare the run (the log or stdin file cannot be opened, `agent.pid` cannot be written).
        case setupFailed(reason: String)
        /// The shim lost track of the agent and killed it.
        case shimFailed(reason: String)
    }

    public var outcome: Outcome
    /// The shim's timeout fired (the agent's group got SIGTERM, then SIGKILL after the grace).
    public var timedOut: Bool
    /// The shim received SIGTERM or SIGINT (the worker's cancel or drain) and passed it on.
    public var cancelled: Bool
    /// The agent process, when one was forked.
    public var agent: ProcessIdentity?
    /// Wall-clock milliseconds since 1970 when the agent was forked, and when its end was seen.
    public var startedAtMs: Int64
    public var endedAtMs: Int64

    public init(
        outcome: Outcome, timedOut: Bool = false, cancelled: Bool = false, agent: ProcessIdentity? = nil,
        startedAtMs: Int64, endedAtMs: Int64
    ) {
        self.outcome = outcome
        self.timedOut = timedOut
        self.cancelled = cancelled
        self.agent = agent
        self.startedAtMs = startedAtMs
        self.endedAtMs = endedAtMs
    }

    /// True for an agent that exited 0 on its own.
    public var isCleanSuccess: Bool { outcome == .exited(code: 0) && !timedOut && !cancelled }

    /// Parses the text of `exit.status`.
    public init(statusText text: String) throws(RunError) {
        let fields = KeyValueFile.parse(text)
        guard fields["version"] == "1" else {
            throw RunError(.statusFile, "exit.status has no version=1 line")
        }
        func number(_ key: String) throws(RunError) -> Int64 {
            guard let text = fields[key], let value = Int64(text) else {
                throw RunError(.statusFile, "exit.status has no valid \(key)")
            }
            return value
        }
        let reason = fields["reason"] ?? ""
        switch fields["result"] {
        case "exited": outcome = .exited(code: Int32(truncatingIfNeeded: try number("exit_code")))
        case "signaled": outcome = .signaled(signal: Int32(truncatingIfNeeded: try number("signal")))
        case "exec_failed": outcome = .execFailed(reason: reason)
        case "setup_failed": outcome = .setupFailed(reason: reason)
        case "lost": outcome = .shimFailed(reason: reason)
        case let other: throw RunError(.statusFile, "exit.status has an unknown result \(other ?? "(none)")")
        }
        timedOut = fields["timed_out"] == "1"
        cancelled = fields["cancelled"] == "1"
        startedAtMs = try number("started_ms")
        endedAtMs = try number("ended_ms")
        let pid = try number("agent_pid")
        agent = pid > 0 ? ProcessIdentity(pid: pid_t(pid), startTicks: UInt64(try number("agent_start_ticks"))) : nil
    }

    /// Reads `exit.status` in `runDirectory`; nil if the shim has not written it.
    public static func read(runDirectory: String) throws(RunError) -> RunExit? {
        guard let text = try RunFiles.read(RunFiles.exitStatus, in: runDirectory) else { return nil }
        return try RunExit(statusText: text)
    }
}

/// What the shim wrote to `agent.pid` before letting the agent run.
public struct AgentRecord: Equatable, Sendable {
    public var shim: ProcessIdentity
    public var agent: ProcessIdentity
    /// Wall-clock milliseconds since 1970 when the agent was forked.
    public var startedAtMs: Int64

    /// Parses the text of `agent.pid`.
    public init(text: String) throws(RunError) {
        let fields = KeyValueFile.parse(text)
        guard fields["version"] == "1", let shimPID = fields["shim_pid"].flatMap({ pid_t($0) }),
            let shimStart = fields["shim_start_ticks"].flatMap({ UInt64($0) }),
            let agentPID = fields["agent_pid"].flatMap({ pid_t($0) }),
            let agentStart = fields["agent_start_ticks"].flatMap({ UInt64($0) }),
            let started = fields["started_ms"].flatMap({ Int64($0) })
        else { throw RunError(.statusFile, "agent.pid is incomplete") }
        shim = ProcessIdentity(pid: shimPID, startTicks: shimStart)
        agent = ProcessIdentity(pid: agentPID, startTicks: agentStart)
        startedAtMs = started
    }

    /// Reads `agent.pid` in `runDirectory`; nil if the shim has not written it.
    public static func read(runDirectory: String) throws(RunError) -> AgentRecord? {
        guard let text = try RunFiles.read(RunFiles.agentPID, in: runDirectory) else { return nil }
        return try AgentRecord(text: text)
    }
}

/// The files the shim writes into a run directory. Both are small and written by rename, so a reader sees all or
/// nothing.
enum RunFiles {
    static let agentPID = "agent.pid"
    static let exitStatus = "exit.status"

    /// The whole file, or nil if it does not exist.
    static func read(_ name: String, in directory: String) throws(RunError) -> String? {
        let path = "\(directory)/\(name)"
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else {
            if errno == ENOENT { return nil }
            throw RunError(.statusFile, "cannot open \(path)", cause: SystemError(errno))
        }
        defer { close(descriptor) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while bytes.count < 65536 {
            let count = Glibc.read(descriptor, &buffer, buffer.count)
            if count < 0 && errno == EINTR { continue }
            if count < 0 { throw RunError(.statusFile, "cannot read \(path)", cause: SystemError(errno)) }
            if count == 0 { break }
            bytes += buffer[..<count]
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// `key=value` lines; the first `=` splits; later duplicates win.
enum KeyValueFile {
    static func parse(_ text: String) -> [String: String] {
        var fields: [String: String] = [:]
        for line in text.split(separator: "\n") {
            guard let equals = line.firstIndex(of: "=") else { continue }
            fields[String(line[..<equals])] = String(line[line.index(after: equals)...])
        }
        return fields
    }
}

/// An errno with its text, as the cause of a `RunError`.
public struct SystemError: Error, Sendable, CustomStringConvertible {
    public var errno: Int32
    public init(_ errno: Int32) { self.errno = errno }
    public var description: String { String(cString: strerror(errno)) }
}
