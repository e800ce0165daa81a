import Foundation
import IPC
import LinuxProcess

/// One running process of a child.
struct ChildInstance: Sendable {
    let pid: Int32
    let spawnedAt: ContinuousClock.Instant
    var connection: IPCConnection?
    var isReady = false
}

/// Everything the supervisor knows about one child: its state, its current process, processes being retired, and its
/// restart history.
struct ChildSlot: Sendable {
    let name: ChildName
    var state: ProcessState = .starting
    var current: ChildInstance?
    /// Old processes being stopped after a replacement; their exit is expected, not a crash.
    var retiring: [Int32: ChildInstance] = [:]
    var policy: RestartPolicy
    /// Restarts after crashes.
    var restarts = 0
    var lastExit: ExitRecord?
    /// The delay being waited out in `backoff`.
    var backoff: Duration?
    /// Why the child is `failed`, or why its last start failed.
    var failure: String?
    /// Set while a restart by hand or a rolling restart replaces the process: a crash of the replacement is then
    /// reported to that command instead of triggering the restart policy.
    var isBeingReplaced = false
    /// A spawn of this child is on its way (the fork is done on the spawn thread).
    var isSpawning = false

    init(name: ChildName, policy: RestartPolicy) {
        self.name = name
        self.policy = policy
    }

    /// The instance with `pid`, current or retiring.
    func instance(_ pid: Int32) -> ChildInstance? {
        current?.pid == pid ? current : retiring[pid]
    }

    func status(now: ContinuousClock.Instant, paused: Bool?) -> ProcessStatus {
        let uptime = current.map { now - $0.spawnedAt }
        return ProcessStatus(
            name: name.rawValue, pid: current?.pid, state: state, restarts: restarts,
            uptimeS: uptime.map(Self.seconds),
            lastExit: lastExit, backoffMs: state == .backoff ? backoff.map(Self.milliseconds) : nil,
            failure: state == .failed || state == .backoff ? failure : nil, paused: paused)
    }

    /// Seconds with millisecond precision, as status reports them.
    static func seconds(_ duration: Duration) -> Double {
        Double(milliseconds(duration)) / 1000
    }

    static func milliseconds(_ duration: Duration) -> Int {
        Int(duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000)
    }
}

extension ExitRecord {
    init(_ status: TerminationStatus, at date: Date) {
        switch status {
        case .exited(let code):
            self.init(code: code, signal: nil, description: status.description, at: date)
        case .signaled(let signal, _):
            self.init(code: nil, signal: signal, description: status.description, at: date)
        }
    }
}
