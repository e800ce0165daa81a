import Logging
import NIOCore
import NIOPosix

#if canImport(Glibc)
import Glibc
#endif

/// Connects to an IPC server, says hello, and serves the connection for the duration of a closure.
public enum IPCClient {
    /// Connects to `path`, performs the handshake as `hello.role`, then runs `body` with the connection while its
    /// inbound side is served with `handlers`. The connection closes when `body` returns.
    ///
    /// - Throws: `unreachable` if nothing listens at `path`; `handshake` if the server refuses; `wrongUser` if the
    ///   server runs as another user; whatever `body` throws.
    public static func withConnection<Result: Sendable>(
        path: String, hello: Hello, handlers: IPCHandlers = IPCHandlers(),
        maxFrameSize: Int = IPCProtocol.defaultMaxFrameSize, handshakeTimeout: Duration = .seconds(5),
        logger: Logger, body: @escaping @Sendable (IPCConnection) async throws -> Result
    ) async throws -> Result {
        let channel: NIOAsyncChannel<ByteBuffer, ByteBuffer>
        let credentials: PeerCredentials
        do {
            channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .connect(unixDomainSocketPath: path) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addIPCFraming(maxFrameSize: maxFrameSize)
                        return try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                    }
                }
        } catch {
            throw IPCError(.unreachable, "cannot connect to \(path): \(error)")
        }
        do {
            // Only a connected socket has a peer to ask about.
            credentials = try await PeerCredentials.of(channel.channel).get()
        } catch {
            try? await channel.executeThenClose { _, _ in }
            throw IPCError(.unreachable, "cannot read the credentials of \(path): \(error)")
        }
        guard credentials.uid == geteuid() else {
            try? await channel.executeThenClose { _, _ in }
            throw IPCError(.wrongUser, "\(path) is served by uid \(credentials.uid), not by this user")
        }
        return try await channel.executeThenClose { inbound, outbound in
            var frames = inbound.makeAsyncIterator()
            try await outbound.write(IPCOutbound.encode(id: 1, kind: .request, type: Hello.type, payload: hello))
            let timer = channel.channel.eventLoop.scheduleTask(in: .nanoseconds(Int64(handshakeTimeout.nanoseconds))) {
                channel.channel.close(promise: nil)
            }
            defer { timer.cancel() }
            guard let first = try await frames.next() else {
                throw IPCError(.handshake, "\(path) closed the connection during the handshake")
            }
            let answer = try IPCInbound(frame: first)
            if answer.kind == .error {
                let failure = try answer.payload(as: IPCErrorPayload.self)
                throw IPCError(.handshake, failure.message)
            }
            guard answer.kind == .reply, answer.type == Hello.type else {
                throw IPCError(.handshake, "expected a hello reply, got \(answer.kind) \(answer.type)")
            }
            let welcome = try answer.payload(as: Welcome.self)
            timer.cancel()
            let connection = IPCConnection(
                peer: IPCPeer(
                    role: welcome.role, pid: credentials.pid, program: "\(welcome.role)", version: welcome.version),
                localRole: hello.role, channel: channel.channel, outbound: outbound, maxFrameSize: maxFrameSize,
                logger: logger, firstID: 2)
            return try await withThrowingTaskGroup(of: Result.self) { group in
                group.addTask {
                    // Closing ends `serve` below once the body is done.
                    defer { connection.close() }
                    return try await body(connection)
                }
                await connection.serve(&frames, handlers: handlers)
                return try await group.next()!
            }
        }
    }
}

extension Duration {
    var nanoseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }
}
