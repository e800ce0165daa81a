import Logging
import NIOCore
import NIOPosix
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A Unix-socket IPC server: binds a socket file with mode 0600 inside a 0700 directory, admits only peers of this
/// process's uid (`SO_PEERCRED`), requires a `hello` first, then serves each connection until it ends.
///
/// One misbehaving connection — garbage, an oversized frame, a wrong version, no hello in time — is closed with one
/// log line; every other connection keeps being served.
public final class IPCServer: Sendable {
    /// The socket file.
    public let path: String
    private let role: IPCRole
    private let maxFrameSize: Int
    private let handshakeTimeout: TimeAmount
    private let logger: Logger
    private let listener: NIOAsyncChannel<ConnectingPeer, Never>
    private let openChannels = Mutex<(channels: [ObjectIdentifier: any Channel], closing: Bool)>(([:], false))

    /// A freshly accepted connection with its kernel credentials.
    struct ConnectingPeer: Sendable {
        var channel: NIOAsyncChannel<ByteBuffer, ByteBuffer>
        var credentials: PeerCredentials
    }

    private init(
        path: String, role: IPCRole, maxFrameSize: Int, handshakeTimeout: TimeAmount, logger: Logger,
        listener: NIOAsyncChannel<ConnectingPeer, Never>
    ) {
        self.path = path
        self.role = role
        self.maxFrameSize = maxFrameSize
        self.handshakeTimeout = handshakeTimeout
        self.logger = logger
        self.listener = listener
    }

    /// Prepares the directory (created 0700 if missing; refused if another user owns it or others can enter it),
    /// refuses to take over a socket that another live process still answers on, and binds.
    public static func bind(
        path: String, role: IPCRole, maxFrameSize: Int = IPCProtocol.defaultMaxFrameSize,
        handshakeTimeout: TimeAmount = .seconds(5), logger: Logger
    ) async throws(IPCError) -> IPCServer {
        try SocketDirectory.prepare(forSocket: path)
        if SocketDirectory.isAnswering(path) {
            throw IPCError(.socketSetup, "\(path) is in use by a running process")
        }
        let listener: NIOAsyncChannel<ConnectingPeer, Never>
        do {
            listener = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .serverChannelOption(.backlog, value: 128)
                .bind(unixDomainSocketPath: path, cleanupExistingSocketFile: true) { channel in
                    PeerCredentials.of(channel).flatMapThrowing { credentials in
                        try channel.pipeline.syncOperations.addIPCFraming(maxFrameSize: maxFrameSize)
                        return ConnectingPeer(
                            channel: try NIOAsyncChannel(wrappingChannelSynchronously: channel),
                            credentials: credentials)
                    }
                }
        } catch {
            throw IPCError(.socketSetup, "cannot bind \(path): \(error)")
        }
        guard chmod(path, 0o600) == 0 else {
            let reason = String(cString: strerror(errno))
            try? await listener.executeThenClose { _ in }
            throw IPCError(.socketSetup, "cannot set mode 0600 on \(path): \(reason)")
        }
        return IPCServer(
            path: path, role: role, maxFrameSize: maxFrameSize, handshakeTimeout: handshakeTimeout, logger: logger,
            listener: listener)
    }

    /// Serves connections until the calling task is cancelled; then closes every connection and removes the
    /// socket file.
    ///
    /// - Parameters:
    ///   - admit: decides, from the hello and the kernel's credentials, whether a peer may stay. Returns the reason
    ///     for a refusal, or nil to admit. The uid check has already passed.
    ///   - connected: runs for each admitted connection while it is open (register it, wait, unregister).
    public func run(
        handlers: IPCHandlers,
        admit: @escaping @Sendable (Hello, PeerCredentials) async -> String? = { _, _ in nil },
        connected: @escaping @Sendable (IPCConnection) async -> Void = { await $0.waitUntilClosed() }
    ) async {
        defer { unlink(path) }
        // Cancelling a task that iterates NIO's inbound sequence would drop the connections it has buffered without
        // closing them (NIO traps on that). So the accept loop runs in an unstructured task that cancellation does
        // not reach; cancellation closes the listener and every open connection instead, and the loop ends by
        // itself once each remaining connection has been closed properly.
        let loop = Task {
            do {
                try await listener.executeThenClose { inbound in
                    try await withThrowingDiscardingTaskGroup { group in
                        for try await peer in inbound {
                            group.addTask {
                                await self.serve(peer, handlers: handlers, admit: admit, connected: connected)
                            }
                        }
                    }
                }
            } catch {
                logger.error("IPC server stopped", metadata: ["socket": "\(path)", "error": "\(error)"])
            }
        }
        await withTaskCancellationHandler {
            await loop.value
        } onCancel: {
            listener.channel.close(promise: nil)
            openChannels.withLock { open in
                open.closing = true
                return Array(open.channels.values)
            }.forEach { $0.close(promise: nil) }
        }
    }

