import IPC
import Synchronization

/// The three supervised processes.
enum ChildName: String, CaseIterable, Sendable, Comparable {
    case ingress
    case worker
    case gatekeeper

    var role: IPCRole {
        switch self {
        case .ingress: .ingress
        case .worker: .worker
        case .gatekeeper: .gatekeeper
        }
    }

    /// The executable's file name.
    var program: String { "bosun-\(rawValue)" }

    /// How a replacement takes over in a restart by hand or a rolling restart.
    enum Handover {
        /// Start the new process, wait for its ready, then stop the old: ingress, whose processes share the
        /// listening socket, so that intake never pauses.
        case startThenStop
        /// Stop the old process first: the gatekeeper, whose deliveries must be applied by one process in order,
        /// and the worker, whose runs are re-adopted by the next one.
        case stopThenStart
    }

    var handover: Handover { self == .ingress ? .startThenStop : .stopThenStart }

    static func < (lhs: ChildName, rhs: ChildName) -> Bool {
        allCases.firstIndex(of: lhs)! < allCases.firstIndex(of: rhs)!
    }
}

/// The pids the supervisor spawned and what each is, readable synchronously by the IPC server's admission check.
final class KnownChildren: Sendable {
    private let pids = Mutex<[Int32: ChildName]>([:])

    func insert(_ pid: Int32, as name: ChildName) {
        pids.withLock { $0[pid] = name }
    }

    func remove(_ pid: Int32) {
        _ = pids.withLock { $0.removeValue(forKey: pid) }
    }

    func name(of pid: Int32) -> ChildName? {
        pids.withLock { $0[pid] }
    }
}
