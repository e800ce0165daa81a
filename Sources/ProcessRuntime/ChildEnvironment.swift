import Foundation
import IPC

/// The contract between the supervisor and the children it spawns: the environment variables it sets.
public struct ChildEnvironment: Sendable {
    /// The supervisor's IPC socket.
    public static let supervisorSocketKey = "BOSUN_SUPERVISOR_SOCKET"
    /// The absolute path of the config file.
    public static let configKey = "BOSUN_CONFIG"
    /// The config snapshot the child loads (the text the supervisor validated last).
    public static let configSnapshotKey = "BOSUN_CONFIG_SNAPSHOT"
    /// The child's name (`ingress`, `worker`, `gatekeeper`).
    public static let processKey = "BOSUN_PROCESS"
    /// For ingress: the descriptor of the inherited listening socket.
    public static let listenDescriptorKey = "BOSUN_LISTEN_FD"
    /// Variables that belong to the supervisor alone and never reach a child: systemd's notify socket, watchdog and
    /// socket-activation variables.
    public static func isSupervisorOnly(_ name: String) -> Bool {
        name == "NOTIFY_SOCKET" || name.hasPrefix("LISTEN_") || name.hasPrefix("WATCHDOG_")
    }

    public var supervisorSocket: String
    /// The config file, for resolving relative paths and for messages.
    public var configPath: String
    public var configSnapshot: String
    public var listenDescriptor: Int32?

    /// The inherited listening socket, which only ingress gets.
    public func requireListenDescriptor() throws(ChildEnvironmentError) -> Int32 {
        guard let listenDescriptor else {
            throw ChildEnvironmentError(
                message: "\(Self.listenDescriptorKey) is not set; ingress needs the listening socket from `bosun run`")
        }
        return listenDescriptor
    }

    /// Reads the contract from this process's environment.
    ///
    /// - Throws: a message naming the missing variable: the child was not started by `bosun run`.
    public static func fromProcess(
        _ environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws(ChildEnvironmentError) -> ChildEnvironment {
        guard let socket = environment[supervisorSocketKey], let config = environment[configKey],
            let snapshot = environment[configSnapshotKey]
        else {
            throw ChildEnvironmentError(
                message: "\(supervisorSocketKey), \(configKey) and \(configSnapshotKey) are not set; "
                    + "this program is started by `bosun run`")
        }
        var result = ChildEnvironment(supervisorSocket: socket, configPath: config, configSnapshot: snapshot)
        if let text = environment[listenDescriptorKey] {
            guard let descriptor = Int32(text), descriptor >= 3 else {
                throw ChildEnvironmentError(message: "\(listenDescriptorKey)=\(text) is not a descriptor number")
            }
            result.listenDescriptor = descriptor
        }
        return result
    }
}

/// The process was not started the way the supervisor starts children.
public struct ChildEnvironmentError: Error, CustomStringConvertible, Sendable {
    public var message: String
    public var description: String { message }
}
