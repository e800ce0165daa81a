import ArgumentParser
import Config
import Foundation
import ProcessRuntime

/// `bosun`: the supervisor and its command line.
struct BosunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bosun",
        abstract: "Turns tracker issues into reviewed, tested pull requests by driving coding agents.",
        discussion: """
            Control commands find the running supervisor through the state directory of the config file \
            (-c FILE, else $BOSUN_CONFIG, else ./bosun.yaml). Exit status: 0 success, 1 failure, 3 no supervisor \
            running, 64 usage error.
            """,
        version: BosunVersion.current,
        subcommands: [
            RunCommand.self, StatusCommand.self, RestartCommand.self, RollingRestartCommand.self, StopCommand.self,
            PauseCommand.self, ResumeCommand.self, BreakerCommandLine.self, ReloadCommand.self,
            CheckConfigCommand.self, InitCommand.self, VersionCommand.self, TasksCommand.self, TaskCommand.self,
            DashboardCommand.self,
            DemoCommand.self,
            LogsCommand.self,
        ])
}

/// `-c/--config FILE`, shared by every command that reads the config.
struct ConfigOption: ParsableArguments {
    @Option(name: [.short, .long], help: "The config file (default: $BOSUN_CONFIG, else ./bosun.yaml).")
    var config: String?

    var path: String { config ?? ConfigLoader.defaultPath() }
}

/// Ends a command with one line on stderr and a non-zero status.
struct CommandFailure: Error {
    static let failure: Int32 = 1
    static let notRunning: Int32 = 3

    var message: String
    var status: Int32 = CommandFailure.failure
}

extension AsyncParsableCommand {
    /// Runs `body`; a `CommandFailure` or any other error becomes `bosun: message` on stderr and an exit status.
    func reportingFailures(_ body: () async throws -> Void) async throws {
        do {
            try await body()
        } catch let failure as CommandFailure {
            FileHandle.standardError.write(Data("bosun: \(failure.message)\n".utf8))
            throw ExitCode(failure.status)
        } catch let exit as ExitCode {
            throw exit
        } catch {
            FileHandle.standardError.write(Data("bosun: \(error)\n".utf8))
            throw ExitCode(CommandFailure.failure)
        }
    }
}

/// `bosun version`.
struct VersionCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "version", abstract: "Print the version.")

    func run() {
        print("bosun \(BosunVersion.current)")
    }
}
