import ArgumentParser
import Config
import Foundation

/// `bosun check-config`.
struct CheckConfigCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check-config", abstract: "Validate the config file and list every error with its key path.")

    @OptionGroup var options: ConfigOption

    func run() throws {
        do {
            let config = try ConfigLoader.load(path: options.path)
            print(
                "\(config.file): ok (state_dir \(config.stateDirectory), listen \(config.listen), "
                    + "\(config.projects.count) project(s), \(config.agents.count) agent(s))")
        } catch {
            for issue in error.issues {
                FileHandle.standardError.write(Data("\(error.file): \(issue)\n".utf8))
            }
            FileHandle.standardError.write(Data("\(error.issues.count) error(s)\n".utf8))
            throw ExitCode(CommandFailure.failure)
        }
    }
}

/// `bosun init DIR`.
struct InitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "init",
        abstract: "Write a working starter config (bosun.yaml) and an API token into DIR.")

    @Argument(help: "The directory to create or fill.") var directory: String
    @Option(help: "The state directory the config names (default: ./state, beside the config).")
    var stateDir = "./state"

    func validate() throws {
        guard !stateDir.isEmpty, !stateDir.contains(where: { $0.isNewline || ($0.asciiValue ?? 32) < 32 }) else {
            throw ValidationError("--state-dir must be a path, not \"\(stateDir)\"")
        }
    }

    func run() throws {
        let fileManager = FileManager.default
        let configPath = directory + "/bosun.yaml"
        let tokenPath = directory + "/api-token"
        do {
            try fileManager.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            fail("cannot create \(directory): \(error.localizedDescription)")
        }
        for path in [configPath, tokenPath] where fileManager.fileExists(atPath: path) {
            fail("\(path) already exists; not overwriting it")
        }
        guard let token = randomHex(bytes: 32) else { fail("cannot read /dev/urandom") }
        guard
            fileManager.createFile(
                atPath: tokenPath, contents: Data((token + "\n").utf8), attributes: [.posixPermissions: 0o600]),
            fileManager.createFile(
                atPath: configPath, contents: Data(StarterConfig.text(stateDirectory: stateDir).utf8),
                attributes: [.posixPermissions: 0o640])
        else {
            fail("cannot write into \(directory)")
        }
        print("wrote \(configPath) and \(tokenPath)")
        print("start it with: bosun run -c \(configPath)")
    }

    private func fail(_ message: String) -> Never {
        FileHandle.standardError.write(Data("bosun: \(message)\n".utf8))
        Foundation.exit(CommandFailure.failure)
    }

    private func randomHex(bytes count: Int) -> String? {
        guard let handle = FileHandle(forReadingAtPath: "/dev/urandom") else { return nil }
        defer { try? handle.close() }
        guard let data = try? handle.read(upToCount: count), data.count == count else { return nil }
        return data.map { String(format: "%02x", $0) }.joined()
    }
}

/// The config `bosun init` writes: every section with its defaults, so that the file documents itself.
enum StarterConfig {
    /// The starter config with `state_dir` set to `stateDirectory`.
    static func text(stateDirectory: String = "./state") -> String {
        let plain = stateDirectory.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "/._-".contains($0)) }
        let value =
            plain
            ? stateDirectory
            : "\""
                + stateDirectory.replacingOccurrences(of: "\\", with: "\\\\")
                .replacingOccurrences(of: "\"", with: "\\\"") + "\""
        let line = "state_dir: \(value)"
        let padded = line.padding(toLength: max(line.count + 1, 34), withPad: " ", startingAt: 0)
        return template.replacingOccurrences(of: "state_dir: ./state                ", with: padded)
    }

    private static let template = """
        # Bosun configuration. Only state_dir and listen are required; every other value shown is the default.
        # Relative paths are relative to this file. Check it with: bosun check-config -c bosun.yaml

        state_dir: ./state                # database, sockets, logs, worktrees
        listen: 127.0.0.1:8787            # ingress HTTP (systemd socket activation overrides it)

        api:
          token_file: ./api-token         # bearer token for the REST API and dashboard
          open_health: true               # /healthz and /readyz without the token

        durability: full                  # full: every commit survives power loss; normal: survives crashes

        supervisor:
          restart: { base_ms: 100, max_ms: 30000, budget: 5, window_s: 60 }
          stop_grace_s: 10
          ready_timeout_s: 30
          watchdog: true

        breaker: { threshold: 3, pause_s: 300, max_pause_s: 3600 }
        worker: { max_concurrency: 2, lease_s: 60, heartbeat_s: 15, agent_timeout_s: 1800, kill_grace_s: 10 }
        retry: { max_attempts: 2, transient_max_attempts: 5, backoff_base_s: 10, backoff_max_s: 600 }
        logs: { max_file_bytes: 10485760, keep_files: 5 }

        # agents:
        #   claude:
        #     argv: [claude, -p, --output-format, stream-json, --verbose]
        #     env_allow: [ANTHROPIC_API_KEY]
        #     prompt: stdin

        projects: []
        # projects:
        #   - name: demo
        #     tracker: github               # github | gitea | gitlab | plane | local
        #     repo: { url: https://github.com/you/demo.git, default_branch: main }
        #     webhook: { secret_file: ./demo-webhook-secret }
        #     token_file: ./demo-forge-token
        #     authors: [you]

        """
}
