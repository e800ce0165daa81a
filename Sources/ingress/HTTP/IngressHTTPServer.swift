import Foundation
import Hummingbird
import HummingbirdCore
import IPC
import Logging
import NIOCore
import NIOExtras
import NIOPosix
import ServiceLifecycle
import Synchronization

/// HTTP/1.1 on the listening socket inherited from the supervisor, accepting only while the supervisor says so.
///
/// Hummingbird's `Application` can only bind an address itself, so this puts its pieces (the router's responder and
/// `HTTP1Channel`) on a NIO `ServerBootstrap` that adopts a duplicate of the descriptor, and adds back what
/// `Application` provides: the `Date` header, unknown errors as 500, graceful quiescing.
///
/// Accepting is switched by `setAccepting`: on, it adopts a fresh `dup` of the descriptor (NIO closes what it adopts);
/// off, it closes that duplicate, so this process stops taking connections while the ones it has go on. Closing a
/// duplicate never closes the socket: the supervisor keeps it listening, and the kernel queues new connections for
/// whichever ingress accepts next.
///
/// On graceful shutdown it stops accepting, then for `keepAliveLinger` answers every request on its open connections
/// with `Connection: close`, so that a keep-alive client moves to the next ingress after a response instead of
/// finding its connection closed under a request it is sending; then it closes idle connections and lets in-flight
/// requests finish.
final class IngressHTTPServer<Responder: HTTPResponder>: Service where Responder.Context == BasicRequestContext {
    /// How long a stopping ingress keeps its open connections for one last answer each. A client that sends at least
    /// this often is never cut off; one idle for longer faces only HTTP/1.1's unavoidable race with an idle close.
    static var keepAliveLinger: Duration { .seconds(1) }

    /// How long stopping waits for accepted connections to reach the accept loop; reached only if NIO failed to
    /// set one up (then it closed it), since nothing is accepted once auto-read is off.
    static var handoverLimit: Duration { .seconds(2) }

    private let descriptor: Int32
    private let http: HTTP1Channel
    private let logger: Logger
    private let commands = AsyncStream<Command>.makeStream()
    private let state = Mutex(State())
    /// Raised once shutdown begins: every response then ends its connection.
    private let draining = DrainFlag()
    /// Connections accepted and not yet closed, across all listeners.
    private let openConnections = Atomic<Int>(0)

    private typealias Listener = NIOAsyncChannel<HTTP1Channel.Value, Never>

    private enum Command {
        case accept(Bool, reply: @Sendable (Result<AcceptingState, any Error>) -> Void)
    }

    private struct State {
        /// Set by graceful shutdown: no listener may be opened any more.
        var shuttingDown = false
        var listener: (channel: any Channel, counts: AcceptCounts)?
        /// One per listener ever opened: each tracks its own connections for the final quiescing.
        var quiescers: [ServerQuiescingHelper] = []
    }

    /// - Parameters:
    ///   - deadlines: read as each deadline is armed, so that a reload reaches open connections.
    ///   - idleTimeout: Hummingbird's, fixed for this process's life.
    init(
        descriptor: Int32, responder: Responder, deadlines: @escaping @Sendable () -> DeadlineSettings,
        idleTimeout: TimeAmount, metrics: IngressMetrics, logger: Logger
    ) {
        self.descriptor = descriptor
        self.logger = logger
        let draining = self.draining
        self.http = HTTP1Channel(
            responder: { request, writer, channel in
                let started = ContinuousClock.now
                let context = BasicRequestContext(
                    source: ApplicationRequestContextSource(channel: channel, logger: logger))
                var response: Response
                do {
                    response = try await RequestPeer.$address.withValue(channel.remoteAddress) {
                        try await responder.respond(to: request, context: context)
                    }
                } catch let error as HTTPError {
                    response = JSONResponse.error(error.status, error.status.reasonPhrase, error.body ?? "")
                } catch let error as HTTPResponseError {
                    response = try error.response(from: request, context: context)
                } catch {
                    logger.error("request failed", metadata: ["error": "\(error)", "path": "\(request.uri.path)"])
                    response = JSONResponse.error(.internalServerError, "internal error", "\(error)")
                }
                response.headers[.date] = HTTPDate.now()
                if draining.isRaised { response.headers[.connection] = "close" }
                metrics.recordRequest(
                    route: context.endpointPath ?? "unmatched", method: request.method.rawValue,
                    status: response.status.code, duration: ContinuousClock.now - started)
                let closing = response.headers[.connection] == "close"
                try await writer.write(response: response.head, body: response.body)
                // A response that did not read the request's body ends the connection, rather than reading the
                // rest of an oversized or refused body: first our side, so that the client gets the response and
                // an orderly end of stream, then after a moment the whole socket (closing it at once, with unread
                // data in the buffer, would send a reset instead and lose the response).
                if closing {
                    channel.close(mode: .output, promise: nil)
                    channel.eventLoop.scheduleTask(in: .seconds(1)) { channel.close(promise: nil) }
                }
            },
            configuration: .init(
                additionalChannelHandlers: [RequestDeadlines(settings: deadlines)], idleTimeout: idleTimeout))
    }

