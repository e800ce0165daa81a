/// A failure to start, find or read an agent run: what kind, a sentence for the operator, and the cause.
public struct RunError: Error, CustomStringConvertible, Sendable {
    /// The classes of failure callers act on differently.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        let name: String
        public var description: String { name }

        /// The run's specification cannot be run (empty argv, a relative path, a bad timeout).
        public static let invalidSpec = Code(name: "invalid_spec")
        /// The run directory cannot be made, or already holds another run's files.
        public static let runDirectory = Code(name: "run_directory")
        /// The task brief cannot be written into the worktree.
        public static let brief = Code(name: "brief")
        /// The shim could not be started.
        public static let spawn = Code(name: "spawn")
        /// `agent.pid` or `exit.status` exists but cannot be read or parsed.
        public static let statusFile = Code(name: "status_file")
        /// The watcher cannot watch (stopped, a run already watched, or the kernel refused a pidfd).
        public static let watcher = Code(name: "watcher")
    }

    public var code: Code
    public var message: String
    /// The underlying error, when there is one.
    public var cause: (any Error & Sendable)?

    public init(_ code: Code, _ message: String, cause: (any Error & Sendable)? = nil) {
        self.code = code
        self.message = message
        self.cause = cause
    }

    public var description: String {
        guard let cause else { return message }
        return "\(message): \(cause)"
    }
}
