import CBosunPosix
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Signal handling for the supervisor: a C handler writes each signal's number to a pipe (the self-pipe trick), and
/// one dedicated thread reads the pipe and delivers the numbers as a stream. It does not depend on any thread's
/// signal mask, and SIGCHLD keeps a real handler, so the kernel never auto-reaps (a `SIG_IGN` disposition, which
/// Dispatch signal sources install, would).
public enum ProcessSignals {
    private static let installed = Mutex<(descriptor: Int32, signals: [Int32])?>(nil)

    /// Installs the handler for `signals`. Call it first thing in `main`, so that a signal that arrives while the
    /// process is still starting waits in the pipe for `stream()` instead of killing it.
    public static func install(_ signals: [Int32]) throws(LinuxProcessError) {
        let descriptor = signals.withUnsafeBufferPointer { bosun_install_signal_pipe($0.baseAddress, Int32($0.count)) }
        guard descriptor >= 0 else {
            throw LinuxProcessError(.signal, "cannot install the signal handlers", errno: errno)
        }
        installed.withLock { $0 = (descriptor, signals) }
    }

    /// Delivers each signal installed by `install` as it arrives, those that came before included. The reading
    /// thread lives as long as the process. Call once.
    public static func stream() throws(LinuxProcessError) -> AsyncStream<Int32> {
        guard let descriptor = installed.withLock({ $0?.descriptor }) else {
            throw LinuxProcessError(.signal, "no signal handlers are installed")
        }
        let (stream, continuation) = AsyncStream<Int32>.makeStream()
        startDetachedThread {
            CurrentThread.setName("bosun-signals")
            var byte: UInt8 = 0
            while true {
                let count = read(descriptor, &byte, 1)
                if count == 1 {
                    continuation.yield(Int32(byte))
                } else if count < 0 && errno == EINTR {
                    continue
                } else {
                    return
                }
            }
        }
        return stream
    }
}

/// Collects exited children with `waitpid(-1, WNOHANG)`: the supervisor's own children and, as a subreaper, any
/// orphaned descendant that was re-parented to it.
public enum Reaper {
    /// Every child that has exited since the last call; never blocks.
    public static func reapAll() -> [(pid: pid_t, status: TerminationStatus)] {
        var reaped: [(pid: pid_t, status: TerminationStatus)] = []
        while true {
            var status: Int32 = 0
            let pid = waitpid(-1, &status, WNOHANG)
            if pid > 0 {
                reaped.append((pid, TerminationStatus(waitStatus: status)))
            } else if pid < 0 && errno == EINTR {
                continue
            } else {
                return reaped  // 0: children remain but none has exited; -1/ECHILD: no children at all
            }
        }
    }

    /// Makes this process the subreaper of its descendants (`PR_SET_CHILD_SUBREAPER`).
    public static func becomeSubreaper() throws(LinuxProcessError) {
        guard bosun_set_child_subreaper() == 0 else {
            throw LinuxProcessError(.signal, "cannot become child subreaper", errno: errno)
        }
    }
}

/// Descriptor plumbing for spawning.
public enum Descriptors {
    /// A pipe whose both ends are close-on-exec; the spawner installs the child's end explicitly.
    public static func pipe() throws(LinuxProcessError) -> (read: Int32, write: Int32) {
        var fds: [Int32] = [-1, -1]
        guard bosun_pipe_cloexec(&fds) == 0 else {
            throw LinuxProcessError(.pipe, "cannot create a pipe", errno: errno)
        }
        return (fds[0], fds[1])
    }

    /// `/dev/null` opened read-write and close-on-exec, for a child's stdin.
    public static func devNull() throws(LinuxProcessError) -> Int32 {
        let fd = open("/dev/null", O_RDWR | O_CLOEXEC)
        guard fd >= 0 else { throw LinuxProcessError(.pipe, "cannot open /dev/null", errno: errno) }
        return fd
    }
}