    /// Switches accepting on or off; returns once the change has taken effect.
    func setAccepting(_ accepting: Bool) async throws -> AcceptingState {
        try await withCheckedThrowingContinuation { continuation in
            let result = commands.continuation.yield(.accept(accepting, reply: { continuation.resume(with: $0) }))
            if case .terminated = result {
                continuation.resume(throwing: IPCError(.remote, "ingress is shutting down"))
            }
        }
    }

    func run() async throws {
        try await withThrowingDiscardingTaskGroup { group in
            await withGracefulShutdownHandler {
                for await command in commands.stream {
                    switch command {
                    case .accept(true, let reply):
                        do {
                            if let (listener, counts) = try await startListening() {
                                group.addTask { try await self.acceptLoop(listener, counts: counts) }
                            }
                            reply(.success(AcceptingState(accepting: true)))
                        } catch {
                            reply(.failure(error))
                        }
                    case .accept(false, let reply):
                        await stopListening()
                        reply(.success(AcceptingState(accepting: false)))
                    }
                }
            } onGracefulShutdown: {
                self.commands.continuation.finish()
            }
            // The commands end only with a graceful shutdown (or a cancellation): the drain, then the quiescing.
            await drain()
        }
    }

    /// Stops accepting, gives the open connections `keepAliveLinger` to take one last answer each, then closes the
    /// idle ones and lets in-flight requests finish (the accept loops end when their connections have).
    private func drain() async {
        draining.raise()
        state.withLock { $0.shuttingDown = true }
        await stopListening()
        let open = openConnections.load(ordering: .relaxed)
        if open > 0 {
            logger.info(
                "no longer accepting; answering open connections with Connection: close",
                metadata: ["connections": "\(open)", "linger": "\(Self.keepAliveLinger)"])
            try? await Task.sleep(for: Self.keepAliveLinger)
        }
        logger.info("finishing in-flight requests")
        state.withLock { $0.quiescers }.forEach { $0.initiateShutdown(promise: nil) }
    }

