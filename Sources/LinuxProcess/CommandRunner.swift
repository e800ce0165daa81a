import CBosunPosix
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// One short-lived command: an argv array (never a shell), its complete environment, a working directory and a
/// deadline.
public struct CommandInvocation: Sendable {
    /// An absolute path, or a name looked up in the `PATH` of `environment`.
    public var executable: String
    /// argv[1...].
    public var arguments: [String]
    /// The complete environment of the child.
    public var environment: [String: String]
    /// Where the child starts; nil keeps this process's.
    public var workingDirectory: String?
    /// After this long the whole process group gets SIGKILL.
    public var timeout: Duration
    /// How many bytes of each of stdout and stderr are kept: the last ones.
    public var outputLimit: Int

    /// A command with a 60 s timeout that keeps the last 64 KiB of each stream.
    public init(
        executable: String, arguments: [String], environment: [String: String], workingDirectory: String? = nil,
        timeout: Duration = .seconds(60), outputLimit: Int = 64 * 1024
    ) {
        self.executable = executable
        self.arguments = arguments
        self.environment = environment
        self.workingDirectory = workingDirectory
        self.timeout = timeout
        self.outputLimit = outputLimit
    }
}

/// How a command ended and what it wrote.
public struct CommandOutput: Sendable {
    /// How the process ended.
    public var status: TerminationStatus
    /// The last `outputLimit` bytes the command wrote to stdout.
    public var standardOutput: [UInt8]
    /// The last `outputLimit` bytes the command wrote to stderr.
    public var standardError: [UInt8]
    /// True if either stream was longer than `outputLimit` and its beginning was dropped.
    public var truncated: Bool
    /// True if the command outlived its timeout and its process group was killed.
    public var timedOut: Bool
    /// True if the calling task was cancelled and the process group was killed.
    public var cancelled: Bool

    /// stdout as text (invalid UTF-8 repaired).
    public var standardOutputText: String { String(decoding: standardOutput, as: UTF8.self) }
    /// stderr as text (invalid UTF-8 repaired).
    public var standardErrorText: String { String(decoding: standardError, as: UTF8.self) }
}

