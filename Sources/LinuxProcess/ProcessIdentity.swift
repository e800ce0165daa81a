import CBosunPosix

#if canImport(Glibc)
import Glibc
#endif

/// A process named for good: its pid and the clock tick at which it started. A pid that the kernel hands out again
/// comes with a new start time, so an identity never matches the wrong process.
public struct ProcessIdentity: Hashable, Sendable, CustomStringConvertible {
    public var pid: pid_t
    /// Field 22 of `/proc/PID/stat`: clock ticks since boot at which the process started.
    public var startTicks: UInt64

    public init(pid: pid_t, startTicks: UInt64) {
        self.pid = pid
        self.startTicks = startTicks
    }

    /// The identity of the process that has `pid` now, or nil if there is none.
    public static func of(_ pid: pid_t) -> ProcessIdentity? {
        guard pid > 0, let stat = ProcessTable.stat(of: pid) else { return nil }
        return ProcessIdentity(pid: pid, startTicks: stat.startTime)
    }

    /// What this process is doing, as far as `/proc` can tell.
    public enum Liveness: Equatable, Sendable {
        /// It runs (or sleeps, or is stopped): not exited.
        case running
        /// It has exited and waits to be reaped by its parent.
        case zombie
        /// No process has this pid any more, or another process has it now.
        case gone
    }

    /// Looks the pid up in `/proc` and compares the start time.
    public var liveness: Liveness {
        guard let stat = ProcessTable.stat(of: pid), stat.startTime == startTicks else { return .gone }
        return stat.isZombie ? .zombie : .running
    }

    /// Reaps this process if it is an exited child of the caller, through a pidfd so that no other child can be
    /// reaped by mistake. Returns how it ended, or nil if it is still running, not a child of ours, or gone.
    @discardableResult
    public func reapIfExitedChild() -> TerminationStatus? {
        let descriptor = bosun_pidfd_open(pid)
        guard descriptor >= 0 else { return nil }
        defer { close(descriptor) }
        // The pidfd names whatever has the pid now; a zombie keeps its pid, so a matching start time proves it is ours.
        guard liveness == .zombie else { return nil }
        var status: Int32 = 0
        guard bosun_pidfd_reap(descriptor, &status) == 1 else { return nil }
        return TerminationStatus(waitStatus: status)
    }

    /// SIGKILLs this process's session and process group (a process that called `setsid` leads both, with its pid as
    /// their id), and every process still in them. Does nothing if another process now has the pid: a pid that is
    /// still a session or group id cannot be handed out again, so a reused pid means the session is gone. Returns the
    /// number of processes signalled.
    @discardableResult
    public func killSession() -> Int {
        if let current = ProcessTable.stat(of: pid), current.startTime != startTicks { return 0 }
        var signalled = 0
        if kill(-pid, SIGKILL) == 0 { signalled += 1 }
        for process in ProcessTable.all() where process.session == pid || process.processGroup == pid {
            if kill(process.pid, SIGKILL) == 0 { signalled += 1 }
        }
        return signalled
    }

    public var description: String { "\(pid)@\(startTicks)" }
}
