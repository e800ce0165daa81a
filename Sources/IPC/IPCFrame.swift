import NIOCore

/// The IPC wire framing: a 4-byte big-endian length, then that many bytes of one JSON envelope.
///
/// A pure parser: it sees bytes, returns frames, and rejects an oversized or empty frame from its header alone,
/// before any of its body is buffered.
public struct IPCFrameParser: Sendable {
    /// The largest frame body accepted, in bytes.
    public let maxFrameSize: Int

    public init(maxFrameSize: Int) {
        self.maxFrameSize = maxFrameSize
    }

    /// The next complete frame's body, or nil until enough bytes have arrived.
    public func next(from buffer: inout ByteBuffer) throws(IPCError) -> ByteBuffer? {
        guard let length = buffer.getInteger(at: buffer.readerIndex, as: UInt32.self) else { return nil }
        guard length > 0 else { throw IPCError(.malformed, "empty frame") }
        guard length <= maxFrameSize else {
            throw IPCError(.frameTooLarge, "frame of \(length) bytes exceeds the limit of \(maxFrameSize)")
        }
        guard buffer.readableBytes >= 4 + Int(length) else { return nil }
        buffer.moveReaderIndex(forwardBy: 4)
        return buffer.readSlice(length: Int(length))
    }

    /// Writes one frame: the length header and the body.
    public func encode(_ body: ByteBuffer, into out: inout ByteBuffer) throws(IPCError) {
        guard body.readableBytes <= maxFrameSize else {
            throw IPCError(.frameTooLarge, "frame of \(body.readableBytes) bytes exceeds the limit of \(maxFrameSize)")
        }
        out.writeInteger(UInt32(body.readableBytes))
        out.writeImmutableBuffer(body)
    }
}

/// NIO decoder around `IPCFrameParser`. An error closes the connection (the pipeline's error path).
struct IPCFrameDecoder: ByteToMessageDecoder {
    typealias InboundOut = ByteBuffer
    let parser: IPCFrameParser

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let frame = try parser.next(from: &buffer) else { return .needMoreData }
        context.fireChannelRead(Self.wrapInboundOut(frame))
        return .continue
    }

    mutating func decodeLast(
        context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool
    ) throws
        -> DecodingState
    {
        try decode(context: context, buffer: &buffer)
    }
}

/// NIO encoder around `IPCFrameParser`.
struct IPCFrameEncoder: MessageToByteEncoder {
    typealias OutboundIn = ByteBuffer
    let parser: IPCFrameParser

    func encode(data: ByteBuffer, out: inout ByteBuffer) throws {
        try parser.encode(data, into: &out)
    }
}

extension ChannelPipeline.SynchronousOperations {
    /// Adds the IPC framing to a channel's pipeline.
    func addIPCFraming(maxFrameSize: Int) throws {
        let parser = IPCFrameParser(maxFrameSize: maxFrameSize)
        try addHandler(ByteToMessageHandler(IPCFrameDecoder(parser: parser)))
        try addHandler(MessageToByteHandler(IPCFrameEncoder(parser: parser)))
    }
}
