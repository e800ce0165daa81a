import Foundation

/// A piece of a log file, in whole lines, and where it ends: the offset to read on from.
struct LogChunk: Sendable, Equatable {
    var text: String
    var start: UInt64
    var end: UInt64
}

extension LogFile {
    /// Whole lines from byte `offset` on, at most `maxBytes` of them; with no offset, the last whole lines within
    /// `maxBytes`. A line still being written is left for the next read, unless it alone exceeds `maxBytes`. An
    /// offset past the end (a file that was replaced) reads from the start. Nil if the file cannot be read.
    static func chunk(path: String, from offset: UInt64?, maxBytes: Int) -> LogChunk? {
        guard let handle = FileHandle(forReadingAtPath: path) else { return nil }
        defer { try? handle.close() }
        guard let size = try? handle.seekToEnd() else { return nil }
        var start: UInt64
        if let offset {
            start = offset <= size ? offset : 0
        } else {
            start = size > UInt64(maxBytes) ? size - UInt64(maxBytes) : 0
        }
        try? handle.seek(toOffset: start)
        var bytes = Array((try? handle.read(upToCount: maxBytes)) ?? Data())
        if offset == nil, start > 0, let newline = bytes.firstIndex(of: UInt8(ascii: "\n")) {
            bytes.removeFirst(newline + 1)
            start += UInt64(newline + 1)
        }
        if let lastNewline = bytes.lastIndex(of: UInt8(ascii: "\n")) {
            bytes.removeSubrange((lastNewline + 1)...)
        } else if bytes.count < maxBytes {
            bytes = []
        }
        return LogChunk(text: String(decoding: bytes, as: UTF8.self), start: start, end: start + UInt64(bytes.count))
    }
}
