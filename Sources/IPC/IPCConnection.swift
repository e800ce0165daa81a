import Logging
import NIOCore
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// The process at the other end of a connection, as the handshake and the kernel describe it.
public struct IPCPeer: Sendable, CustomStringConvertible {
    public var role: IPCRole
    /// From `SO_PEERCRED` on the server side (the kernel's word, not the peer's); from the welcome on the client side.
    public var pid: Int32
    public var program: String
    public var version: String

    public var description: String { "\(role)[\(pid)]" }
}

/// One established connection, after the handshake: send requests and events, answer the peer's requests.
///
/// Thread-safe: the pending-reply table sits behind a mutex, and NIO's outbound writer accepts writes from any task.
public final class IPCConnection: Sendable {
    public let peer: IPCPeer
    public let localRole: IPCRole
    let logger: Logger
    private let channel: any Channel
    private let outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>
    private let parser: IPCFrameParser
    private let state = Mutex(State())

    private struct State {
        var nextID: UInt64 = 1
        var pending: [UInt64: AsyncThrowingStream<IPCInbound, any Error>.Continuation] = [:]
        var isClosed = false
    }

    init(
        peer: IPCPeer, localRole: IPCRole, channel: any Channel, outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>,
        maxFrameSize: Int, logger: Logger, firstID: UInt64
    ) {
        self.peer = peer
        self.localRole = localRole
        self.channel = channel
        self.outbound = outbound
        self.parser = IPCFrameParser(maxFrameSize: maxFrameSize)
        var logger = logger
        logger[metadataKey: "peer"] = "\(peer)"
        self.logger = logger
        state.withLock { $0.nextID = firstID }
    }

    /// Sends `request` and waits for its reply. Throws `timeout` if none comes in time, `remote` if the peer
    /// answered with an error, `closed` if the connection ends first.
    public func request<R: IPCRequest>(_ request: R, timeout: Duration = .seconds(5)) async throws(IPCError) -> R.Reply
    {
        let (replies, continuation) = AsyncThrowingStream<IPCInbound, any Error>.makeStream()
        let id: UInt64? = state.withLock { state in
            guard !state.isClosed else { return nil }
            let id = state.nextID
            state.nextID += 1
            state.pending[id] = continuation
            return id
        }
        guard let id else { throw IPCError(.closed, "connection to \(peer) is closed") }
        defer { _ = state.withLock { $0.pending.removeValue(forKey: id) } }

        try await write(IPCOutbound.encode(id: id, kind: .request, type: R.type, payload: request))
        let answer: IPCInbound
        do {
            answer = try await withThrowingTaskGroup(of: IPCInbound.self) { group in
                group.addTask {
                    for try await answer in replies { return answer }
                    throw IPCError(.closed, "connection to \(self.peer) closed before the reply to \(R.type)")
                }
                group.addTask {
                    try await Task.sleep(for: timeout)
                    throw IPCError(.timeout, "\(self.peer) did not answer \(R.type) within \(timeout)")
                }
                defer { group.cancelAll() }
                return try await group.next()!
            }
        } catch let error as IPCError {
            throw error
        } catch {
            throw IPCError(.closed, "waiting for the reply to \(R.type): \(error)")
        }
        if answer.kind == .error {
            let failure =
                (try? answer.payload(as: IPCErrorPayload.self))
                ?? IPCErrorPayload(code: "unknown", message: "an undecodable error")
            throw IPCError(.remote, failure.message)
        }
        return try answer.payload(as: R.Reply.self)
    }

    /// Sends a one-way event.
    public func send<E: IPCEvent>(_ event: E) async throws(IPCError) {
        try await write(IPCOutbound.encode(id: allocateID(), kind: .event, type: E.type, payload: event))
    }

    /// Closes the connection; pending requests fail with `closed`.
    public func close() {
        channel.close(promise: nil)
    }

