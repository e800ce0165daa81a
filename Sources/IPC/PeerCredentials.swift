import NIOCore

#if canImport(Glibc)
import Glibc
#endif

/// The kernel's record of who is at the other end of a Unix socket (`SO_PEERCRED`).
///
/// Laid out like `struct ucred`, which Glibc's module does not export.
public struct PeerCredentials: Sendable, Equatable {
    public var pid: Int32
    public var uid: UInt32
    public var gid: UInt32

    public init(pid: Int32, uid: UInt32, gid: UInt32) {
        self.pid = pid
        self.uid = uid
        self.gid = gid
    }

    /// Reads the credentials of `channel`'s peer. Must be a connected Unix stream socket channel.
    static func of(_ channel: any Channel) -> EventLoopFuture<PeerCredentials> {
        guard let provider = channel as? any SocketOptionProvider else {
            return channel.eventLoop.makeFailedFuture(IPCError(.wrongUser, "channel has no socket options"))
        }
        return provider.unsafeGetSocketOption(
            level: SocketOptionLevel(SOL_SOCKET), name: SocketOptionName(SO_PEERCRED))
    }
}
