/// Who is at the other end of a connection.
public enum IPCRole: String, Codable, Sendable, CaseIterable {
    case supervisor
    case ingress
    case worker
    case gatekeeper
    /// The `bosun` command line, on the control socket.
    case cli
}

/// The first message on every connection, from the connecting side.
public struct Hello: IPCRequest {
    public static let type = "hello"
    public typealias Reply = Welcome

    public var role: IPCRole
    public var pid: Int32
    /// The program's name, for log lines (`bosun-worker`).
    public var program: String
    /// The program's release version.
    public var version: String

    public init(role: IPCRole, pid: Int32, program: String, version: String) {
        self.role = role
        self.pid = pid
        self.program = program
        self.version = version
    }
}

/// The server's answer to `Hello`.
public struct Welcome: Codable, Sendable {
    public var role: IPCRole
    public var pid: Int32
    public var version: String

    public init(role: IPCRole, pid: Int32, version: String) {
        self.role = role
        self.pid = pid
        self.version = version
    }
}

/// A reply with nothing to say beyond success.
public struct Empty: Codable, Sendable, Equatable {
    public init() {}
}
