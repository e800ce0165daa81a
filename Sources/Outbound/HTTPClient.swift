/// One HTTP request: method, absolute URL, headers in order, and an optional body.
public struct HTTPRequest: Sendable, Equatable {
    /// `GET`, `POST`, `PUT`, `PATCH`, `DELETE`.
    public var method: String
    /// The absolute `http` or `https` URL, already percent-encoded.
    public var url: String
    /// Header names and values, sent in this order.
    public var headers: [(name: String, value: String)]
    /// The request body, sent as is.
    public var body: [UInt8]?

    /// A request with the given parts.
    public init(method: String, url: String, headers: [(name: String, value: String)] = [], body: [UInt8]? = nil) {
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
    }

    /// Equal when method, URL, body and the ordered headers are.
    public static func == (lhs: HTTPRequest, rhs: HTTPRequest) -> Bool {
        lhs.method == rhs.method && lhs.url == rhs.url && lhs.body == rhs.body
            && lhs.headers.map(\.name) == rhs.headers.map(\.name)
            && lhs.headers.map(\.value) == rhs.headers.map(\.value)
    }
}

/// A complete HTTP response.
public struct HTTPResponse: Sendable, Equatable {
    /// The status code of the final response.
    public var status: Int
    /// Header names lowercased; a header sent more than once has its values joined with `, `.
    public var headers: [String: String]
    /// The body, at most the client's cap.
    public var body: [UInt8]

    /// A response with the given parts; header names are lowercased here.
    public init(status: Int, headers: [String: String] = [:], body: [UInt8] = []) {
        self.status = status
        var lowered: [String: String] = [:]
        for (name, value) in headers {
            let key = name.lowercased()
            lowered[key] = lowered[key].map { "\($0), \(value)" } ?? value
        }
        self.headers = lowered
        self.body = body
    }

    /// The body decoded as UTF-8, invalid bytes replaced.
    public var text: String { String(decoding: body, as: UTF8.self) }
}

/// A synchronous HTTP client over libcurl: one easy handle per request, TLS verification on, no redirects (a
/// redirect would carry a forge token to wherever it points), bounded time and bounded response size. It logs
/// nothing, so it never logs a token. Call it from a thread that may block, never from the concurrency pool.
public final class HTTPClient: Sendable {
    /// Time and size bounds for every request.
    public struct Limits: Sendable, Equatable {
        /// Time allowed to establish the connection (TCP and TLS).
        public var connectTimeoutMilliseconds: Int
        /// Time allowed for the whole exchange, connection included.
        public var totalTimeoutMilliseconds: Int
        /// The largest response body accepted; a larger one fails with `responseTooLarge`.
        public var maxResponseBytes: Int

        /// Bounds for every request; defaults suit a forge API.
        public init(
            connectTimeoutMilliseconds: Int = 5_000, totalTimeoutMilliseconds: Int = 30_000,
            maxResponseBytes: Int = 4 * 1024 * 1024
        ) {
            self.connectTimeoutMilliseconds = max(1, connectTimeoutMilliseconds)
            self.totalTimeoutMilliseconds = max(1, totalTimeoutMilliseconds)
            self.maxResponseBytes = max(0, maxResponseBytes)
        }
    }

    /// The bounds applied to every request.
    public let limits: Limits

    /// A client with the given bounds.
    public init(limits: Limits = Limits()) {
        self.limits = limits
    }

    /// Sends the request and waits for the complete response. Any status is a response; only transport failures
    /// (timeouts, refused connections, TLS, an oversized body) throw.
    public func send(_ request: HTTPRequest) throws(OutboundError) -> HTTPResponse {
        try CurlTransfer.perform(request, limits: limits)
    }
}
