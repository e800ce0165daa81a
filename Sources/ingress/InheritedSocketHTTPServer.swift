import Foundation
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import NIOExtras
import NIOPosix
import ServiceLifecycle

/// An HTTP/1.1 server on a listening socket this process inherited, as a service.
///
/// Hummingbird's `Application` can only bind an address itself, so this puts its pieces (the router's responder and
/// `HTTP1Channel`) on a NIO `ServerBootstrap` that adopts the descriptor, and adds back what `Application` provides:
/// the `Date` header, unknown errors as 500, and graceful quiescing. On graceful shutdown it stops accepting, lets
/// in-flight requests finish, and closes only its own descriptor: the supervisor's copy keeps the socket listening,
/// so the kernel queues new connections for the next ingress.
struct InheritedSocketHTTPServer<Responder: HTTPResponder>: Service
where Responder.Context == BasicRequestContext {
    let descriptor: Int32
    let responder: Responder
    let logger: Logger
    /// Runs once the socket is adopted and accepting.
    let onListening: @Sendable () async -> Void

    func run() async throws {
        let quiescing = ServerQuiescingHelper(group: MultiThreadedEventLoopGroup.singleton)
        let http = HTTP1Channel(
            responder: { [responder, logger] request, writer, channel in
                let context = BasicRequestContext(
                    source: ApplicationRequestContextSource(channel: channel, logger: logger))
                var response: Response
                do {
                    response = try await responder.respond(to: request, context: context)
                } catch let error as HTTPResponseError {
                    response = try error.response(from: request, context: context)
                } catch {
                    logger.error("request failed", metadata: ["error": "\(error)", "path": "\(request.uri.path)"])
                    response = Response(status: .internalServerError)
                }
                response.headers[.date] = HTTPDate.now()
                try await writer.write(response: response.head, body: response.body)
            },
            configuration: .init(idleTimeout: .seconds(60)))

        let server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(quiescing.makeServerChannelHandler(channel: channel))
                }
            }
            .childChannelOption(.allowRemoteHalfClosure, value: true)
            .bind(NIOBSDSocket.Handle(descriptor)) { channel in
                http.setup(channel: channel, logger: logger)
            }
        logger.info("serving HTTP", metadata: ["fd": "\(descriptor)", "address": "\(server.channel.localAddress.map { "\($0)" } ?? "?")"])
        await onListening()

        try await withGracefulShutdownHandler {
            try await server.executeThenClose { inbound in
                try await withThrowingDiscardingTaskGroup { group in
                    for try await connection in inbound {
                        group.addTask { await http.handle(value: connection, logger: logger) }
                    }
                }
            }
        } onGracefulShutdown: {
            logger.info("no longer accepting; finishing in-flight requests")
            quiescing.initiateShutdown(promise: nil)
        }
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
