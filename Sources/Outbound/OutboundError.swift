/// Everything that can go wrong sending one request to a forge or notifier. One struct for the module, with an
/// extensible code. Messages never carry a token or a URL (Telegram and Slack put secrets in the URL).
public struct OutboundError: Error, CustomStringConvertible, Sendable, Equatable {
    /// What kind of failure this is.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        let name: String
        /// The code's stable name, e.g. `timeout`.
        public var description: String { name }

        /// The connect or total timeout ran out before a complete response arrived.
        public static let timeout = Code(name: "timeout")
        /// The host could not be resolved or reached, or the connection broke.
        public static let network = Code(name: "network")
        /// TLS setup or certificate verification failed.
        public static let tls = Code(name: "tls")
        /// The response body was larger than the client's cap.
        public static let responseTooLarge = Code(name: "response_too_large")
        /// The request itself is unusable: a bad URL, a bad header, an unsupported scheme.
        public static let invalidRequest = Code(name: "invalid_request")
        /// libcurl failed in some other way.
        public static let transport = Code(name: "transport")
    }

    /// What kind of failure this is.
    public var code: Code
    /// What happened, for an operator.
    public var message: String
    /// The underlying cause, e.g. libcurl's own error text.
    public var cause: String?

    /// An error with a code, a message and optionally the underlying cause.
    public init(_ code: Code, _ message: String, cause: String? = nil) {
        self.code = code
        self.message = message
        self.cause = cause
    }

    /// The message, followed by the cause when there is one.
    public var description: String {
        guard let cause, !cause.isEmpty else { return message }
        return "\(message) (\(cause))"
    }
}
