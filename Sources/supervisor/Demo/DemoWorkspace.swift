import Foundation
import LinuxProcess

#if canImport(Glibc)
import Glibc
#endif

/// The directory `bosun demo` works in: a bare git repository with a test command (`origin.git`, cloned in `repo/`),
/// the demo agent, an API token and a config for one local-tracker project. Every run starts it afresh; a directory
/// that `bosun demo` did not make is never touched.
struct DemoWorkspace {
    /// The file that marks a directory as the demo's own, so that a re-run may delete and recreate it.
    static let marker = ".bosun-demo"
    /// The project's name in the config.
    static let project = "demo"

    let root: String
    var configPath: String { root + "/bosun.yaml" }
    var origin: String { root + "/origin.git" }
    var checkout: String { root + "/repo" }
    var agentPath: String { root + "/demo-agent.py" }
    var tokenPath: String { root + "/api-token" }
    var logPath: String { root + "/bosun.log" }
    var stateDirectory: String { root + "/state" }
    /// The commit the repository starts at, for the diff at the end.
    private(set) var initialCommit = ""

    init(directory: String) {
        let absolute = directory.hasPrefix("/") ? directory : FileManager.default.currentDirectoryPath + "/" + directory
        root = URL(fileURLWithPath: absolute).standardizedFileURL.path
    }

    /// Whether `root` may be (re)created: absent, empty, or made by an earlier `bosun demo`.
    func checkReusable() throws(CommandFailure) {
        let fileManager = FileManager.default
        var isDirectory: ObjCBool = false
        guard fileManager.fileExists(atPath: root, isDirectory: &isDirectory) else { return }
        guard isDirectory.boolValue else {
            throw CommandFailure(message: "\(root) exists and is not a directory; pass another --dir")
        }
        let entries = (try? fileManager.contentsOfDirectory(atPath: root)) ?? []
        if !entries.isEmpty && !entries.contains(Self.marker) {
            throw CommandFailure(
                message: "\(root) is not empty and was not made by `bosun demo`; pass another --dir or remove it")
        }
    }

    /// Deletes what an earlier run left and writes everything anew.
    mutating func create(listen: String, approver: String) async throws {
        let fileManager = FileManager.default
        if fileManager.fileExists(atPath: root) {
            for entry in try fileManager.contentsOfDirectory(atPath: root) {
                try fileManager.removeItem(atPath: root + "/" + entry)
            }
        }
        try fileManager.createDirectory(atPath: checkout, withIntermediateDirectories: true)
        try write(
            Self.marker,
            "Made by `bosun demo`; running it again with this --dir deletes and recreates everything here.\n")
        try write("demo-agent.py", String(decoding: PackageResources.demo_agent_py, as: UTF8.self), mode: 0o755)
        try write("api-token", Self.randomHex() + "\n", mode: 0o600)
        try write("repo/README.md", Self.readme)
        try write("repo/check.sh", Self.testScript, mode: 0o755)
        try await git(["init", "-q", "--bare", "-b", "main", origin])
        try await git(["-C", checkout, "init", "-q", "-b", "main"])
        try await git(["-C", checkout, "add", "-A"])
        try await git(["-C", checkout, "commit", "-q", "-m", "A small project with a test command"])
        try await git(["-C", checkout, "remote", "add", "origin", origin])
        try await git(["-C", checkout, "push", "-q", "origin", "main"])
        initialCommit = try await git(["-C", checkout, "rev-parse", "HEAD"]).trimmingCharacters(
            in: .whitespacesAndNewlines)
        try write("bosun.yaml", config(listen: listen, approver: approver), mode: 0o640)
    }

    /// Brings `repo/` up to date with what Bosun merged, and returns the history and the change as text.
    func mergedSummary() async throws -> (log: String, diff: String) {
        _ = try await git(["-C", checkout, "pull", "-q", "--ff-only", "origin", "main"])
        let log = try await git(["-C", origin, "log", "--oneline", "--graph", "-n", "15", "main"])
        let diff = try await git(["-C", origin, "diff", "--stat", initialCommit, "main"])
        return (log, diff)
    }

    /// Runs git with a fixed identity and returns its stdout.
    @discardableResult
    func git(_ arguments: [String]) async throws -> String {
        var environment = ProcessInfo.processInfo.environment
        for (key, value) in [
            ("GIT_AUTHOR_NAME", "Bosun demo"), ("GIT_AUTHOR_EMAIL", "demo@localhost"),
            ("GIT_COMMITTER_NAME", "Bosun demo"), ("GIT_COMMITTER_EMAIL", "demo@localhost"),
        ] {
            environment[key] = value
        }
        let output = try await CommandRunner.run(
            CommandInvocation(executable: "git", arguments: arguments, environment: environment))
        guard output.status.isSuccess else {
            throw CommandFailure(
                message: "git \(arguments.joined(separator: " ")) failed (\(output.status)): "
                    + output.standardErrorText.trimmingCharacters(in: .whitespacesAndNewlines))
        }
        return output.standardOutputText
    }

    private func write(_ name: String, _ text: String, mode: Int = 0o644) throws {
        let path = root + "/" + name
        guard
            FileManager.default.createFile(
                atPath: path, contents: Data(text.utf8), attributes: [.posixPermissions: mode])
        else {
            throw CommandFailure(message: "cannot write \(path)")
        }
    }

    func config(listen: String, approver: String) -> String {
        """
        # Written by `bosun demo`: one project on Bosun's local tracker, worked on by a scripted demo agent that calls
        # no model. See docs/CONFIG.md for every key.
        state_dir: ./state
        listen: \(listen)
        api: { token_file: ./api-token }
        # drain_s: stopping Bosun lets a running agent finish instead of leaving it to the next worker.
        worker: { max_concurrency: 2, lease_s: 30, heartbeat_s: 5, drain_s: 5 }
        retry: { max_attempts: 2, backoff_base_s: 1, backoff_max_s: 5 }
        agents:
          demo:
            argv: [python3, \(Self.quoted(agentPath)), "{prompt_file}"]
            probe: [python3, --version]
        projects:
          - name: \(Self.project)
            tracker: local
            repo: { url: \(Self.quoted(origin)), default_branch: main }
            test_command: [sh, check.sh]
            authors: [\(Self.quoted(approver))]

        """
    }

    /// A YAML double-quoted scalar.
    static func quoted(_ text: String) -> String {
        "\"" + text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
    }

    private static func randomHex() -> String {
        (0..<32).map { _ in String(format: "%02x", UInt8.random(in: 0...255)) }.joined()
    }

    static let readme = """
        # demo

        A small project for `bosun demo`. Its test command is `sh check.sh`: every `greet-*.sh` must greet, and no
        `FAIL` marker may exist.

        """

    static let testScript = """
        #!/bin/sh
        # The project's tests, run by Bosun's command gates in the task's worktree.
        set -e
        test ! -e FAIL
        for script in greet-*.sh; do
            [ -e "$script" ] || continue
            sh "$script" Bosun | grep -q "hello, Bosun"
        done
        echo "all tests passed"

        """
}