    private func serve(
        _ peer: ConnectingPeer, handlers: IPCHandlers, admit: @Sendable (Hello, PeerCredentials) async -> String?,
        connected: @escaping @Sendable (IPCConnection) async -> Void
    ) async {
        let credentials = peer.credentials
        let logger = self.logger.with(peerPID: credentials.pid)
        let channel = peer.channel.channel
        let key = ObjectIdentifier(channel)
        let closing = openChannels.withLock { open in
            open.channels[key] = channel
            return open.closing
        }
        defer { _ = openChannels.withLock { $0.channels.removeValue(forKey: key) } }
        guard credentials.uid == geteuid(), !closing else {
            if !closing {
                logger.warning(
                    "refusing IPC connection from another user",
                    metadata: ["peer.uid": "\(credentials.uid)", "socket": "\(path)"])
            }
            try? await peer.channel.executeThenClose { _, _ in }
            return
        }
        // The timer and the connection's own end race under load (a garbage peer's error may be handled after the
        // timeout fired): whichever settles the handshake first says why the connection closes, the other nothing.
        let handshake = HandshakeOutcome()
        let handshakeTimer = channel.eventLoop.scheduleTask(in: handshakeTimeout) {
            guard handshake.settle(.timedOut) == .timedOut else { return }
            logger.warning("closing IPC connection", metadata: ["error": "no hello within the handshake timeout"])
            channel.close(promise: nil)
        }
        do {
            try await peer.channel.executeThenClose { inbound, outbound in
                var frames = inbound.makeAsyncIterator()
                guard let first = try await frames.next() else {
                    _ = handshake.settle(.failed)  // the peer left before its hello: nothing for the timer to say
                    return
                }
                let hello = try IPCInbound(frame: first)
                guard hello.kind == .request, hello.type == Hello.type else {
                    throw IPCError(.handshake, "first message is \(hello.kind) \(hello.type), not a hello request")
                }
                let greeting = try hello.payload(as: Hello.self)
                if let refusal = await admit(greeting, credentials) {
                    let payload = IPCErrorPayload(code: IPCError.Code.handshake.description, message: refusal)
                    try await outbound.write(
                        IPCOutbound.encode(id: 1, kind: .error, type: Hello.type, inReplyTo: hello.id, payload: payload)
                    )
                    throw IPCError(.handshake, "refused \(greeting.role): \(refusal)")
                }
                handshakeTimer.cancel()
                // The timeout may have fired first and closed the connection.
                guard handshake.settle(.connected) == .connected else { return }
                let welcome = Welcome(role: role, pid: getpid(), version: greeting.version)
                try await outbound.write(
                    IPCOutbound.encode(id: 1, kind: .reply, type: Hello.type, inReplyTo: hello.id, payload: welcome))
                let connection = IPCConnection(
                    peer: IPCPeer(
                        role: greeting.role, pid: credentials.pid, program: greeting.program, version: greeting.version),
                    localRole: role, channel: channel, outbound: outbound, maxFrameSize: maxFrameSize, logger: logger,
                    firstID: 2)
                await withDiscardingTaskGroup { group in
                    group.addTask { await connected(connection) }
                    await connection.serve(&frames, handlers: handlers)
                }
            }
        } catch {
            handshakeTimer.cancel()
            // After the handshake every close is logged; during it, only if the timeout did not already say why.
            if handshake.settle(.failed) != .timedOut {
                logger.warning("closing IPC connection", metadata: ["error": "\(error)"])
            }
        }
    }
}

/// How a connection's handshake ended; the first to settle it wins: its timeout, or the connection (a hello, an
/// error, the peer leaving).
private final class HandshakeOutcome: Sendable {
    enum Outcome: Sendable { case timedOut, connected, failed }

    private let state = Mutex<Outcome?>(nil)

    /// Settles the handshake as `outcome` unless it is settled already; returns the outcome in force.
    func settle(_ outcome: Outcome) -> Outcome {
        state.withLock { state in
            if state == nil { state = outcome }
            return state ?? outcome
        }
    }
}

extension Logger {
    fileprivate func with(peerPID: Int32) -> Logger {
        var logger = self
        logger[metadataKey: "peer.pid"] = "\(peerPID)"
        return logger
    }
}

/// The directory rules for socket files.
enum SocketDirectory {
    static func prepare(forSocket path: String) throws(IPCError) {
        guard let slash = path.lastIndex(of: "/") else { return }
        let directory = String(path[..<slash])
        guard !directory.isEmpty else { return }
        var info = stat()
        if stat(directory, &info) != 0 {
            guard mkdir(directory, 0o700) == 0 || errno == EEXIST else {
                throw IPCError(.socketSetup, "cannot create \(directory): \(String(cString: strerror(errno)))")
            }
            guard stat(directory, &info) == 0 else {
                throw IPCError(.socketSetup, "cannot inspect \(directory): \(String(cString: strerror(errno)))")
            }
        }
        guard info.st_uid == geteuid() else {
            throw IPCError(.socketSetup, "\(directory) belongs to uid \(info.st_uid), not to this user")
        }
        if info.st_mode & 0o077 != 0 {
            guard chmod(directory, 0o700) == 0 else {
                throw IPCError(
                    .socketSetup, "cannot set mode 0700 on \(directory): \(String(cString: strerror(errno)))")
            }
        }
    }

    /// True if a process accepts connections on the socket at `path`.
    static func isAnswering(_ path: String) -> Bool {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else { return false }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: bytes)
        }
        let length = socklen_t(MemoryLayout<sockaddr_un>.size)
        return withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, length) == 0 }
        }
    }
}
