import Foundation
import NIOCore

/// The protocol's fixed numbers.
public enum IPCProtocol {
    /// The version every envelope carries; a peer with another version is disconnected.
    public static let version = 1
    /// The default largest frame, 1 MiB: control messages are small, and a runaway peer is cut off early.
    public static let defaultMaxFrameSize = 1 << 20
}

/// The JSON conventions of every payload: snake_case keys and ISO 8601 dates.
public enum IPCCoding {
    /// An encoder for payloads, also used by `bosun status --json`.
    public static func encoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }

    /// The matching decoder.
    public static func decoder() -> JSONDecoder {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        decoder.dateDecodingStrategy = .iso8601
        return decoder
    }
}

/// A message's place in a conversation.
public enum IPCKind: String, Codable, Sendable {
    /// Expects exactly one `reply` or `error` with `re` set to its id.
    case request
    case reply
    /// A failed request: the payload is an `IPCErrorPayload`.
    case error
    /// One-way; never answered.
    case event
}

/// Every IPC message type: a Codable payload with a stable wire name.
public protocol IPCMessage: Codable, Sendable {
    /// The `type` field on the wire.
    static var type: String { get }
}

/// A message that expects a reply of type `Reply`.
public protocol IPCRequest: IPCMessage {
    associatedtype Reply: Codable & Sendable
}

/// A one-way message.
public protocol IPCEvent: IPCMessage {}

/// The payload of an `error` envelope.
public struct IPCErrorPayload: Codable, Sendable {
    public var code: String
    public var message: String
}

/// An envelope as it arrived: the header decoded, the payload still raw.
public struct IPCInbound: Sendable {
    public var version: Int
    public var id: UInt64
    public var kind: IPCKind
    public var type: String
    /// The request this answers, for `reply` and `error`.
    public var inReplyTo: UInt64?
    /// The whole frame; `payload(as:)` decodes the `payload` member from it.
    let frame: ByteBuffer

    private struct Header: Decodable {
        var v: Int
        var id: UInt64
        var kind: IPCKind
        var type: String
        var re: UInt64?
    }

    private struct Body<Payload: Decodable>: Decodable {
        var payload: Payload
    }

    /// Decodes the header of one frame. Anything but a JSON object with the header fields is `malformed`.
    public init(frame: ByteBuffer) throws(IPCError) {
        let bytes = Data(frame.readableBytesView)
        let header: Header
        do {
            // One decode for a well-formed frame (perf, 300 jobs: the version and header decodes were 9% of the
            // supervisor's CPU).
            header = try JSONDecoder().decode(Header.self, from: bytes)
        } catch {
            // Then the version alone: a peer on another version may have changed everything else, and is told so.
            struct VersionOnly: Decodable { var v: Int }
            guard let versioned = try? JSONDecoder().decode(VersionOnly.self, from: bytes) else {
                throw IPCError(.malformed, "frame is not a JSON envelope with a version")
            }
            guard versioned.v == IPCProtocol.version else { throw Self.unsupported(versioned.v) }
            throw IPCError(.malformed, "envelope header is invalid: \(error)")
        }
        guard header.v == IPCProtocol.version else { throw Self.unsupported(header.v) }
        self.version = header.v
        self.id = header.id
        self.kind = header.kind
        self.type = header.type
        self.inReplyTo = header.re
        self.frame = frame
    }

    private static func unsupported(_ version: Int) -> IPCError {
        IPCError(
            .unsupportedVersion, "peer speaks protocol version \(version); this side speaks \(IPCProtocol.version)")
    }

    /// Decodes the payload as `Payload`.
    public func payload<Payload: Decodable>(as: Payload.Type) throws(IPCError) -> Payload {
        do {
            return try IPCCoding.decoder().decode(Body<Payload>.self, from: Data(frame.readableBytesView)).payload
        } catch {
            throw IPCError(.malformed, "payload of \(type) is invalid: \(error)")
        }
    }
}

/// Builds outgoing envelopes.
enum IPCOutbound {
    private struct Envelope<Payload: Encodable>: Encodable {
        var v = IPCProtocol.version
        var id: UInt64
        var kind: IPCKind
        var type: String
        var re: UInt64?
        var payload: Payload
    }

    static func encode<Payload: Encodable>(
        id: UInt64, kind: IPCKind, type: String, inReplyTo: UInt64? = nil, payload: Payload
    ) throws(IPCError) -> ByteBuffer {
        do {
            let data = try IPCCoding.encoder().encode(
                Envelope(id: id, kind: kind, type: type, re: inReplyTo, payload: payload))
            return ByteBuffer(bytes: data)
        } catch {
            throw IPCError(.malformed, "cannot encode \(type): \(error)")
        }
    }
}
