#if canImport(Glibc)
import Glibc
#endif

/// Where things live under `state_dir`. Every process derives its paths from here and nowhere else.
public struct StateLayout: Sendable, Equatable {
    public let root: String

    public init(root: String) {
        self.root = root
    }

    /// The SQLite database.
    public var database: String { root + "/bosun.db" }
    /// The inbox: the deliveries intake stores, in a SQLite file of their own (docs/STORE.md).
    public var inbox: String { root + "/inbox.db" }
    /// The 0700 directory of Unix sockets.
    public var runDirectory: String { root + "/run" }
    /// The supervisor's socket for its children.
    public var supervisorSocket: String { runDirectory + "/supervisor.sock" }
    /// The supervisor's socket for `bosun` commands.
    public var controlSocket: String { runDirectory + "/control.sock" }
    /// The config the children run with: the text the supervisor last validated (see `ConfigSnapshot`).
    public var configSnapshot: String { runDirectory + "/config.yaml" }
    /// Per-process log files.
    public var logDirectory: String { root + "/logs" }

    /// The log file of one process (`supervisor`, `ingress`, …).
    public func logFile(for process: String) -> String { logDirectory + "/\(process).log" }
}

extension BosunConfig {
    /// The layout of this config's state directory.
    public var layout: StateLayout { StateLayout(root: stateDirectory) }
}

/// The supervisor writes the config text it validated here, and children read it instead of the file: an edit that
/// breaks `bosun.yaml` never reaches a child that restarts before the next successful reload.
public enum ConfigSnapshot {
    /// Replaces the snapshot atomically (write, fsync, rename), readable by this user only.
    public static func write(_ text: String, to path: String) throws {
        let temporary = path + ".tmp"
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw SnapshotError(message: "cannot create \(temporary): \(errnoText())") }
        let bytes = Array(text.utf8)
        let written = bytes.withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress, $0.count) }
        let synced = fsync(descriptor) == 0
        close(descriptor)
        guard written == bytes.count, synced, rename(temporary, path) == 0 else {
            unlink(temporary)
            throw SnapshotError(message: "cannot write \(path): \(errnoText())")
        }
    }

    private static func errnoText() -> String { String(cString: strerror(errno)) }

    /// The snapshot could not be written.
    public struct SnapshotError: Error, CustomStringConvertible {
        public var message: String
        public var description: String { message }
    }
}
