import ArgumentParser
import Config
import Foundation
import IPC

/// `bosun status [--json] [--watch [SECONDS]]`.
struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show the supervisor, its processes, the circuit breaker, the queue, runs, inbox and outbox.")

    @OptionGroup var options: ConfigOption
    @Flag(help: "Print the supervisor's status as JSON.") var json = false
    @Flag(help: "Redraw every SECONDS (default 2) until interrupted.") var watch = false
    @Argument(help: ArgumentHelp("With --watch: seconds between redraws, 0.1 to 3600.", valueName: "seconds"))
    var seconds: String?

    func validate() throws {
        guard let seconds else { return }
        guard watch else { throw ValidationError("\(seconds): a number of seconds goes with --watch") }
        guard StatusWatch.interval(seconds) != nil else {
            throw ValidationError("--watch takes a number of seconds from 0.1 to 3600, not \(seconds)")
        }
    }

    func run() async throws {
        try await reportingFailures {
            let snapshot = StatusSnapshot(configPath: options.path, json: json)
            guard watch else {
                print(try await snapshot.render(), terminator: "")
                return
            }
            let interval = seconds.flatMap(StatusWatch.interval) ?? StatusWatch.defaultInterval
            try await StatusWatch(interval: interval).run { watching in
                await snapshot.renderForWatch(every: watching)
            }
        }
    }
}

/// `bosun restart NAME`.
struct RestartCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "restart",
        abstract: "Restart one process now; clears `failed` and its restart budget. Returns when it is ready.")

    @OptionGroup var options: ConfigOption
    @Argument(help: "ingress, worker or gatekeeper") var name: String

    func run() async throws {
        try await reportingFailures {
            let config = try? ConfigLoader.load(path: options.path)
            let wait = (config?.supervisor.readyTimeoutSeconds ?? 30) + (config?.stopGraceSeconds(for: name) ?? 10) + 10
            let status = try await ControlClient.send(
                Restart(name: name), configPath: options.path, timeout: .seconds(wait))
            print("\(status.name) restarted: pid \(status.pid.map(String.init) ?? "-"), \(status.state.rawValue)")
        }
    }
}

/// `bosun rolling-restart`.
struct RollingRestartCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rolling-restart",
        abstract: "Replace every process one at a time, each only after the previous replacement is ready.")

    @OptionGroup var options: ConfigOption

    func run() async throws {
        try await reportingFailures {
            let config = try? ConfigLoader.load(path: options.path)
            let each = (config?.supervisor.readyTimeoutSeconds ?? 30) + (config?.stopGraceSeconds(for: "worker") ?? 10)
            let report = try await ControlClient.send(
                RollingRestart(), configPath: options.path, timeout: .seconds(3 * each + 10))
            for step in report.steps {
                print("\(step.name): \(step.oldPid.map(String.init) ?? "-") -> \(step.newPid) (\(step.durationMs) ms)")
            }
        }
    }
}

/// `bosun stop`.
struct StopCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stop", abstract: "Stop the supervisor and its processes gracefully; returns when it has exited.")

    @OptionGroup var options: ConfigOption

    func run() async throws {
        try await reportingFailures {
            let grace = (try? ConfigLoader.load(path: options.path))?.stopGraceSeconds(for: "worker") ?? 10
            let exited = try await ControlClient.withConnection(configPath: options.path) { connection in
                _ = try await connection.request(Stop(reason: "bosun stop"))
                return await withTaskGroup(of: Bool.self) { group in
                    group.addTask {
                        await connection.waitUntilClosed()
                        return true
                    }
                    group.addTask {
                        try? await Task.sleep(for: .seconds(grace + 10))
                        return false
                    }
                    defer { group.cancelAll() }
                    return await group.next()!
                }
            }
            guard exited else { throw CommandFailure(message: "the supervisor is still stopping after \(grace + 10)s") }
            print("stopped")
        }
    }
}

/// `bosun pause`.
struct PauseCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pause", abstract: "Stop claiming new jobs; running jobs continue. Holds across restarts.")

    @OptionGroup var options: ConfigOption

    func run() async throws {
        try await reportingFailures {
            _ = try await ControlClient.send(Pause(), configPath: options.path)
            print("paused: no new jobs are claimed until `bosun resume`")
        }
    }
}

/// `bosun resume`.
struct ResumeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "resume", abstract: "Claim jobs again.")

    @OptionGroup var options: ConfigOption

    func run() async throws {
        try await reportingFailures {
            _ = try await ControlClient.send(Resume(), configPath: options.path)
            print("resumed")
        }
    }
}

/// `bosun breaker [--reset]`.
struct BreakerCommandLine: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "breaker", abstract: "Show the circuit breaker, or close it with --reset.")

    @OptionGroup var options: ConfigOption
    @Flag(help: "Close the breaker and forget its history.") var reset = false
    @Flag(help: "Print the breaker as JSON.") var json = false

    func run() async throws {
        try await reportingFailures {
            let breaker = try await ControlClient.send(BreakerCommand(reset: reset), configPath: options.path)
            if json {
                print(String(decoding: try IPCCoding.encoder().encode(breaker), as: UTF8.self))
            } else {
                print(StatusTable.describe(breaker))
            }
        }
    }
}

/// `bosun reload`.
struct ReloadCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reload",
        abstract: "Re-read the config file; an invalid file changes nothing and says why (same as SIGHUP).")

    @OptionGroup var options: ConfigOption

    func run() async throws {
        try await reportingFailures {
            let report = try await ControlClient.send(Reload(), configPath: options.path, timeout: .seconds(60))
            print(report.changes.isEmpty ? "reloaded: no changes" : "reloaded:")
            for change in report.changes { print("  \(change)") }
        }
    }
}
