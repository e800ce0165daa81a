/// The requests and events one side of a connection understands, by wire type.
public struct IPCHandlers: Sendable {
    typealias Handler = @Sendable (IPCInbound, IPCConnection) async -> Void
    private var requests: [String: Handler] = [:]
    private var events: [String: Handler] = [:]

    public init() {}

    /// Answers requests of type `R` with `handler`'s result. An error thrown by the handler becomes an error reply
    /// whose message is the error's description.
    public mutating func onRequest<R: IPCRequest>(
        _: R.Type, _ handler: @escaping @Sendable (R, IPCConnection) async throws -> R.Reply
    ) {
        requests[R.type] = { inbound, connection in
            let reply: R.Reply
            do {
                reply = try await handler(try inbound.payload(as: R.self), connection)
            } catch let error as IPCError {
                try? await connection.replyError(to: inbound, code: error.code.description, message: error.message)
                return
            } catch {
                try? await connection.replyError(to: inbound, code: "failed", message: "\(error)")
                return
            }
            do {
                try await connection.reply(to: inbound, payload: reply)
            } catch {
                connection.logger.debug(
                    "cannot answer request", metadata: ["ipc.type": "\(R.type)", "error": "\(error)"])
            }
        }
    }

    /// Handles events of type `E`. Events of types nobody handles are ignored, so that a newer peer's additions do
    /// not break an older one.
    public mutating func onEvent<E: IPCEvent>(
        _: E.Type, _ handler: @escaping @Sendable (E, IPCConnection) async -> Void
    ) {
        events[E.type] = { inbound, connection in
            do {
                await handler(try inbound.payload(as: E.self), connection)
            } catch {
                connection.logger.warning("ignoring malformed event", metadata: ["error": "\(error)"])
            }
        }
    }

    func handleRequest(_ inbound: IPCInbound, on connection: IPCConnection) async {
        guard let handler = requests[inbound.type] else {
            try? await connection.replyError(
                to: inbound, code: "unknown_type",
                message: "\(connection.localRole) does not handle \(inbound.type) requests")
            return
        }
        await handler(inbound, connection)
    }

    func handleEvent(_ inbound: IPCInbound, on connection: IPCConnection) async {
        guard let handler = events[inbound.type] else {
            connection.logger.debug("ignoring unhandled event", metadata: ["ipc.type": "\(inbound.type)"])
            return
        }
        await handler(inbound, connection)
    }
}
