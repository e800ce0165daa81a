import CBosunPosix
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Everything a child needs at birth. The child gets exactly the descriptors in `fileDescriptors`; every other
/// descriptor of the parent is closed in it.
public struct SpawnRequest: Sendable {
    public var executable: String
    /// argv[1...]; argv[0] is `argv0` or the executable path.
    public var arguments: [String]
    public var argv0: String?
    /// The complete environment of the child.
    public var environment: [String: String]
    /// `source` (a descriptor of the parent) becomes `target` in the child. Map 0, 1 and 2 explicitly.
    public var fileDescriptors: [(source: Int32, target: Int32)]
    public var workingDirectory: String?
    public var newProcessGroup = true
    public var newSession = false
    /// Delivered to the child when the spawning thread dies; see `SpawnThread`. 0 for none.
    public var parentDeathSignal: Int32 = 0
    /// The child's nice value (-20 to 19). Nil: the spawning process's own, which is its main thread's, whichever
    /// thread spawns (libdispatch gives its threads a niceness of their own, which a fork would otherwise copy).
    public var niceness: Int32?

    public init(
        executable: String, arguments: [String] = [], environment: [String: String],
        fileDescriptors: [(source: Int32, target: Int32)]
    ) {
        self.executable = executable
        self.arguments = arguments
        self.environment = environment
        self.fileDescriptors = fileDescriptors
    }
}

/// Nice values (`nice(1)`, -20 to 19) of whole processes.
public enum ProcessNiceness {
    /// This process's niceness: its main thread's (on Linux `PRIO_PROCESS` with a thread id names that thread alone).
    public static var own: Int32 {
        errno = 0
        let value = getpriority(__priority_which_t(PRIO_PROCESS.rawValue), id_t(getpid()))
        return value == -1 && errno != 0 ? 0 : value
    }

    /// `own` plus `increment`, capped at 19: a child that runs `increment` levels nicer than this process.
    public static func below(by increment: Int) -> Int32 {
        Int32(min(19, Int(own) + max(0, increment)))
    }
}

/// clone/exec through a C shim (`bosun_spawn`), because a Swift process must not run Swift code between them.
public enum ProcessSpawner {
    /// Starts the child and returns its pid. If a setup step or `execve` fails, throws after the child has exited:
    /// the caller's reaper still has to collect that pid, which `LinuxProcessError` does not carry.
    public static func spawn(_ request: SpawnRequest) throws(LinuxProcessError) -> pid_t {
        let argv = [request.argv0 ?? request.executable] + request.arguments
        let envp = request.environment.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
        let mappings = request.fileDescriptors.map { bosun_fd_mapping(source: $0.source, target: $0.target) }
        guard mappings.count <= Int(BOSUN_MAX_FD_MAPPINGS) else {
            throw LinuxProcessError(.spawn, "too many descriptors for one spawn (\(mappings.count))")
        }

        var pid: pid_t = 0
        var errorNumber: Int32 = 0
        var stage: UnsafePointer<CChar>? = nil
        let result = withCStringArray(argv) { argvPointer in
            withCStringArray(envp) { envPointer in
                mappings.withUnsafeBufferPointer { fds in
                    request.executable.withCString { path in
                        withOptionalCString(request.workingDirectory) { cwd in
                            var spawn = bosun_spawn_request(
                                path: path, argv: argvPointer, envp: envPointer, fds: fds.baseAddress,
                                fd_count: Int32(fds.count), working_directory: cwd,
                                new_process_group: request.newProcessGroup ? 1 : 0,
                                new_session: request.newSession ? 1 : 0,
                                parent_death_signal: request.parentDeathSignal,
                                niceness: request.niceness ?? ProcessNiceness.own)
                            return bosun_spawn(&spawn, &pid, &errorNumber, &stage)
                        }
                    }
                }
            }
        }
        guard result == 0 else {
            let step = stage.map { String(cString: $0) } ?? "spawn"
            throw LinuxProcessError(
                .spawn, "cannot start \(request.executable) (\(step))", errno: errorNumber,
                childPID: pid > 0 ? pid : nil)
        }
        return pid
    }
}

private func withCStringArray<R>(_ strings: [String], _ body: (UnsafePointer<UnsafeMutablePointer<CChar>?>) -> R) -> R {
    let copies = strings.map { strdup($0) }
    defer { copies.forEach { free($0) } }
    return (copies + [nil]).withUnsafeBufferPointer { body($0.baseAddress!) }
}

private func withOptionalCString<R>(_ string: String?, _ body: (UnsafePointer<CChar>?) -> R) -> R {
    guard let string else { return body(nil) }
    return string.withCString { body($0) }
}

/// A thread that lives as long as the process and performs every spawn.
///
/// `PR_SET_PDEATHSIG` fires when the *thread* that forked the child exits, not the process. Swift's concurrency
/// pool retires idle threads, so a child spawned from one would get its parent-death signal at a random moment.
/// Spawning from this thread ties the signal to the process's real lifetime.
public final class SpawnThread: Sendable {
    private typealias Job = @Sendable () -> Void
    private let jobs = Mutex<[Job]>([])
    private let wakeups = Semaphore()

    public init() {
        // The thread keeps `self` for the life of the process, which is what a spawn thread must do.
        startDetachedThread { [self] in
            CurrentThread.setName("bosun-spawn")
            while true {
                wakeups.wait()
                let job = jobs.withLock { $0.isEmpty ? nil : $0.removeFirst() }
                job?()
            }
        }
    }

    /// Spawns on the spawn thread and returns the child's pid.
    public func spawn(_ request: SpawnRequest) async throws(LinuxProcessError) -> pid_t {
        let result: Result<pid_t, LinuxProcessError> = await withCheckedContinuation { continuation in
            jobs.withLock {
                $0.append {
                    continuation.resume(
                        returning: Result { () throws(LinuxProcessError) in
                            try ProcessSpawner.spawn(request)
                        })
                }
            }
            wakeups.signal()
        }
        return try result.get()
    }
}

/// A counting semaphore (POSIX `sem_t`) that a plain thread can block on.
final class Semaphore: @unchecked Sendable {
    // Invariant: `semaphore` is allocated once, initialized in init and only used through sem_* calls,
    // which are thread-safe; it is never freed because the spawn thread lives as long as the process.
    private let semaphore: UnsafeMutablePointer<sem_t>

    init() {
        semaphore = .allocate(capacity: 1)
        sem_init(semaphore, 0, 0)
    }

    func signal() { sem_post(semaphore) }

    func wait() {
        while sem_wait(semaphore) != 0 {}  // EINTR
    }
}

/// The closure a detached thread runs, handed over as an unmanaged pointer.
private final class ThreadBody: Sendable {
    let body: @Sendable () -> Void
    init(_ body: @escaping @Sendable () -> Void) { self.body = body }
}

/// Starts a detached pthread running `body`. Used for the few threads that must outlive any task.
func startDetachedThread(_ body: @escaping @Sendable () -> Void) {
    var thread = pthread_t()
    let box = Unmanaged.passRetained(ThreadBody(body)).toOpaque()
    let created = pthread_create(
        &thread, nil,
        { raw in
            Unmanaged<ThreadBody>.fromOpaque(raw!).takeRetainedValue().body()
            return nil
        }, box)
    precondition(created == 0, "pthread_create failed: \(created)")
    pthread_detach(thread)
}
