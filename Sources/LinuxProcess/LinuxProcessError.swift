#if canImport(Glibc)
import Glibc
#endif

/// What went wrong in a process primitive: the step, the errno, and a sentence for the operator.
public struct LinuxProcessError: Error, CustomStringConvertible, Sendable {
    /// The step that failed.
    public enum Code: String, Sendable {
        case spawn
        case pipe
        case signal
        case procfs
    }

    public var code: Code
    public var message: String
    public var errno: Int32?
    /// For a spawn that failed after the fork (exec or child setup): the child, which has exited and must still be
    /// reaped.
    public var childPID: Int32?

    public init(_ code: Code, _ message: String, errno: Int32? = nil, childPID: Int32? = nil) {
        self.code = code
        self.message = message
        self.errno = errno
        self.childPID = childPID
    }

    public var description: String {
        guard let errno else { return message }
        return "\(message): \(String(cString: strerror(errno)))"
    }
}
