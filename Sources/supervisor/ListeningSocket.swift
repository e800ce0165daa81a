import Config

#if canImport(Glibc)
import Glibc
#endif

/// The HTTP listening socket. The supervisor owns it for its whole life and hands a copy to every ingress it spawns,
/// so that the kernel keeps accepting connections into the backlog while ingress restarts: none is refused.
struct ListeningSocket: Sendable {
    /// Close-on-exec; the spawner installs it as fd 3 in ingress.
    let descriptor: Int32
    /// The address actually bound, with the kernel's port if the config said 0.
    let address: String
    /// True when systemd passed it (socket activation).
    let fromSystemd: Bool

    /// Binds `address` and listens with `backlog`.
    static func bind(_ address: ListenAddress, backlog: Int) throws(SupervisorError) -> ListeningSocket {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV
        var results: UnsafeMutablePointer<addrinfo>?
        let lookup = getaddrinfo(address.host, String(address.port), &hints, &results)
        guard lookup == 0, let first = results else {
            throw SupervisorError(.setup, "cannot resolve \(address.host): \(String(cString: gai_strerror(lookup)))")
        }
        defer { freeaddrinfo(results) }

        var lastError = "no address"
        var candidate: UnsafeMutablePointer<addrinfo>? = first
        while let info = candidate {
            candidate = info.pointee.ai_next
            let descriptor = socket(info.pointee.ai_family, info.pointee.ai_socktype | Int32(SOCK_CLOEXEC.rawValue), 0)
            guard descriptor >= 0 else {
                lastError = String(cString: strerror(errno))
                continue
            }
            var one: Int32 = 1
            setsockopt(descriptor, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
            if Glibc.bind(descriptor, info.pointee.ai_addr, info.pointee.ai_addrlen) == 0,
                listen(descriptor, Int32(backlog)) == 0
            {
                return ListeningSocket(
                    descriptor: descriptor, address: localAddress(of: descriptor), fromSystemd: false)
            }
            lastError = String(cString: strerror(errno))
            close(descriptor)
        }
        throw SupervisorError(.setup, "cannot listen on \(address): \(lastError)")
    }

    /// Adopts a listening socket that systemd passed.
    static func adopt(systemdDescriptor descriptor: Int32) -> ListeningSocket {
        _ = fcntl(descriptor, F_SETFD, FD_CLOEXEC)
        return ListeningSocket(descriptor: descriptor, address: localAddress(of: descriptor), fromSystemd: true)
    }

    /// `127.0.0.1:8787` or `[::1]:8787`.
    static func localAddress(of descriptor: Int32) -> String {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let found = withUnsafeMutablePointer(to: &storage) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &length) == 0 }
        }
        guard found else { return "unknown" }
        var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        switch Int32(storage.ss_family) {
        case AF_INET:
            return withUnsafePointer(to: &storage) { pointer in
                pointer.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { address in
                    var raw = address.pointee.sin_addr
                    inet_ntop(AF_INET, &raw, &text, socklen_t(text.count))
                    return "\(cString(text)):\(UInt16(bigEndian: address.pointee.sin_port))"
                }
            }
        case AF_INET6:
            return withUnsafePointer(to: &storage) { pointer in
                pointer.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { address in
                    var raw = address.pointee.sin6_addr
                    inet_ntop(AF_INET6, &raw, &text, socklen_t(text.count))
                    return "[\(cString(text))]:\(UInt16(bigEndian: address.pointee.sin6_port))"
                }
            }
        default:
            return "unknown"
        }
    }
}

/// The text of a NUL-terminated C string in a buffer.
private func cString(_ buffer: [CChar]) -> String {
    String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}
