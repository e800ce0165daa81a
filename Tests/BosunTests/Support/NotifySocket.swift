import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A Unix datagram socket standing in for systemd's `NOTIFY_SOCKET`: records every message with its arrival time.
final class NotifySocket: Sendable {
    let path: String
    private let descriptor: Int32
    private let messages = Mutex<[(at: ContinuousClock.Instant, text: String)]>([])
    private let running = Atomic<Bool>(true)

    init(path: String) throws {
        self.path = path
        descriptor = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        let bound = withUnixAddress(path) { bind(descriptor, $0, $1) }
        guard bound == 0 else { throw TestFailure("bind \(path): errno \(errno)") }
        var timeout = timeval(tv_sec: 0, tv_usec: 100_000)
        setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        Thread { [self] in
            var buffer = [UInt8](repeating: 0, count: 4096)
            while running.load(ordering: .relaxed) {
                let count = recv(descriptor, &buffer, buffer.count, 0)
                if count > 0 {
                    let text = String(decoding: buffer[..<count], as: UTF8.self)
                    messages.withLock { $0.append((.now, text)) }
                }
            }
            close(descriptor)
        }.start()
    }

    deinit {
        running.store(false, ordering: .relaxed)
    }

    var all: [(at: ContinuousClock.Instant, text: String)] { messages.withLock { $0 } }

    /// Messages that contain `assignment` (e.g. `READY=1`) as one of their lines.
    func with(_ assignment: String) -> [(at: ContinuousClock.Instant, text: String)] {
        all.filter { $0.text.split(separator: "\n").contains { $0 == assignment } }
    }
}
