import Config

#if canImport(Glibc)
import Glibc
#endif

/// One HTTP/1.1 request to this machine's own ingress, over a plain socket: no proxy settings apply (a bearer token
/// must not travel through an `http_proxy`), nothing to configure. Blocking, with a 10 s limit per read and write.
enum LoopbackHTTP {
    struct Reply {
        var status: Int
        var body: String
    }

    /// The address to connect to for a listen address: the wildcard addresses mean this machine's loopback.
    static func connectableHost(_ listen: ListenAddress) -> String {
        switch listen.host {
        case "0.0.0.0", "": "127.0.0.1"
        case "::": "::1"
        default: listen.host
        }
    }

    /// `http://HOST:PORT` for a listen address, with IPv6 hosts in brackets.
    static func baseURL(_ listen: ListenAddress) -> String {
        let host = connectableHost(listen)
        return host.contains(":") ? "http://[\(host)]:\(listen.port)" : "http://\(host):\(listen.port)"
    }

    static func post(
        _ listen: ListenAddress, path: String, headers: [(String, String)]
    ) throws(CommandFailure) -> Reply {
        let descriptor = try connect(listen)
        defer { close(descriptor) }
        var request = "POST \(path) HTTP/1.1\r\nHost: \(listen)\r\nContent-Length: 0\r\nConnection: close\r\n"
        for (name, value) in headers { request += "\(name): \(value)\r\n" }
        let bytes = Array((request + "\r\n").utf8)
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes {
                send(descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL))
            }
            guard written > 0 else {
                throw CommandFailure(message: "cannot send to \(listen): \(String(cString: strerror(errno)))")
            }
            offset += written
        }
        var response: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 16 << 10)
        while response.count < 1 << 20 {
            let count = recv(descriptor, &buffer, buffer.count, 0)
            guard count > 0 else {
                if count < 0 {
                    throw CommandFailure(message: "no answer from \(listen): \(String(cString: strerror(errno)))")
                }
                break
            }
            response += buffer[..<count]
        }
        let text = String(decoding: response, as: UTF8.self)
        guard let headEnd = text.range(of: "\r\n\r\n"),
            let statusLine = text[..<headEnd.lowerBound].split(separator: "\r\n").first
        else { throw CommandFailure(message: "no HTTP answer from \(listen)") }
        let parts = statusLine.split(separator: " ")
        guard parts.count >= 2, let status = Int(parts[1]) else {
            throw CommandFailure(message: "a malformed HTTP answer from \(listen): \(statusLine)")
        }
        return Reply(status: status, body: String(text[headEnd.upperBound...]))
    }

    private static func connect(_ listen: ListenAddress) throws(CommandFailure) -> Int32 {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV
        var results: UnsafeMutablePointer<addrinfo>?
        let host = connectableHost(listen)
        let lookup = getaddrinfo(host, String(listen.port), &hints, &results)
        guard lookup == 0, let info = results else {
            throw CommandFailure(message: "cannot use address \(host): \(String(cString: gai_strerror(lookup)))")
        }
        defer { freeaddrinfo(results) }
        let descriptor = socket(info.pointee.ai_family, info.pointee.ai_socktype | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard descriptor >= 0 else { throw CommandFailure(message: "socket: \(String(cString: strerror(errno)))") }
        var timeout = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(descriptor, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        guard Glibc.connect(descriptor, info.pointee.ai_addr, info.pointee.ai_addrlen) == 0 else {
            let reason = String(cString: strerror(errno))
            close(descriptor)
            throw CommandFailure(message: "cannot connect to ingress at \(listen): \(reason)")
        }
        return descriptor
    }
}
