/// A failure of the supervisor or of a control command, with a message for the operator.
struct SupervisorError: Error, CustomStringConvertible, Sendable {
    /// What kind of failure.
    struct Code: Hashable, Sendable {
        let name: String
        /// Preparing the state directory, the sockets or the listener failed.
        static let setup = Code(name: "setup")
        /// Another supervisor already runs on this state directory.
        static let alreadyRunning = Code(name: "already_running")
        /// A command names a process that does not exist.
        static let unknownProcess = Code(name: "unknown_process")
        /// A command cannot run now (stopping, another restart in progress).
        static let busy = Code(name: "busy")
        /// A child did not come up.
        static let childFailed = Code(name: "child_failed")
        /// The config file was invalid or cannot change this way while running.
        static let config = Code(name: "config")
    }

    var code: Code
    var message: String

    init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    var description: String { message }
}
