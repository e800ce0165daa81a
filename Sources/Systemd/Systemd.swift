import CBosunSystemd

#if canImport(Glibc)
import Glibc
#endif

// Every sd_* call of Bosun is in this file.

/// The service manager's notification socket (`sd_notify`). Without `NOTIFY_SOCKET` every call is a silent no-op.
public struct SystemdNotifier: Sendable {
    public init() {}

    /// True when a service manager listens (`NOTIFY_SOCKET` is set).
    public var isActive: Bool { getenv("NOTIFY_SOCKET") != nil }

    /// Sends newline-separated `KEY=value` assignments, e.g. `READY=1\nSTATUS=serving`.
    public func send(_ assignments: String) {
        _ = sd_notify(0, assignments)
    }

    /// `READY=1` with a status line.
    public func ready(status: String) {
        send("READY=1\nSTATUS=\(status)")
    }

    /// A `STATUS=` line: what the service is doing, in words.
    public func status(_ text: String) {
        send("STATUS=\(text)")
    }

    /// `RELOADING=1` with the monotonic timestamp systemd 253+ expects, and a status line.
    public func reloading(status: String) {
        send("RELOADING=1\nMONOTONIC_USEC=\(Self.monotonicMicroseconds())\nSTATUS=\(status)")
    }

    /// `STOPPING=1` with a status line.
    public func stopping(status: String) {
        send("STOPPING=1\nSTATUS=\(status)")
    }

    /// One watchdog keep-alive.
    public func watchdog() {
        send("WATCHDOG=1")
    }

    /// The watchdog timeout systemd set for this process (`WATCHDOG_USEC`, checked against `WATCHDOG_PID`), or nil.
    public func watchdogTimeout() -> Duration? {
        var microseconds: UInt64 = 0
        guard sd_watchdog_enabled(0, &microseconds) > 0, microseconds > 0 else { return nil }
        return .microseconds(Int64(clamping: microseconds))
    }

    static func monotonicMicroseconds() -> UInt64 {
        var spec = timespec()
        clock_gettime(CLOCK_MONOTONIC, &spec)
        return UInt64(spec.tv_sec) * 1_000_000 + UInt64(spec.tv_nsec) / 1000
    }
}

/// Sockets passed by systemd socket activation (`LISTEN_FDS`, `LISTEN_PID`).
public enum SocketActivation {
    /// The listening stream sockets systemd passed to this process, starting at fd 3. Unsets the `LISTEN_*`
    /// variables so that nothing spawned later mistakes them for its own.
    ///
    /// - Throws: a description if systemd passed descriptors that are not listening stream sockets.
    public static func takeListeningSockets() throws(SocketActivationError) -> [Int32] {
        let count = sd_listen_fds(1)
        guard count > 0 else {
            if count < 0 {
                throw SocketActivationError(message: "LISTEN_FDS is invalid: \(String(cString: strerror(-count)))")
            }
            return []
        }
        let descriptors = (0..<count).map { SD_LISTEN_FDS_START + $0 }
        for descriptor in descriptors where sd_is_socket(descriptor, AF_UNSPEC, Int32(SOCK_STREAM.rawValue), 1) <= 0 {
            throw SocketActivationError(message: "fd \(descriptor) from systemd is not a listening stream socket")
        }
        return descriptors
    }
}

/// Socket activation handed over something unusable.
public struct SocketActivationError: Error, CustomStringConvertible, Sendable {
    public var message: String
    public var description: String { message }
}

/// The journal's native protocol (`sd_journal_sendv`): entries with fields, instead of bare lines on a stream.
public enum Journal {
    /// True when systemd connected this process's standard error to the journal: `JOURNAL_STREAM` names the
    /// device and inode of that stream (systemd.exec(5)), and they are those of descriptor 2. A variable inherited
    /// by a process whose stderr was redirected elsewhere does not match.
    public static func isStandardErrorConnected(environment: [String: String]) -> Bool {
        guard let text = environment["JOURNAL_STREAM"], let stream = JournalStream(parsing: text) else { return false }
        var info = stat()
        guard fstat(2, &info) == 0 else { return false }
        return UInt64(info.st_dev) == stream.device && UInt64(info.st_ino) == stream.inode
    }

    /// Sends one entry to journald; false if it could not be sent (no journald, a full socket buffer).
    @discardableResult
    public static func send(_ entry: JournalEntry) -> Bool {
        let assignments = entry.assignments.map { Array($0.utf8) }
        var buffer: [UInt8] = []
        var ranges: [Range<Int>] = []
        for bytes in assignments {
            ranges.append(buffer.count..<(buffer.count + bytes.count))
            buffer += bytes
        }
        return buffer.withUnsafeMutableBytes { raw in
            let vectors = ranges.map { range in
                iovec(iov_base: raw.baseAddress! + range.lowerBound, iov_len: range.count)
            }
            return vectors.withUnsafeBufferPointer { sd_journal_sendv($0.baseAddress, Int32($0.count)) } >= 0
        }
    }
}

/// The value of `JOURNAL_STREAM`: `DEVICE:INODE`, both decimal.
public struct JournalStream: Sendable, Equatable {
    public var device: UInt64
    public var inode: UInt64

    public init?(parsing text: String) {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, let device = UInt64(parts[0]), let inode = UInt64(parts[1]) else { return nil }
        self.device = device
        self.inode = inode
    }
}

/// One journal entry: the message, its syslog priority and identifier, and extra fields.
public struct JournalEntry: Sendable, Equatable {
    public var message: String
    /// Syslog priority, 0 (emergency) … 7 (debug).
    public var priority: Int
    /// `SYSLOG_IDENTIFIER`, e.g. `bosun-ingress`.
    public var identifier: String
    /// `SYSLOG_PID`: the process the line came from, when it is not the sender.
    public var pid: Int32?
    /// Further fields in order, e.g. `BOSUN_TASK=12`; names that journald would refuse are left out.
    public var fields: [JournalField]

    public init(message: String, priority: Int, identifier: String, pid: Int32? = nil, fields: [JournalField] = []) {
        self.message = message
        self.priority = min(max(priority, 0), 7)
        self.identifier = identifier
        self.pid = pid
        self.fields = fields
    }

    /// The `NAME=value` assignments sent, in order: `MESSAGE`, `PRIORITY`, `SYSLOG_IDENTIFIER`, `SYSLOG_PID`, then
    /// the valid extra fields. Values are sent as they are; the protocol carries newlines in values.
    public var assignments: [String] {
        var result = ["MESSAGE=\(message)", "PRIORITY=\(priority)", "SYSLOG_IDENTIFIER=\(identifier)"]
        if let pid { result.append("SYSLOG_PID=\(pid)") }
        for field in fields where Self.isValidFieldName(field.name) {
            result.append("\(field.name)=\(field.value)")
        }
        return result
    }

    /// journald's rule for a field a client may set: 1 to 64 characters of `A-Z`, `0-9` and `_`, not starting with
    /// `_` (trusted fields) or a digit.
    public static func isValidFieldName(_ name: String) -> Bool {
        let bytes = Array(name.utf8)
        guard let first = bytes.first, bytes.count <= 64, first != UInt8(ascii: "_"),
            !(UInt8(ascii: "0")...UInt8(ascii: "9")).contains(first)
        else { return false }
        return bytes.allSatisfy {
            (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains($0) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0)
                || $0 == UInt8(ascii: "_")
        }
    }
}

/// A field of a journal entry.
public struct JournalField: Sendable, Equatable {
    public var name: String
    public var value: String

    public init(_ name: String, _ value: String) {
        self.name = name
        self.value = value
    }
}
