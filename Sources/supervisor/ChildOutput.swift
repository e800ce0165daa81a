import NIOCore
import NIOPosix

/// Copies a child's stdout and stderr (one pipe) line by line to its log file and to the supervisor's stderr.
enum ChildOutput {
    /// Takes ownership of the pipe's read end and forwards each line to `sink` until every writer has closed it
    /// (the child and anything it left behind).
    static func pump(descriptor: Int32, sink: @escaping @Sendable (String) -> Void) async throws {
        _ = try await NIOPipeBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(LineSplitter(sink: sink))
                }
            }
            .takingOwnershipOfDescriptor(input: descriptor)
            .get()
    }
}

/// Splits a byte stream into lines. A line longer than `maxLine` is passed on in pieces; a last line without a
/// newline is passed on at end of input. Invalid UTF-8 is repaired, never dropped.
final class LineSplitter: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    static let maxLine = 16 * 1024

    private let sink: @Sendable (String) -> Void
    private var pending: [UInt8] = []

    init(sink: @escaping @Sendable (String) -> Void) {
        self.sink = sink
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        for byte in buffer.readableBytesView {
            if byte == UInt8(ascii: "\n") {
                emit()
            } else {
                pending.append(byte)
                if pending.count >= Self.maxLine { emit() }
            }
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        if !pending.isEmpty { emit() }
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    private func emit() {
        sink(String(decoding: pending, as: UTF8.self))
        pending.removeAll(keepingCapacity: true)
    }
}
