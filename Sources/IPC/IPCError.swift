/// Everything that can go wrong on an IPC connection. One struct for the module, with an extensible code.
public struct IPCError: Error, CustomStringConvertible, Sendable, Equatable {
    /// What kind of failure this is.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        let name: String
        public var description: String { name }

        /// A frame announced more bytes than the limit.
        public static let frameTooLarge = Code(name: "frame_too_large")
        /// A frame of length zero, or bytes that are not a JSON envelope.
        public static let malformed = Code(name: "malformed")
        /// The peer speaks another protocol version.
        public static let unsupportedVersion = Code(name: "unsupported_version")
        /// The first message was not a valid hello, or the peer was refused.
        public static let handshake = Code(name: "handshake")
        /// The peer runs as another user.
        public static let wrongUser = Code(name: "wrong_user")
        /// A request got no reply in time.
        public static let timeout = Code(name: "timeout")
        /// The connection is closed.
        public static let closed = Code(name: "closed")
        /// The peer answered a request with an error.
        public static let remote = Code(name: "remote")
        /// No socket to connect to, or the connection was refused.
        public static let unreachable = Code(name: "unreachable")
        /// A socket path or directory could not be prepared.
        public static let socketSetup = Code(name: "socket_setup")
    }

    public var code: Code
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}
