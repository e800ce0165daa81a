import Foundation
import IPC
import NIOCore
import Testing

@Suite("IPC framing and envelopes")
struct IPCFrameTests {
    let parser = IPCFrameParser(maxFrameSize: 64)

    func frame(_ body: String) -> ByteBuffer {
        var buffer = ByteBuffer()
        buffer.writeInteger(UInt32(body.utf8.count))
        buffer.writeString(body)
        return buffer
    }

    @Test("returns nothing until a frame is complete, then each frame in order")
    func partialAndMultipleFrames() throws {
        var whole = frame("{\"a\":1}")
        whole.writeImmutableBuffer(frame("{\"b\":2}"))
        var input = ByteBuffer()
        var frames: [String] = []
        // Feed one byte at a time.
        while let byte = whole.readInteger(as: UInt8.self) {
            input.writeInteger(byte)
            while let next = try parser.next(from: &input) {
                frames.append(String(buffer: next))
            }
        }
        #expect(frames == ["{\"a\":1}", "{\"b\":2}"])
        #expect(input.readableBytes == 0)
    }

    @Test("an oversized frame is refused from its header, before its body arrives")
    func oversizedFromHeader() {
        var input = ByteBuffer()
        input.writeInteger(UInt32(65))
        #expect(throws: IPCError.self) { try parser.next(from: &input) }
        var huge = ByteBuffer()
        huge.writeInteger(UInt32.max)
        do {
            _ = try parser.next(from: &huge)
            Issue.record("expected frame_too_large")
        } catch {
            #expect(error.code == .frameTooLarge)
        }
    }

    @Test("an empty frame is malformed")
    func emptyFrame() {
        var input = ByteBuffer()
        input.writeInteger(UInt32(0))
        do {
            _ = try parser.next(from: &input)
            Issue.record("expected malformed")
        } catch {
            #expect(error.code == .malformed)
        }
    }

    @Test("encoding refuses a body over the limit")
    func encodeLimit() {
        var out = ByteBuffer()
        #expect(throws: IPCError.self) {
            try parser.encode(ByteBuffer(string: String(repeating: "x", count: 65)), into: &out)
        }
    }

    @Test("envelopes: garbage and missing fields are malformed; another version is named")
    func envelopeValidation() throws {
        func code(_ text: String) -> IPCError.Code? {
            do {
                _ = try IPCInbound(frame: ByteBuffer(string: text))
                return nil
            } catch {
                return error.code
            }
        }
        #expect(code("not json") == .malformed)
        #expect(code("[1,2,3]") == .malformed)
        #expect(code("{\"v\":1,\"id\":1}") == .malformed)
        #expect(code("{\"v\":1,\"id\":1,\"kind\":\"shout\",\"type\":\"x\"}") == .malformed)
        #expect(code("{\"v\":2,\"id\":1,\"kind\":\"request\",\"type\":\"status\"}") == .unsupportedVersion)
        // Another version may have changed the rest of the header: it is still named, not called malformed.
        #expect(code("{\"v\":3,\"id\":\"a-string\",\"kind\":\"stream\"}") == .unsupportedVersion)
        #expect(code("{\"v\":\"1\",\"id\":1,\"kind\":\"request\",\"type\":\"status\"}") == .malformed)
        let good = try IPCInbound(
            frame: ByteBuffer(
                string: "{\"v\":1,\"id\":7,\"kind\":\"request\",\"type\":\"restart\",\"payload\":{\"name\":\"worker\"}}"
            ))
        #expect(good.id == 7)
        #expect(good.kind == .request)
        #expect(try good.payload(as: Restart.self).name == "worker")
        #expect(throws: IPCError.self) { try good.payload(as: BreakerReport.self) }
    }

    @Test("payload keys are snake_case on the wire")
    func snakeCase() throws {
        let report = BreakerReport(outcome: .transient, reason: "429", retryAfterS: 30)
        let json = String(decoding: try IPCCoding.encoder().encode(report), as: UTF8.self)
        #expect(json == "{\"outcome\":\"transient\",\"reason\":\"429\",\"retry_after_s\":30}")
        #expect(try IPCCoding.decoder().decode(BreakerReport.self, from: Data(json.utf8)).retryAfterS == 30)
    }
}
