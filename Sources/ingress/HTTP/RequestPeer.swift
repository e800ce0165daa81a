import NIOCore

/// The address of the client a request came from, for the request's task and its children. Set by the server
/// around each request (Hummingbird's `BasicRequestContext` does not carry the channel); nil outside one.
enum RequestPeer {
    @TaskLocal static var address: SocketAddress?

    /// The client's IP address without the port (`127.0.0.1`, `::1`), or `unknown`.
    static var host: String {
        address?.ipAddress ?? "unknown"
    }
}
