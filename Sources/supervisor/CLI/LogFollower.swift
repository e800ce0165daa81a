#if canImport(Glibc)
import Glibc
#endif

/// Reads a log file from its last lines on and keeps reading what is appended, the way `tail -F` does: when the
/// path names a new file (the old one was rotated away), the rest of the old file is read first, then the new one
/// from its start; a file cut shorter than what was read is read again from its start. While the path is missing
/// the old file stays open, and the new one is picked up when it appears.
struct LogFollower: ~Copyable {
    let path: String
    private var descriptor: Int32
    private var identity: (device: UInt64, inode: UInt64)
    private var offset: Int

    /// Opens `path`; `initial` gets its last `lines` lines.
    init(path: String, lastLines lines: Int, initial: inout [UInt8]) throws(LogFileError) {
        self.path = path
        let descriptor = try Self.open(path)
        self.descriptor = descriptor
        var info = stat()
        fstat(descriptor, &info)
        self.identity = (UInt64(info.st_dev), UInt64(info.st_ino))
        let start = Self.startOfLastLines(descriptor, count: lines, size: Int(info.st_size))
        self.offset = start
        lseek(descriptor, off_t(start), SEEK_SET)
        initial = readAppended()
    }

    deinit {
        close(descriptor)
    }

    /// What was appended since the last call, across a rotation or truncation.
    mutating func readAppended() -> [UInt8] {
        var bytes = readToEnd()
        var current = stat()
        guard stat(path, &current) == 0 else { return bytes }
        if UInt64(current.st_dev) != identity.device || UInt64(current.st_ino) != identity.inode {
            // Rotated: the writer has moved on to the new file, so what the old one holds now is all it will hold.
            bytes += readToEnd()
            guard let replacement = try? Self.open(path) else { return bytes }
            close(descriptor)
            descriptor = replacement
            var info = stat()
            fstat(replacement, &info)
            identity = (UInt64(info.st_dev), UInt64(info.st_ino))
            offset = 0
            bytes += readToEnd()
        } else if Int(current.st_size) < offset {
            lseek(descriptor, 0, SEEK_SET)
            offset = 0
            bytes += readToEnd()
        }
        return bytes
    }

    private mutating func readToEnd() -> [UInt8] {
        var result: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { break }
            result += chunk[..<count]
            offset += count
        }
        return result
    }

    private static func open(_ path: String) throws(LogFileError) -> Int32 {
        let descriptor = Glibc.open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else {
            let reason = errno
            throw reason == ENOENT
                ? LogFileError(path: path, reason: "does not exist", missing: true)
                : LogFileError(path: path, reason: String(cString: strerror(reason)), missing: false)
        }
        return descriptor
    }

    /// The offset where the last `count` lines of the file begin, read backwards in chunks: the end of a large
    /// file is found without reading the rest. A last line without a newline counts as a line.
    static func startOfLastLines(_ descriptor: Int32, count: Int, size: Int) -> Int {
        guard count > 0 else { return size }
        var newlines = 0
        var position = size
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        while position > 0 {
            let length = min(chunk.count, position)
            let start = position - length
            let got = chunk.withUnsafeMutableBytes { pread(descriptor, $0.baseAddress, length, off_t(start)) }
            guard got == length else { return start }
            for index in stride(from: length - 1, through: 0, by: -1) where chunk[index] == UInt8(ascii: "\n") {
                // The newline that ends the file's last line does not start a line.
                if start + index == size - 1 { continue }
                newlines += 1
                if newlines == count { return start + index + 1 }
            }
            position = start
        }
        return 0
    }
}

/// A log file could not be opened.
struct LogFileError: Error, CustomStringConvertible {
    var path: String
    var reason: String
    /// The file does not exist.
    var missing: Bool

    var description: String { "\(path): \(reason)" }
}
