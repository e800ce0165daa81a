import CBosunCurl
import Foundation
import LinuxProcess
import Logging
import ProcessRuntime
import Testing

@testable import BosunSupervisor

#if canImport(Glibc)
import Glibc
#endif

@Suite("Small primitives")
struct PrimitivesTests {
    @Test("a log file rotates past its size, keeping the configured number of old files")
    func rotation() throws {
        let directory = TemporaryDirectory("bosun-rotate")
        let path = directory.file("worker.log")
        let log = try RotatingLog(path: path, maxBytes: 200, keep: 2)
        for index in 0..<20 {
            log.append("line \(index) " + String(repeating: "x", count: 40))
        }
        let files = try FileManager.default.contentsOfDirectory(atPath: directory.path).sorted()
        #expect(files == ["worker.log", "worker.log.1", "worker.log.2"])
        for file in files {
            let size = try FileManager.default.attributesOfItem(atPath: directory.file(file))[.size] as? Int ?? 0
            #expect(size <= 200)
        }
        let newest = try String(contentsOfFile: path, encoding: .utf8)
        #expect(newest.contains("line 19"))
        #expect(newest.split(separator: "\n").allSatisfy { $0.first?.isNumber == true && $0.contains("Z line ") })
        log.setLimits(maxBytes: 10_000, keep: 0)
        log.append("after")
        #expect(try String(contentsOfFile: path, encoding: .utf8).contains("after"))
    }

    @Test("timestamps are ISO 8601 UTC with milliseconds")
    func timestamp() {
        let stamp = RotatingLog.timestamp()
        #expect(stamp.count == 24)
        #expect(stamp.hasSuffix("Z"))
        #expect(ISO8601DateFormatter.withFractionalSeconds.date(from: stamp) != nil)
    }

    @Test("wait statuses decode to exits and signals")
    func terminationStatus() {
        #expect(TerminationStatus(waitStatus: 0) == .exited(code: 0))
        #expect(TerminationStatus(waitStatus: 3 << 8) == .exited(code: 3))
        #expect(TerminationStatus(waitStatus: 9) == .signaled(signal: 9, coreDumped: false))
        #expect(TerminationStatus(waitStatus: 6 | 0x80) == .signaled(signal: 6, coreDumped: true))
        #expect(TerminationStatus.signaled(signal: 9, coreDumped: false).description == "killed by SIGKILL")
        #expect(TerminationStatus.exited(code: 1).description == "exit 1")
        #expect(SignalName.of(42) == "signal 42")
    }

    @Test("/proc/PID/stat parses even when the command has spaces and parentheses")
    func procStat() throws {
        let line = "1234 (my (odd) cmd) S 1 1234 1234 0 -1 4194560 100 0 0 0 5 3 0 0 20 0 1 0 987654 0 0"
        let stat = try #require(ProcessStat(statLine: line))
        #expect(stat.pid == 1234)
        #expect(stat.command == "my (odd) cmd")
        #expect(stat.state == "S")
        #expect(stat.parentPID == 1)
        #expect(stat.processGroup == 1234)
        #expect(stat.startTime == 987654)
        #expect(ProcessStat(statLine: "garbage") == nil)
        let me = try #require(ProcessTable.stat(of: getpid()))
        #expect(me.parentPID == getppid())
    }

    @Test("the spawner installs exactly the descriptors asked for and reports exec failures")
    func spawner() async throws {
        let directory = TemporaryDirectory("bosun-spawn")
        let output = directory.file("out")
        let process = try TestProcess(
            "/bin/sh", ["-c", "ls /proc/self/fd | sort -n | tr '\\n' ' '; echo; echo $FOO"],
            environment: ["FOO": "bar"], output: output)
        #expect(await process.wait() == .exited(code: 0))
        let lines = process.output.split(separator: "\n")
        // 0, 1, 2, and the one ls opens to read the directory.
        #expect(lines.first?.split(separator: " ").count == 4, "\(process.output)")
        #expect(lines.last == "bar")

        do {
            _ = try ProcessSpawner.spawn(
                SpawnRequest(executable: directory.file("missing"), environment: [:], fileDescriptors: []))
            Issue.record("expected an exec failure")
        } catch {
            #expect(error.description.contains("(exec): No such file or directory"))
            let pid = try #require(error.childPID)
            var status: Int32 = 0
            #expect(waitpid(pid, &status, 0) == pid)
            #expect(TerminationStatus(waitStatus: status) == .exited(code: 127))
        }
    }

    @Test("log lines: level, message, sorted metadata, quoting, one line")
    func logFormat() {
        let line = LineLogHandler.format(
            level: .warning, message: "child exited\nunexpectedly",
            metadata: ["status": "exit 1", "pid": "42", "empty": ""])
        #expect(line == "warning child exited\\nunexpectedly empty=\"\" pid=42 status=\"exit 1\"")
    }

    @Test("libcurl is linked through its system-library target")
    func curlLinks() throws {
        let version = String(cString: try #require(curl_version()))
        #expect(version.hasPrefix("libcurl/"))
    }
}

extension ISO8601DateFormatter {
    fileprivate static var withFractionalSeconds: ISO8601DateFormatter {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter
    }
}
