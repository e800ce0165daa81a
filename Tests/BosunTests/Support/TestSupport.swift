import Foundation
import IPC
import LinuxProcess
import Logging
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A directory under /tmp removed with everything in it when the value is released.
final class TemporaryDirectory: Sendable {
    let path: String

    init(_ label: String = "bosun-test") {
        var template = Array("/tmp/\(label)-XXXXXX".utf8CString)
        let created = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        precondition(created != nil, "mkdtemp failed")
        path = String(decoding: template.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    deinit {
        // BOSUN_KEEP_TEST_DIRS=1 keeps them (logs, the store) for a post-mortem of a failed test.
        guard ProcessInfo.processInfo.environment["BOSUN_KEEP_TEST_DIRS"] == nil else { return }
        try? FileManager.default.removeItem(atPath: path)
    }

    func file(_ name: String) -> String { "\(path)/\(name)" }

    @discardableResult
    func write(_ name: String, _ text: String, mode: Int = 0o644) throws -> String {
        let target = file(name)
        try text.write(toFile: target, atomically: true, encoding: .utf8)
        chmod(target, mode_t(mode))
        return target
    }
}

/// The built executables, next to the test bundle.
enum Binaries {
    static let directory = URL(fileURLWithPath: CurrentProcess.executablePath).deletingLastPathComponent().path
    static let bosun = "\(directory)/bosun"
}

/// A process the test started, with its output in a file.
final class TestProcess: @unchecked Sendable {
    // Invariant: `exitStatus` is only written by `wait`, which tests call from one task at a time.
    let pid: Int32
    let outputPath: String
    private(set) var exitStatus: TerminationStatus?

    init(
        _ executable: String, _ arguments: [String], environment: [String: String] = [:], output: String,
        newSession: Bool = false, extraDescriptors: [(source: Int32, target: Int32)] = []
    ) throws {
        let outputDescriptor = open(output, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        let devNull = try Descriptors.devNull()
        defer {
            close(outputDescriptor)
            close(devNull)
        }
        var merged = ProcessInfo.processInfo.environment
        merged.merge(environment) { _, new in new }
        var request = SpawnRequest(
            executable: executable, arguments: arguments, environment: merged,
            fileDescriptors: [(devNull, 0), (outputDescriptor, 1), (outputDescriptor, 2)] + extraDescriptors)
        request.newProcessGroup = !newSession
        request.newSession = newSession
        self.pid = try ProcessSpawner.spawn(request)
        self.outputPath = output
    }

    var output: String { (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? "" }

    /// Waits for the process to exit, polling; nil on timeout.
    @discardableResult
    func wait(timeout: Duration = .seconds(30)) async -> TerminationStatus? {
        if let exitStatus { return exitStatus }
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            var status: Int32 = 0
            let result = waitpid(pid, &status, WNOHANG)
            if result == pid {
                exitStatus = TerminationStatus(waitStatus: status)
                return exitStatus
            }
            try? await Task.sleep(for: .milliseconds(10))
        }
        return nil
    }

    func signal(_ number: Int32) {
        kill(pid, number)
    }

    /// Kills the whole process group and reaps the process; for cleanup.
    func terminate() async {
        guard exitStatus == nil else { return }
        kill(-pid, SIGKILL)
        kill(pid, SIGKILL)
        await wait(timeout: .seconds(10))
    }
}

/// Runs a command to completion and returns its exit status and output (stdout and stderr together).
func run(
    _ executable: String, _ arguments: [String], environment: [String: String] = [:], in directory: TemporaryDirectory
)
    async throws -> (status: TerminationStatus, output: String)
{
    let outputFile = directory.file("cmd-\(UInt64.random(in: 0...UInt64.max)).out")
    let process = try TestProcess(executable, arguments, environment: environment, output: outputFile)
    guard let status = await process.wait(timeout: .seconds(60)) else {
        await process.terminate()
        throw TestFailure("\(executable) \(arguments) did not finish in 60 s")
    }
    return (status, process.output)
}

/// Runs `bosun` with `arguments`.
func bosun(
    _ arguments: [String], environment: [String: String] = [:], in directory: TemporaryDirectory
)
    async throws -> (status: TerminationStatus, output: String)
{
    try await run(Binaries.bosun, arguments, environment: environment, in: directory)
}

struct TestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// Polls `condition` every 20 ms until it holds or `timeout` passes.
func eventually(
    timeout: Duration = .seconds(20), _ what: String, _ condition: () async throws -> Bool
) async throws {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try await condition() { return }
        try await Task.sleep(for: .milliseconds(20))
    }
    throw TestFailure("timed out after \(timeout) waiting for \(what)")
}

/// A logger that drops everything, for in-process IPC clients.
let quietLogger: Logger = {
    var logger = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })
    logger.logLevel = .critical
    return logger
}()

