import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A blocking HTTP/1.1 client on one keep-alive connection, for tests that need exact control over what is sent and
/// that count on the client side. Use it from a `Thread`, not from the concurrency pool.
final class HTTPTestClient {
    struct Reply {
        var status: Int
        var headers: [String: String]
        var body: String
    }

    enum Failure: Error {
        case refused
        case connection(Int32)
        case closed
        case malformed(String)
    }

    private let port: Int
    private var descriptor: Int32 = -1

    init(port: Int) {
        self.port = port
    }

    deinit { disconnect() }

    func disconnect() {
        if descriptor >= 0 { close(descriptor) }
        descriptor = -1
    }

    /// Sends one request on the connection (opening it if needed) and reads the whole response.
    func send(
        _ method: String, _ path: String, headers: [(String, String)] = [], body: [UInt8] = []
    ) throws(Failure)
        -> Reply
    {
        if descriptor < 0 {
            switch connectTCP(port: port) {
            case .success(let connected):
                descriptor = connected
                var timeout = timeval(tv_sec: 15, tv_usec: 0)
                setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            case .failure(let error):
                throw error.code == .ECONNREFUSED ? .refused : .connection(error.code.rawValue)
            }
        }
        var head = "\(method) \(path) HTTP/1.1\r\nHost: localhost\r\nContent-Length: \(body.count)\r\n"
        for (name, value) in headers { head += "\(name): \(value)\r\n" }
        head += "\r\n"
        do {
            try writeAll(Array(head.utf8) + body)
            return try readReply()
        } catch {
            disconnect()
            throw error
        }
    }

    /// Writes raw bytes (for hostile requests).
    func writeRaw(_ bytes: [UInt8]) throws(Failure) {
        if descriptor < 0 {
            guard case .success(let connected) = connectTCP(port: port) else { throw .refused }
            descriptor = connected
        }
        try writeAll(bytes)
    }

    /// Reads one response (for hostile requests).
    func readRaw() throws(Failure) -> Reply {
        try readReply()
    }

    private func writeAll(_ bytes: [UInt8]) throws(Failure) {
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes {
                Glibc.send(descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL))
            }
            guard written > 0 else { throw .connection(errno) }
            offset += written
        }
    }

    private var buffer: [UInt8] = []

    private func fill() throws(Failure) {
        var chunk = [UInt8](repeating: 0, count: 65536)
        let count = recv(descriptor, &chunk, chunk.count, 0)
        guard count > 0 else { throw count == 0 ? .closed : .connection(errno) }
        buffer += chunk[..<count]
    }

    private func readReply() throws(Failure) -> Reply {
        let separator: [UInt8] = [13, 10, 13, 10]
        var headEnd: Int?
        while headEnd == nil {
            if let range = buffer.firstRange(of: separator) {
                headEnd = range.lowerBound
            } else {
                try fill()
            }
        }
        let head = String(decoding: buffer[..<headEnd!], as: UTF8.self)
        buffer.removeFirst(headEnd! + 4)
        var lines = head.components(separatedBy: "\r\n")
        let statusLine = lines.removeFirst().split(separator: " ")
        guard statusLine.count >= 2, let status = Int(statusLine[1]) else { throw .malformed(head) }
        var headers: [String: String] = [:]
        for line in lines {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(
                in: .whitespaces)
        }
        let length = Int(headers["content-length"] ?? "0") ?? 0
        while buffer.count < length { try fill() }
        let body = String(decoding: buffer[..<length], as: UTF8.self)
        buffer.removeFirst(length)
        if headers["connection"]?.lowercased() == "close" { disconnect() }
        return Reply(status: status, headers: headers, body: body)
    }
}

/// Runs `count` closures on their own threads and waits for all; each gets its index.
func onThreads(_ count: Int, _ body: @escaping @Sendable (Int) -> Void) async {
    await withTaskGroup(of: Void.self) { group in
        for index in 0..<count {
            group.addTask {
                await withCheckedContinuation { continuation in
                    Thread {
                        body(index)
                        continuation.resume()
                    }.start()
                }
            }
        }
    }
}
