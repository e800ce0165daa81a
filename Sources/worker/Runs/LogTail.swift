#if canImport(Glibc)
import Glibc
#endif

/// The end of a run's log: what the classifier reads. Never the whole file: a log may be gigabytes.
public struct LogTail: Equatable, Sendable {
    /// The default amount read: enough for the final stream-json events of any agent.
    public static let defaultLimit = 256 * 1024

    /// The last bytes of the log as text (invalid UTF-8 repaired). If the log was longer than the limit, the first,
    /// partial line is dropped so that every line here is whole.
    public var text: String
    /// True if the log had more than this.
    public var truncated: Bool

    public init(text: String, truncated: Bool = false) {
        self.text = text
        self.truncated = truncated
    }

    /// Reads at most `limit` bytes from the end of the file at `path`.
    public static func read(path: String, limit: Int = defaultLimit) throws(RunError) -> LogTail {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else {
            throw RunError(.statusFile, "cannot open the log \(path)", cause: SystemError(errno))
        }
        defer { close(descriptor) }
        let size = lseek(descriptor, 0, SEEK_END)
        guard size >= 0 else {
            throw RunError(.statusFile, "cannot seek in the log \(path)", cause: SystemError(errno))
        }
        let start = max(0, Int(size) - limit)
        // One byte more before the window says whether the window starts on a line boundary.
        let readStart = max(0, start - 1)
        var bytes = [UInt8](repeating: 0, count: Int(size) - readStart)
        var filled = 0
        while filled < bytes.count {
            let count = bytes.withUnsafeMutableBytes { raw in
                pread(descriptor, raw.baseAddress! + filled, raw.count - filled, off_t(readStart + filled))
            }
            if count < 0 && errno == EINTR { continue }
            if count < 0 { throw RunError(.statusFile, "cannot read the log \(path)", cause: SystemError(errno)) }
            if count == 0 { break }
            filled += count
        }
        var slice = bytes[..<filled]
        if start > 0 {
            // Drop the line the window cut into (or just the newline before the window).
            if let newline = slice.firstIndex(of: UInt8(ascii: "\n")) {
                slice = slice[slice.index(after: newline)...]
            } else {
                slice = slice[slice.endIndex...]
            }
        }
        return LogTail(text: String(decoding: slice, as: UTF8.self), truncated: start > 0)
    }
}
