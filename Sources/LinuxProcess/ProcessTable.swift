import CBosunPosix

#if canImport(Glibc)
import Glibc
#endif

/// One line of `/proc/PID/stat`, the fields Bosun needs.
public struct ProcessStat: Equatable, Sendable {
    public var pid: pid_t
    /// The executable's name as the kernel reports it (at most 15 bytes).
    public var command: String
    /// `R`, `S`, `D`, `Z` (zombie), `T` …
    public var state: Character
    public var parentPID: pid_t
    public var processGroup: pid_t
    public var session: pid_t
    /// Clock ticks since boot at which the process started. With the pid it identifies a process for good: a pid
    /// that the kernel reuses comes with a new start time.
    public var startTime: UInt64

    /// True if the process has exited and waits to be reaped.
    public var isZombie: Bool { state == "Z" }

    /// Parses the text of `/proc/PID/stat`. The command is in parentheses and may itself contain spaces and
    /// parentheses, so the fields are counted from the last `)`.
    public init?(statLine line: String) {
        guard let open = line.firstIndex(of: "("), let close = line.lastIndex(of: ")"),
            let pid = pid_t(line[..<open].trimmingSpaces)
        else { return nil }
        let fields = line[line.index(after: close)...].split(separator: " ")
        // fields[0] is field 3 (state); start time is field 22.
        guard fields.count >= 20, let state = fields[0].first,
            let parent = pid_t(fields[1]), let group = pid_t(fields[2]), let session = pid_t(fields[3]),
            let start = UInt64(fields[19])
        else { return nil }
        self.pid = pid
        self.command = String(line[line.index(after: open)..<close])
        self.state = state
        self.parentPID = parent
        self.processGroup = group
        self.session = session
        self.startTime = start
    }
}

/// Reads the kernel's process table from `/proc`.
public enum ProcessTable {
    /// The stat of one process, or nil if it does not exist (any more).
    public static func stat(of pid: pid_t) -> ProcessStat? {
        guard let text = readSmallFile("/proc/\(pid)/stat") else { return nil }
        return ProcessStat(statLine: text)
    }

    /// Every process visible in `/proc` at this moment.
    public static func all() -> [ProcessStat] {
        guard let directory = opendir("/proc") else { return [] }
        defer { closedir(directory) }
        var result: [ProcessStat] = []
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if let pid = pid_t(name), let stat = stat(of: pid) {
                result.append(stat)
            }
        }
        return result
    }

    /// The processes whose environment (`/proc/PID/environ`, as it was at their exec) holds exactly `entry`
    /// (`NAME=value`). Processes this one may not read (another user's) are not seen.
    public static func processes(withEnvironmentEntry entry: String) -> [ProcessStat] {
        let wanted = Array(entry.utf8)
        return all().filter { process in
            guard let environment = readSmallBytes("/proc/\(process.pid)/environ") else { return false }
            return environment.split(separator: 0, omittingEmptySubsequences: true).contains {
                $0.elementsEqual(wanted)
            }
        }
    }

    /// The resident set size of a process in bytes, from `/proc/PID/statm`.
    public static func residentBytes(of pid: pid_t) -> Int? {
        guard let text = readSmallFile("/proc/\(pid)/statm") else { return nil }
        let fields = text.split(separator: " ")
        guard fields.count > 1, let pages = Int(fields[1]) else { return nil }
        return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
    }

    private static func readSmallFile(_ path: String) -> String? {
        readSmallBytes(path).map { String(decoding: $0, as: UTF8.self) }
    }

    private static func readSmallBytes(_ path: String) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = read(fd, &buffer, buffer.count)
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { break }
            bytes.append(contentsOf: buffer[..<count])
        }
        return bytes
    }
}

extension Substring {
    fileprivate var trimmingSpaces: Substring {
        var text = self
        while text.first == " " { text.removeFirst() }
        while text.last == " " { text.removeLast() }
        return text
    }
}

/// Facts about this process.
public enum CurrentProcess {
    /// The absolute path of the running executable (`/proc/self/exe`).
    public static var executablePath: String {
        var buffer = [CChar](repeating: 0, count: 4096)
        let count = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        guard count > 0 else { return CommandLine.arguments[0] }
        return String(decoding: buffer[..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

/// The calling thread.
public enum CurrentThread {
    /// Names the thread for `top -H`, perf and `/proc` (truncated to 15 bytes).
    public static func setName(_ name: String) {
        _ = bosun_set_thread_name(name)
    }
}