/// Runs a command to completion and captures its output.
///
/// Each command gets its own thread, which spawns the child (so that the child's parent-death signal is tied to a
/// thread that outlives it), reads both pipes, enforces the deadline and waits for exactly that pid: never
/// `waitpid(-1)`, and never a blocking call on the cooperative pool. The child runs in its own process group, with
/// stdin on `/dev/null`, and dies with SIGKILL if this process dies first.
public enum CommandRunner {
    /// Runs `invocation` and returns how it ended. Throws only if the command cannot be started; a nonzero exit, a
    /// timeout or a cancellation is reported in the output.
    public static func run(_ invocation: CommandInvocation) async throws(LinuxProcessError) -> CommandOutput {
        guard let executable = resolve(invocation.executable, path: invocation.environment["PATH"]) else {
            throw LinuxProcessError(
                .spawn, "cannot find \(invocation.executable) in PATH (\(invocation.environment["PATH"] ?? "unset"))")
        }
        let cancellation = CancellationFlag()
        let result: Result<CommandOutput, LinuxProcessError> = await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                startDetachedThread {
                    CurrentThread.setName("bosun-command")
                    continuation.resume(
                        returning: Result { () throws(LinuxProcessError) in
                            try runOnThisThread(invocation, executable: executable, cancellation: cancellation)
                        })
                }
            }
        } onCancel: {
            cancellation.set()
        }
        return try result.get()
    }

    /// The absolute path of `name`: itself if it contains a `/`, else the first executable file of that name in
    /// the colon-separated `path`.
    public static func resolve(_ name: String, path: String?) -> String? {
        guard !name.isEmpty else { return nil }
        if name.contains("/") { return access(name, X_OK) == 0 ? name : nil }
        for directory in (path ?? "/usr/local/bin:/usr/bin:/bin").split(separator: ":") where directory.hasPrefix("/") {
            let candidate = "\(directory)/\(name)"
            var info = stat()
            if stat(candidate, &info) == 0, info.st_mode & S_IFMT == S_IFREG, access(candidate, X_OK) == 0 {
                return candidate
            }
        }
        return nil
    }

    /// The blocking part: spawn, pump both pipes until the child has exited (or the deadline passed), reap.
    private static func runOnThisThread(
        _ invocation: CommandInvocation, executable: String, cancellation: CancellationFlag
    ) throws(LinuxProcessError) -> CommandOutput {
        let deadline = ContinuousClock.now + invocation.timeout
        let devNull = try Descriptors.devNull()
        defer { close(devNull) }
        let stdoutPipe = try Descriptors.pipe()
        let stderrPipe: (read: Int32, write: Int32)
        do {
            stderrPipe = try Descriptors.pipe()
        } catch {
            close(stdoutPipe.read)
            close(stdoutPipe.write)
            throw error
        }

        var request = SpawnRequest(
            executable: executable, arguments: invocation.arguments, environment: invocation.environment,
            fileDescriptors: [(devNull, 0), (stdoutPipe.write, 1), (stderrPipe.write, 2)])
        request.argv0 = invocation.executable
        request.workingDirectory = invocation.workingDirectory
        request.newProcessGroup = true
        request.parentDeathSignal = SIGKILL
        let pid: pid_t
        do {
            pid = try ProcessSpawner.spawn(request)
        } catch {
            for fd in [stdoutPipe.read, stdoutPipe.write, stderrPipe.read, stderrPipe.write] { close(fd) }
            if let child = error.childPID { _ = try? waitFor(child, blocking: true) }
            throw error
        }
        close(stdoutPipe.write)
        close(stderrPipe.write)
        // Readable when the child exits: waiting on it replaces polling for the exit once the pipes are closed.
        let exitDescriptor = bosun_pidfd_open(pid)
        defer {
            close(stdoutPipe.read)
            close(stderrPipe.read)
            if exitDescriptor >= 0 { close(exitDescriptor) }
        }

        var stdout = BoundedBuffer(limit: invocation.outputLimit)
        var stderr = BoundedBuffer(limit: invocation.outputLimit)
        var open: [(fd: Int32, isStdout: Bool)] = [(stdoutPipe.read, true), (stderrPipe.read, false)]
        var status: TerminationStatus?
        var timedOut = false
        var cancelled = false

        func pump(waitMilliseconds: Int32) {
            var fds = open.map { pollfd(fd: $0.fd, events: Int16(POLLIN), revents: 0) }
            let ready = poll(&fds, nfds_t(fds.count), waitMilliseconds)
            guard ready > 0 else { return }
            var closed: Set<Int32> = []
            var chunk = [UInt8](repeating: 0, count: 16 * 1024)
            for (index, entry) in fds.enumerated() where entry.revents != 0 {
                let count = read(entry.fd, &chunk, chunk.count)
                if count > 0 {
                    if open[index].isStdout {
                        stdout.append(chunk[..<count])
                    } else {
                        stderr.append(chunk[..<count])
                    }
                } else if count == 0 || errno != EINTR {
                    closed.insert(entry.fd)
                }
            }
            open.removeAll { closed.contains($0.fd) }
        }

        while status == nil {
            if cancellation.isSet || ContinuousClock.now >= deadline {
                cancelled = cancellation.isSet
                timedOut = !cancelled
                // The leader is not reaped yet, so its pid still names this group.
                kill(-pid, SIGKILL)
                status = try waitFor(pid, blocking: true)
                break
            }
            if open.isEmpty {
                // Both streams closed: the child is exiting (or closed them and lives on until the deadline).
                status = try waitFor(pid, blocking: false)
                if status == nil {
                    if exitDescriptor >= 0 {
                        var exit = pollfd(fd: exitDescriptor, events: Int16(POLLIN), revents: 0)
                        _ = poll(&exit, 1, min(50, milliseconds(until: deadline)))
                    } else {
                        usleep(2_000)
                    }
                }
            } else {
                pump(waitMilliseconds: min(50, milliseconds(until: deadline)))
                status = try waitFor(pid, blocking: false)
            }
        }
        // Whatever is already buffered; a descendant that keeps a pipe open is not waited for.
        for _ in 0..<64 where !open.isEmpty {
            let before = open.count
            pump(waitMilliseconds: 0)
            if open.count == before && !hasPendingData(open.map(\.fd)) { break }
        }
        return CommandOutput(
            status: status ?? .signaled(signal: SIGKILL, coreDumped: false), standardOutput: stdout.bytes,
            standardError: stderr.bytes, truncated: stdout.truncated || stderr.truncated, timedOut: timedOut,
            cancelled: cancelled)
    }

    /// Reaps `pid` only. nil if it has not exited yet (non-blocking). Throws if another `waitpid` in this process
    /// took the child's status.
    private static func waitFor(_ pid: pid_t, blocking: Bool) throws(LinuxProcessError) -> TerminationStatus? {
        var raw: Int32 = 0
        while true {
            let result = waitpid(pid, &raw, blocking ? 0 : WNOHANG)
            if result == pid { return TerminationStatus(waitStatus: raw) }
            if result == 0 { return nil }
            if errno == EINTR { continue }
            throw LinuxProcessError(
                .signal, "cannot wait for pid \(pid); another waitpid took its status", errno: errno)
        }
    }

    private static func hasPendingData(_ descriptors: [Int32]) -> Bool {
        var fds = descriptors.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
        return poll(&fds, nfds_t(fds.count), 0) > 0
    }

    private static func milliseconds(until deadline: ContinuousClock.Instant) -> Int32 {
        let remaining = ContinuousClock.now.duration(to: deadline)
        guard remaining > .zero else { return 0 }
        let (seconds, attoseconds) = remaining.components
        return Int32(clamping: seconds * 1000 + attoseconds / 1_000_000_000_000_000 + 1)
    }
}

/// The tail of a stream: keeps the last `limit` bytes.
struct BoundedBuffer {
    let limit: Int
    private(set) var bytes: [UInt8] = []
    private(set) var truncated = false

    init(limit: Int) { self.limit = max(0, limit) }

    mutating func append(_ chunk: ArraySlice<UInt8>) {
        bytes.append(contentsOf: chunk)
        if bytes.count > limit {
            bytes.removeFirst(bytes.count - limit)
            truncated = true
        }
    }
}

/// Set once by a task's cancellation handler, read by the command's thread.
private final class CancellationFlag: Sendable {
    private let flag = Mutex(false)
    var isSet: Bool { flag.withLock { $0 } }
    func set() { flag.withLock { $0 = true } }
}