    /// Returns when the connection has closed, for whatever reason, or when the calling task is cancelled.
    public func waitUntilClosed() async {
        let waiter = Mutex<CheckedContinuation<Void, Never>?>(nil)
        let closeFuture = channel.closeFuture
        await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                waiter.withLock { $0 = continuation }
                closeFuture.whenComplete { _ in waiter.withLock { $0.take() }?.resume() }
                if Task.isCancelled { waiter.withLock { $0.take() }?.resume() }
            }
        } onCancel: {
            waiter.withLock { $0.take() }?.resume()
        }
    }

    func reply<Payload: Encodable>(to request: IPCInbound, payload: Payload) async throws(IPCError) {
        try await write(
            IPCOutbound.encode(
                id: allocateID(), kind: .reply, type: request.type, inReplyTo: request.id, payload: payload))
    }

    func replyError(to request: IPCInbound, code: String, message: String) async throws(IPCError) {
        let payload = IPCErrorPayload(code: code, message: message)
        try await write(
            IPCOutbound.encode(
                id: allocateID(), kind: .error, type: request.type, inReplyTo: request.id, payload: payload))
    }

    private func allocateID() -> UInt64 {
        state.withLock { state in
            defer { state.nextID += 1 }
            return state.nextID
        }
    }

    private func write(_ body: ByteBuffer) async throws(IPCError) {
        // Check here so that the caller gets the error; the encoder's own check would only close the channel.
        guard body.readableBytes <= parser.maxFrameSize else {
            throw IPCError(.frameTooLarge, "message of \(body.readableBytes) bytes exceeds \(parser.maxFrameSize)")
        }
        do {
            try await outbound.write(body)
        } catch {
            throw IPCError(.closed, "cannot write to \(peer): \(error)")
        }
    }

    /// Reads frames until the connection ends, routing replies to waiting requests and everything else to
    /// `handlers`. A frame that is not a valid envelope, or from another protocol version, ends the connection with
    /// one log line. Requests are answered concurrently; events are handled one at a time in arrival order, off the
    /// reading task, so that an event handler may itself send a request and wait for its reply.
    func serve(
        _ inbound: inout NIOAsyncChannelInboundStream<ByteBuffer>.AsyncIterator, handlers: IPCHandlers
    ) async {
        let (events, eventQueue) = AsyncStream<IPCInbound>.makeStream()
        defer { eventQueue.finish() }
        do {
            try await withThrowingDiscardingTaskGroup { group in
                group.addTask {
                    for await event in events { await handlers.handleEvent(event, on: self) }
                }
                // When reading stops, fail the waiting requests before the group waits for its handlers, which may be
                // waiting for those very replies.
                defer {
                    eventQueue.finish()
                    failPendingRequests()
                }
                while let frame = try await inbound.next() {
                    let message = try IPCInbound(frame: frame)
                    switch message.kind {
                    case .reply, .error:
                        let waiting = state.withLock { $0.pending.removeValue(forKey: message.inReplyTo ?? 0) }
                        if let waiting {
                            waiting.yield(message)
                            waiting.finish()
                        } else {
                            logger.debug("reply to no pending request", metadata: ["ipc.type": "\(message.type)"])
                        }
                    case .event:
                        eventQueue.yield(message)
                    case .request:
                        group.addTask { await handlers.handleRequest(message, on: self) }
                    }
                }
            }
        } catch let error as IPCError {
            if error.code == .unsupportedVersion {
                // Say why before hanging up, in the frame format every version shares.
                let payload = IPCErrorPayload(code: error.code.description, message: error.message)
                if let frame = try? IPCOutbound.encode(id: 0, kind: .error, type: "error", payload: payload) {
                    try? await outbound.write(frame)
                }
            }
            logger.warning("closing IPC connection", metadata: ["error": "\(error)"])
        } catch {
            if !(error is CancellationError) {
                logger.warning("closing IPC connection", metadata: ["error": "\(error)"])
            }
        }
        failPendingRequests()
        close()
    }

    /// Marks the connection closed and fails every request still waiting for a reply.
    private func failPendingRequests() {
        let waiting = state.withLock { state in
            state.isClosed = true
            defer { state.pending = [:] }
            return Array(state.pending.values)
        }
        for continuation in waiting {
            continuation.finish(throwing: IPCError(.closed, "connection to \(peer) closed"))
        }
    }
}
