import Foundation
import FuzzSupport
import IPC
import NIOCore

// IPC framing and envelopes on arbitrary byte streams.
//
// Input: the frame limit (2 bytes, 1…65,536), a seed for how the stream is cut into reads; the stream is the rest.
//
// Invariants:
// 1. The parser never crashes; it refuses only an empty frame or one over the limit, from its header alone.
// 2. Fed in arbitrary pieces (as reads arrive), it yields the same frames and the same error as fed all at once.
// 3. Each frame is what the stream held: header plus frame, in order, is the stream's prefix; encoding it again
//    gives the same bytes.
// 4. Each frame's envelope decodes or is refused with an `IPCError` (never a crash); a payload that decodes as its
//    message type encodes to JSON that decodes again and encodes the same.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzIPC(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    var input = FuzzInput(data, size)
    let limit = 1 + (Int(input.byte()) << 8 | Int(input.byte()))
    var seed = UInt32(input.byte()) | 1
    let stream = input.rest()
    let parser = IPCFrameParser(maxFrameSize: limit)

    // All at once.
    var whole = ByteBuffer(bytes: stream)
    let (frames, failure) = drain(parser, &whole)

    // In pieces: a few bytes at a time, as a slow peer's writes arrive.
    var pieces = ByteBuffer()
    var piecewise: [ByteBuffer] = []
    var piecewiseFailure: IPCError?
    var offset = 0
    while offset < stream.count, piecewiseFailure == nil {
        seed = seed &* 1_103_515_245 &+ 12345
        let length = min(stream.count - offset, 1 + Int(seed >> 16) % 9)
        pieces.writeBytes(stream[offset..<offset + length])
        offset += length
        let (more, error) = drain(parser, &pieces)
        piecewise += more
        piecewiseFailure = error
    }
    require(piecewise == frames, "\(piecewise.count) frames in pieces, \(frames.count) at once")
    require(
        piecewiseFailure == failure,
        "in pieces: \(String(describing: piecewiseFailure)), at once: \(String(describing: failure))")

    var consumed: [UInt8] = []
    for frame in frames {
        require(frame.readableBytes > 0 && frame.readableBytes <= limit, "a frame of \(frame.readableBytes) bytes")
        var encoded = ByteBuffer()
        do {
            try parser.encode(frame, into: &encoded)
        } catch {
            require(false, "a frame it parsed does not encode: \(error)")
        }
        consumed += encoded.readableBytesView
        envelope(frame)
    }
    require(stream.starts(with: consumed), "the frames are not the stream's prefix")
    if let failure {
        let header = stream[consumed.count..<min(stream.count, consumed.count + 4)]
        let length = header.reduce(0) { $0 << 8 | Int($1) }
        require(header.count == 4 && (length == 0 || length > limit), "refused a frame of \(length) bytes: \(failure)")
    }
    return 0
}

/// Frames until the parser wants more bytes or refuses.
func drain(_ parser: IPCFrameParser, _ buffer: inout ByteBuffer) -> ([ByteBuffer], IPCError?) {
    var frames: [ByteBuffer] = []
    while true {
        do {
            guard let frame = try parser.next(from: &buffer) else { return (frames, nil) }
            frames.append(frame)
        } catch {
            return (frames, error)
        }
    }
}

/// Every message type by its wire name, and every reply type, as the connection decodes them.
var requestsAndEvents: [String: any Codable.Type] {
    [
        Hello.type: Hello.self, Ready.type: Ready.self, Ping.type: Ping.self, Pause.type: Pause.self,
        Resume.type: Resume.self, Stop.type: Stop.self, Reload.type: Reload.self, SetAccepting.type: SetAccepting.self,
        InboxWake.type: InboxWake.self, JobsWake.type: JobsWake.self, OutcomesWake.type: OutcomesWake.self,
        Status.type: Status.self, Restart.type: Restart.self, RollingRestart.type: RollingRestart.self,
        BreakerReport.type: BreakerReport.self, BreakerChanged.type: BreakerChanged.self,
        BreakerCommand.type: BreakerCommand.self,
    ]
}
var replies: [any Codable.Type] {
    [
        Welcome.self, Pong.self, PauseState.self, Empty.self, ReloadReport.self, AcceptingState.self, StatusReport.self,
        ProcessStatus.self, RollingRestartReport.self, BreakerStatus.self, IPCErrorPayload.self,
    ]
}

func envelope(_ frame: ByteBuffer) {
    let inbound: IPCInbound
    do {
        inbound = try IPCInbound(frame: frame)
    } catch {
        require([.malformed, .unsupportedVersion].contains(error.code), "an envelope refused with \(error.code)")
        return
    }
    require(inbound.version == IPCProtocol.version, "an envelope of version \(inbound.version) decoded")
    let types: [any Codable.Type]
    switch inbound.kind {
    case .request, .event: types = requestsAndEvents[inbound.type].map { [$0] } ?? []
    case .reply, .error: types = replies
    }
    for type in types { roundTrip(inbound, type) }
}

func roundTrip<Payload: Codable>(_ inbound: IPCInbound, _ type: Payload.Type) {
    guard let payload = try? inbound.payload(as: Payload.self) else { return }
    let first = encode(payload)
    var again = ByteBuffer(bytes: Array(#"{"v":1,"id":1,"kind":"event","type":"t","payload":"#.utf8) + first + [0x7D])
    let decoded: Payload
    do {
        decoded = try IPCInbound(frame: again.readSlice(length: again.readableBytes)!).payload(as: Payload.self)
    } catch {
        require(false, "\(Payload.self) encodes to JSON it cannot decode: \(String(decoding: first, as: UTF8.self))")
        return
    }
    let second = encode(decoded)
    require(first == second, "\(Payload.self) changes on a round trip: \(String(decoding: first, as: UTF8.self))")
}

func encode<Payload: Encodable>(_ payload: Payload) -> [UInt8] {
    do {
        return Array(try IPCCoding.encoder().encode(payload))
    } catch {
        require(false, "\(Payload.self) decoded but does not encode: \(error)")
        return []
    }
}