/// A TCP socket connected to 127.0.0.1:`port`, or the errno of the failure.
func connectTCP(port: Int) -> Result<Int32, POSIXError> {
    let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
    guard descriptor >= 0 else { return .failure(POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO)) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = in_port_t(UInt16(port).bigEndian)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    let result = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
        }
    }
    guard result == 0 else {
        let failure = errno
        close(descriptor)
        return .failure(POSIXError(POSIXErrorCode(rawValue: failure) ?? .EIO))
    }
    return .success(descriptor)
}

/// Connects and closes; returns 0 on success or the errno of the failure.
func tcpConnect(port: Int) -> Int32 {
    switch connectTCP(port: port) {
    case .success(let descriptor):
        close(descriptor)
        return 0
    case .failure(let error):
        return error.code.rawValue
    }
}

/// A minimal HTTP/1.1 GET over a fresh connection; returns the status code and body.
func httpGet(port: Int, path: String) throws -> (status: Int, body: String) {
    let descriptor: Int32
    switch connectTCP(port: port) {
    case .success(let connected): descriptor = connected
    case .failure(let error): throw TestFailure("connect: \(error.code)")
    }
    defer { close(descriptor) }
    var timeout = timeval(tv_sec: 5, tv_usec: 0)
    setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    let request = Array("GET \(path) HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n".utf8)
    _ = request.withUnsafeBytes { send(descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
    var response: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 4096)
    while true {
        let count = recv(descriptor, &buffer, buffer.count, 0)
        guard count > 0 else { break }
        response += buffer[..<count]
    }
    let text = String(decoding: response, as: UTF8.self)
    guard let statusLine = text.split(separator: "\r\n").first, statusLine.split(separator: " ").count >= 2,
        let code = Int(statusLine.split(separator: " ")[1])
    else { throw TestFailure("no HTTP response: \(text)") }
    let body = text.components(separatedBy: "\r\n\r\n").dropFirst().joined(separator: "\r\n\r\n")
    return (code, body)
}

/// Calls `body` with `path` as a Unix socket address.
func withUnixAddress<Result>(_ path: String, _ body: (UnsafePointer<sockaddr>, socklen_t) -> Result) -> Result {
    var address = sockaddr_un()
    address.sun_family = sa_family_t(AF_UNIX)
    withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: Array(path.utf8)) }
    return withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
    }
}

/// Processes whose parent is `pid` and which are zombies.
func zombieChildren(of pid: Int32) -> [ProcessStat] {
    ProcessTable.all().filter { $0.parentPID == pid && $0.isZombie }
}

/// The arguments of a process from `/proc/PID/cmdline`, joined by spaces; empty if it is gone.
func commandLine(of pid: Int32) -> String {
    guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { return "" }
    return String(decoding: data.map { $0 == 0 ? UInt8(ascii: " ") : $0 }, as: UTF8.self)
}

/// Processes whose environment contains `entry` (e.g. `BOSUN_CONFIG=/tmp/x/bosun.yaml`): the children of one
/// particular supervisor, whatever became of their parent.
func processes(withEnvironment entry: String) -> [ProcessStat] {
    ProcessTable.all().filter { stat in
        guard !stat.isZombie, let data = FileManager.default.contents(atPath: "/proc/\(stat.pid)/environ") else {
            return false
        }
        return data.split(separator: 0).contains { String(decoding: $0, as: UTF8.self) == entry }
    }
}
