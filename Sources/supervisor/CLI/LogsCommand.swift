import ArgumentParser
import Config
import Foundation
import Store

#if canImport(Glibc)
import Glibc
#endif

/// `bosun logs NAME [-n N] [-f]` and `bosun logs --run ID [-n N] [-f]`.
struct LogsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "logs",
        abstract: "Show the end of a process's log file or of an agent run's log; -f keeps following it.",
        discussion: """
            NAME is supervisor, ingress, worker or gatekeeper: logs/NAME.log in the state directory, followed across \
            rotation like `tail -F`. With --run ID: the run's stdout and stderr; -f follows until the run has ended.
            """)

    /// The processes with a log file.
    static let names = ["supervisor", "ingress", "worker", "gatekeeper"]

    @OptionGroup var options: ConfigOption
    @Argument(help: "supervisor, ingress, worker or gatekeeper.") var name: String?
    @Option(name: .customLong("run"), help: "An agent or gate run's id (`bosun task ID` lists them).") var run: Int64?
    @Option(name: [.customShort("n"), .customLong("lines")], help: "How many lines from the end to show first.")
    var lines = 50
    @Flag(name: [.short, .long], help: "Keep printing what is appended.") var follow = false

    /// How often a followed file is read again.
    static let pollInterval = Duration.milliseconds(200)

    func validate() throws {
        switch (name, run) {
        case (nil, nil):
            throw ValidationError("give a process name (\(Self.names.joined(separator: ", "))) or --run ID")
        case (.some, .some):
            throw ValidationError("give a process name or --run ID, not both")
        case (.some(let name), nil) where !Self.names.contains(name):
            throw ValidationError("no process named \(name); the logs are \(Self.names.joined(separator: ", "))")
        default:
            break
        }
        guard lines >= 0 else { throw ValidationError("-n must be 0 or more, not \(lines)") }
    }

    func run() async throws {
        try await reportingFailures {
            let stateDirectory: String
            do {
                stateDirectory = try ConfigLoader.stateDirectory(ofConfigAt: options.path)
            } catch let error as ConfigError {
                throw CommandFailure(message: "\(error.file): \(error)")
            }
            let layout = StateLayout(root: stateDirectory)
            if let run {
                try await showRun(run, layout: layout)
            } else if let name {
                try await showProcess(name, layout: layout)
            }
        }
    }

    private func showProcess(_ name: String, layout: StateLayout) async throws {
        let path = layout.logFile(for: name)
        var follower = try open(path) { "no log file \(path); has bosun run with this state directory?" }
        guard follow else { return }
        while true {
            try await Task.sleep(for: Self.pollInterval)
            try Self.write(follower.readAppended())
        }
    }

    private func showRun(_ id: Int64, layout: StateLayout) async throws {
        guard FileManager.default.fileExists(atPath: layout.database) else {
            throw CommandFailure(message: "no database at \(layout.database); has bosun run with this state directory?")
        }
        let database = try Database(path: layout.database)
        guard var record = try database.read({ try $0.run(id: id) }) else {
            throw CommandFailure(message: "no run \(id)")
        }
        // A run is recorded a moment before its log path; a followed run waits for its file to appear.
        while follow && record.isLive && !FileManager.default.fileExists(atPath: record.logPath) {
            try await Task.sleep(for: Self.pollInterval)
            record = try database.read { try $0.run(id: id) } ?? record
        }
        let path = record.logPath
        var follower = try open(path) { "run \(id) (\(record.state)) has no log file \(path)" }
        guard follow else { return }
        while record.isLive {
            try await Task.sleep(for: Self.pollInterval)
            // The state is read before the file: once the run is seen ended, the read that follows gets all of it.
            record = try database.read { try $0.run(id: id) } ?? record
            try Self.write(follower.readAppended())
        }
    }

    /// Opens a log file and prints its last lines.
    private func open(_ path: String, missing: () -> String) throws -> LogFollower {
        var initial: [UInt8] = []
        do {
            let follower = try LogFollower(path: path, lastLines: lines, initial: &initial)
            try Self.write(initial)
            return follower
        } catch let error as LogFileError {
            throw CommandFailure(message: error.missing ? missing() : "cannot read \(error)")
        }
    }

    /// Writes to stdout; a reader that went away (`bosun logs -f | head`) ends the command quietly.
    private static func write(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes { Glibc.write(1, $0.baseAddress, $0.count) }
            if written < 0 && errno == EINTR { continue }
            guard written > 0 else {
                if errno == EPIPE { throw ExitCode.success }
                throw CommandFailure(message: "cannot write to standard output: \(String(cString: strerror(errno)))")
            }
            offset += written
        }
    }
}

extension RunRecord {
    /// Still starting or running.
    fileprivate var isLive: Bool { state == "starting" || state == "running" }
}