    /// Adopts a duplicate of the descriptor; nil if already accepting.
    private func startListening() async throws -> (Listener, AcceptCounts)? {
        let (open, shuttingDown) = state.withLock { ($0.listener != nil, $0.shuttingDown) }
        guard !shuttingDown else { throw IPCError(.remote, "ingress is shutting down") }
        guard !open else { return nil }
        let duplicate = fcntl(descriptor, F_DUPFD_CLOEXEC, 3)
        guard duplicate >= 0 else {
            throw IPCError(.remote, "cannot duplicate the listening socket: \(String(cString: strerror(errno)))")
        }
        let quiescing = ServerQuiescingHelper(group: MultiThreadedEventLoopGroup.singleton)
        let counts = AcceptCounts()
        let http = self.http
        let logger = self.logger
        let listener: Listener
        do {
            listener = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .serverChannelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(AcceptCounter(counts))
                        try channel.pipeline.syncOperations.addHandler(
                            quiescing.makeServerChannelHandler(channel: channel))
                    }
                }
                .childChannelOption(.allowRemoteHalfClosure, value: true)
                .bind(NIOBSDSocket.Handle(duplicate)) { channel in
                    http.setup(channel: channel, logger: logger)
                }
        } catch {
            // NIO owns the duplicate once it was handed over, and may have closed it: leak rather than close twice.
            throw error
        }
        let admitted = state.withLock { state in
            guard !state.shuttingDown else { return false }
            state.listener = (listener.channel, counts)
            state.quiescers.append(quiescing)
            return true
        }
        guard admitted else {
            try? await listener.executeThenClose { _ in }
            throw IPCError(.remote, "ingress is shutting down")
        }
        logger.info("accepting connections", metadata: ["fd": "\(duplicate)"])
        return (listener, counts)
    }

    /// Closes the current duplicate; connections already accepted continue.
    private func stopListening() async {
        guard
            let (listener, counts) = state.withLock({ state in
                defer { state.listener = nil }; return state.listener
            })
        else {
            return
        }
        // Stop accepting first, then wait until every connection already accepted has reached the accept loop before
        // the listener closes: a connection still buffered in the listener's stream when it closes is dropped with
        // its request unanswered (and NIO traps on its unfinished writer in debug builds). Once auto-read is off
        // (the option is set on the event loop, between reads) the accepted count no longer grows.
        try? await listener.setOption(ChannelOptions.autoRead, value: false).get()
        let deadline = ContinuousClock.now + Self.handoverLimit
        while counts.inTransit > 0 && ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(2))
        }
        if counts.inTransit > 0 {
            // Only a child that failed to register or initialize is never delivered; NIO has closed it already.
            logger.warning(
                "closing the listener with accepted connections not delivered",
                metadata: ["connections": "\(counts.inTransit)"])
        }
        try? await listener.close()
        logger.info("stopped accepting connections")
    }

    /// Serves each connection of one listener; returns when the listener is closed and its connections are done.
    private func acceptLoop(_ listener: Listener, counts: AcceptCounts) async throws {
        try await listener.executeThenClose { inbound in
            try await withThrowingDiscardingTaskGroup { connections in
                for try await connection in inbound {
                    counts.delivered.add(1, ordering: .relaxed)
                    openConnections.add(1, ordering: .relaxed)
                    connections.addTask {
                        await self.http.handle(value: connection, logger: self.logger)
                        self.openConnections.subtract(1, ordering: .relaxed)
                    }
                }
            }
        }
    }
}

/// Connections one listener accepted (counted as the kernel hands them over, before NIO sets them up) and delivered
/// to its accept loop; the difference is what is still on its way.
private final class AcceptCounts: Sendable {
    let accepted = Atomic<Int>(0)
    let delivered = Atomic<Int>(0)

    var inTransit: Int { accepted.load(ordering: .relaxed) - delivered.load(ordering: .relaxed) }
}

/// First on a listener's pipeline: counts each accepted connection.
private final class AcceptCounter: ChannelInboundHandler, Sendable {
    typealias InboundIn = any Channel

    private let counts: AcceptCounts

    init(_ counts: AcceptCounts) { self.counts = counts }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        counts.accepted.add(1, ordering: .relaxed)
        context.fireChannelRead(data)
    }
}

/// A flag raised once and read from every request's task.
private final class DrainFlag: Sendable {
    private let raised = Atomic<Bool>(false)

    var isRaised: Bool { raised.load(ordering: .relaxed) }

    func raise() {
        raised.store(true, ordering: .relaxed)
    }
}

/// The `Date` header value (RFC 9110 IMF-fixdate).
enum HTTPDate {
    static func now() -> String {
        var seconds = time(nil)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        var buffer = [CChar](repeating: 0, count: 40)
        let count = strftime(&buffer, buffer.count, "%a, %d %b %Y %H:%M:%S GMT", &parts)
        return String(decoding: buffer[..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
