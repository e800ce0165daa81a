import HTTPTypes
import NIOCore
import NIOHTTPTypes

/// The deadlines `RequestDeadlines` enforces, read when each one is armed, so that a reload applies to connections
/// that are already open.
struct DeadlineSettings: Sendable {
    var head: TimeAmount
    var body: TimeAmount
}

/// Cuts off slow clients without a timer task per request. While the connection waits for a request — after it
/// opened, or once every response is written and no request is being read — the next request's head must be complete
/// within the head timeout; once a head is read, that request's body must be complete within the body timeout. A
/// client that trickles its headers or its body (a byte every few seconds) is closed, whatever the idle timeout says.
/// A response written before its request's body was read leaves the body's deadline running; pipelined requests keep
/// no deadline while responses are pending (processing them is bounded elsewhere).
final class RequestDeadlines: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    private let settings: @Sendable () -> DeadlineSettings
    private var deadline: Scheduled<Void>?
    /// A head has been read and its end not yet.
    private var readingRequest = false
    /// Requests whose response has not been written to the end.
    private var pendingResponses = 0

    init(settings: @escaping @Sendable () -> DeadlineSettings) {
        self.settings = settings
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { arm(context, settings().head) }
    }

    func channelActive(context: ChannelHandlerContext) {
        arm(context, settings().head)
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        disarm()
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        disarm()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head:
            readingRequest = true
            pendingResponses += 1
            arm(context, settings().body)
        case .end:
            readingRequest = false
            if pendingResponses == 0 { arm(context, settings().head) } else { disarm() }
        case .body:
            break
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .end = unwrapOutboundIn(data) {
            pendingResponses = max(0, pendingResponses - 1)
            if pendingResponses == 0 && !readingRequest { arm(context, settings().head) }
        }
        context.write(data, promise: promise)
    }

    private func arm(_ context: ChannelHandlerContext, _ timeout: TimeAmount) {
        disarm()
        let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
        deadline = context.eventLoop.scheduleTask(in: timeout) {
            bound.value.close(promise: nil)
        }
    }

    private func disarm() {
        deadline?.cancel()
        deadline = nil
    }
}
