import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A blocking Unix stream socket for sending a server bytes that no well-behaved client would.
final class RawUnixSocket {
    let descriptor: Int32

    init(path: String) throws {
        descriptor = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        let connected = withUnixAddress(path) { connect(descriptor, $0, $1) }
        guard connected == 0 else { throw TestFailure("connect \(path): errno \(errno)") }
    }

    deinit { Glibc.close(descriptor) }

    /// Closes the socket now.
    func close() {
        shutdown(descriptor, Int32(SHUT_RDWR))
    }

    /// Whatever has arrived so far, without waiting.
    func readAvailable() async -> [UInt8] {
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = recv(descriptor, &buffer, buffer.count, Int32(MSG_DONTWAIT))
            guard count > 0 else { return received }
            received += buffer[..<count]
        }
    }

    func send(_ bytes: [UInt8]) {
        _ = bytes.withUnsafeBytes { Glibc.send(descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
    }

    /// One frame: length header and JSON body.
    func sendFrame(_ json: String) {
        let body = Array(json.utf8)
        let length = UInt32(body.count)
        send([UInt8(length >> 24), UInt8(length >> 16 & 0xff), UInt8(length >> 8 & 0xff), UInt8(length & 0xff)] + body)
    }

    /// A valid protocol-1 hello from a `cli`.
    func sendHello() {
        sendFrame(
            "{\"v\":1,\"id\":1,\"kind\":\"request\",\"type\":\"hello\",\"payload\":"
                + "{\"role\":\"cli\",\"pid\":1,\"program\":\"raw\",\"version\":\"x\"}}")
    }

    /// Reads until the peer closes (true) or 10 s pass (false), returning what arrived. Polls without blocking, so
    /// that the server under test, which shares the concurrency pool, keeps running.
    func readUntilClosed(timeout: Duration = .seconds(10)) async -> (bytes: [UInt8], closed: Bool) {
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            let count = recv(descriptor, &buffer, buffer.count, Int32(MSG_DONTWAIT))
            if count > 0 {
                received += buffer[..<count]
            } else if count == 0 || errno == ECONNRESET {
                return (received, true)
            } else {
                try? await Task.sleep(for: .milliseconds(10))
            }
        }
        return (received, false)
    }
}
