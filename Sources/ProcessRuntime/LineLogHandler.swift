import Foundation
import Logging
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Writes each record as one line: `level message key=value …`, metadata sorted by key. The supervisor adds the
/// process name and, in log files, the time; journald adds its own fields.
public struct LineLogHandler: LogHandler {
    public var logLevel: Logger.Level
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    private let sink: @Sendable (String) -> Void

    /// A handler that writes to `sink`; by default standard error.
    public init(level: Logger.Level = .info, sink: @escaping @Sendable (String) -> Void = LineLogHandler.standardError)
    {
        self.logLevel = level
        self.sink = sink
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var merged = metadata
        if let provided = metadataProvider?.get() { merged.merge(provided) { _, new in new } }
        if let extra = event.metadata { merged.merge(extra) { _, new in new } }
        if let error = event.error { merged["error"] = "\(error)" }
        sink(Self.format(level: event.level, message: "\(event.message)", metadata: merged))
    }

    /// The line for one record, without a newline.
    public static func format(level: Logger.Level, message: String, metadata: Logger.Metadata) -> String {
        var line = "\(level) \(message)"
        for (key, value) in metadata.sorted(by: { $0.key < $1.key }) {
            line += " \(key)=\(quoted("\(value)"))"
        }
        return line.replacingNewlines()
    }

    /// Takes a line that `format` wrote apart again: its level, the text after the level, and the metadata at its
    /// end (read from the right, so that a message with spaces stays whole). A line that does not start with a
    /// level (a crash report, a runtime message) has no level, and all of it is text.
    public static func parse(_ line: String) -> ParsedLogLine {
        guard let space = line.firstIndex(of: " "), let level = Logger.Level(rawValue: String(line[..<space])) else {
            return ParsedLogLine(level: nil, text: line, metadata: [:])
        }
        let text = String(line[line.index(after: space)...])
        return ParsedLogLine(level: level, text: text, metadata: trailingMetadata(Array(text.utf8)))
    }

    /// The `key=value` pairs at the end of `bytes`, as `format` writes them: values with a space, a quote or `=`
    /// are quoted, with `\"` for a quote. Stops at the first token that is not a pair; a pair needs a space
    /// before it (the message comes first).
    private static func trailingMetadata(_ bytes: [UInt8]) -> [String: String] {
        let space = UInt8(ascii: " ")
        let quote = UInt8(ascii: "\"")
        let equals = UInt8(ascii: "=")
        let backslash = UInt8(ascii: "\\")
        var metadata: [String: String] = [:]
        var end = bytes.count
        while end > 0 {
            let separator: Int
            let value: String
            if bytes[end - 1] == quote {
                var open = end - 2
                while open >= 0 && !(bytes[open] == quote && (open == 0 || bytes[open - 1] != backslash)) { open -= 1 }
                guard open >= 1, bytes[open - 1] == equals else { break }
                separator = open - 1
                value = String(decoding: bytes[(open + 1)..<(end - 1)], as: UTF8.self)
                    .replacingOccurrences(of: "\\\"", with: "\"")
            } else {
                var start = end - 1
                while start >= 0 && bytes[start] != space { start -= 1 }
                guard let found = bytes[(start + 1)..<end].firstIndex(of: equals),
                    !bytes[(found + 1)..<end].contains(quote)
                else { break }
                separator = found
                value = String(decoding: bytes[(found + 1)..<end], as: UTF8.self)
            }
            var keyStart = separator - 1
            while keyStart >= 0 && bytes[keyStart] != space { keyStart -= 1 }
            let key = bytes[(keyStart + 1)..<separator]
            guard keyStart >= 0, !key.isEmpty, !key.contains(quote), !key.contains(equals) else { break }
            let name = String(decoding: key, as: UTF8.self)
            if metadata[name] == nil { metadata[name] = value }
            end = keyStart
        }
        return metadata
    }

    private static func quoted(_ value: String) -> String {
        guard value.isEmpty || value.contains(where: { $0 == " " || $0 == "\"" || $0 == "=" }) else { return value }
        return "\"" + value.replacingOccurrences(of: "\"", with: "\\\"") + "\""
    }

    /// Writes a line to standard error with one `write`, so that lines from several threads do not interleave.
    public static let standardError: @Sendable (String) -> Void = { line in
        let bytes = Array((line + "\n").utf8)
        bytes.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let written = write(2, raw.baseAddress! + offset, raw.count - offset)
                if written < 0 && errno == EINTR { continue }
                guard written > 0 else { return }
                offset += written
            }
        }
    }
}

extension String {
    fileprivate func replacingNewlines() -> String {
        guard contains(where: \.isNewline) else { return self }
        return split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).joined(separator: "\\n")
    }
}

/// A log line taken apart by `LineLogHandler.parse`.
public struct ParsedLogLine: Sendable, Equatable {
    /// The record's level; nil for a line that is not a log record.
    public var level: Logger.Level?
    /// The line after the level: the message and its metadata, as written.
    public var text: String
    /// The metadata at the end of the line.
    public var metadata: [String: String]
}
