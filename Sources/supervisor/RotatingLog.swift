import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A log file rotated by size: `NAME.log` is renamed to `NAME.log.1` (and older files shift up, the oldest beyond
/// `keep` deleted) when the next line would take it past `maxBytes`. Each line is timestamped in UTC.
final class RotatingLog: Sendable {
    let path: String
    private let state: Mutex<State>

    private struct State {
        var descriptor: Int32
        var size: Int
        var maxBytes: Int
        var keep: Int
    }

    init(path: String, maxBytes: Int, keep: Int) throws(SupervisorError) {
        let descriptor = try Self.open(path)
        var info = stat()
        fstat(descriptor, &info)
        self.path = path
        self.state = Mutex(State(descriptor: descriptor, size: Int(info.st_size), maxBytes: maxBytes, keep: keep))
    }

    deinit {
        state.withLock { _ = close($0.descriptor) }
    }

    /// Applies new limits from a reloaded config.
    func setLimits(maxBytes: Int, keep: Int) {
        state.withLock {
            $0.maxBytes = maxBytes
            $0.keep = keep
        }
    }

    /// Appends one line with a timestamp; a write error is dropped (a full disk must not stop supervision).
    func append(_ line: String) {
        let bytes = Array("\(Self.timestamp()) \(line)\n".utf8)
        state.withLock { state in
            if state.size > 0 && state.size + bytes.count > state.maxBytes {
                rotate(&state)
            }
            bytes.withUnsafeBytes { raw in
                var offset = 0
                while offset < raw.count {
                    let written = write(state.descriptor, raw.baseAddress! + offset, raw.count - offset)
                    if written < 0 && errno == EINTR { continue }
                    guard written > 0 else { return }
                    offset += written
                }
            }
            state.size += bytes.count
        }
    }

    private func rotate(_ state: inout State) {
        close(state.descriptor)
        if state.keep == 0 {
            unlink(path)
        } else {
            unlink("\(path).\(state.keep)")
            for index in stride(from: state.keep - 1, through: 1, by: -1) {
                rename("\(path).\(index)", "\(path).\(index + 1)")
            }
            rename(path, "\(path).1")
        }
        state.descriptor = (try? Self.open(path)) ?? -1
        state.size = 0
    }

    private static func open(_ path: String) throws(SupervisorError) -> Int32 {
        let descriptor = Glibc.open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o640)
        guard descriptor >= 0 else {
            throw SupervisorError(.setup, "cannot open log file \(path): \(String(cString: strerror(errno)))")
        }
        return descriptor
    }

    /// `2026-11-21T10:15:02.123Z`
    static func timestamp() -> String {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        var parts = tm()
        var seconds = now.tv_sec
        gmtime_r(&seconds, &parts)
        func pad(_ value: Int32, _ width: Int) -> String {
            let text = String(value)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
        return "\(pad(parts.tm_year + 1900, 4))-\(pad(parts.tm_mon + 1, 2))-\(pad(parts.tm_mday, 2))T"
            + "\(pad(parts.tm_hour, 2)):\(pad(parts.tm_min, 2)):\(pad(parts.tm_sec, 2))."
            + "\(pad(Int32(now.tv_nsec / 1_000_000), 3))Z"
    }
}
