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
