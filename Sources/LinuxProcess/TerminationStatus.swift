import CBosunPosix

/// How a process ended, decoded from a `waitpid` status.
public enum TerminationStatus: Equatable, Sendable, CustomStringConvertible {
    case exited(code: Int32)
    case signaled(signal: Int32, coreDumped: Bool)

    /// Decodes the raw status word that `waitpid` fills in.
    public init(waitStatus status: Int32) {
        if bosun_wifsignaled(status) != 0 {
            self = .signaled(signal: bosun_wtermsig(status), coreDumped: bosun_wcoredump(status) != 0)
        } else {
            self = .exited(code: bosun_wexitstatus(status))
        }
    }

    /// True for `exit 0`.
    public var isSuccess: Bool { self == .exited(code: 0) }

    public var description: String {
        switch self {
        case .exited(let code): "exit \(code)"
        case .signaled(let signal, let core): "killed by \(SignalName.of(signal))" + (core ? " (core dumped)" : "")
        }
    }
}

/// Names for signal numbers, as an operator reads them.
public enum SignalName {
    /// `SIGKILL` for 9; `signal 42` for a number without a common name.
    public static func of(_ signal: Int32) -> String {
        let names: [Int32: String] = [
            1: "SIGHUP", 2: "SIGINT", 3: "SIGQUIT", 4: "SIGILL", 5: "SIGTRAP", 6: "SIGABRT", 7: "SIGBUS", 8: "SIGFPE",
            9: "SIGKILL", 10: "SIGUSR1", 11: "SIGSEGV", 12: "SIGUSR2", 13: "SIGPIPE", 14: "SIGALRM", 15: "SIGTERM",
            17: "SIGCHLD", 18: "SIGCONT", 19: "SIGSTOP", 20: "SIGTSTP", 24: "SIGXCPU", 25: "SIGXFSZ", 31: "SIGSYS",
        ]
        return names[signal] ?? "signal \(signal)"
    }
}
