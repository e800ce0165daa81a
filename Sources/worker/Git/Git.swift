import Foundation
import LinuxProcess

/// Runs git as a subprocess: an argv array (never a shell), a fixed identity, an allow-listed environment with no
/// system or global config, no terminal prompts, no hooks, and a timeout on every command.
struct Git: Sendable {
    /// Who Bosun's commits are by.
    struct Identity: Sendable, Equatable {
        var name: String
        var email: String

        /// `Bosun <bosun@localhost>`.
        static let bosun = Identity(name: "Bosun", email: "bosun@localhost")
    }

    /// Options on every command. A worktree's repository config is writable by the agent that ran in it, so
    /// whatever in it would run a program in the worker (hooks, fsmonitor, background gc) is switched off here.
    static let safetyOptions = [
        "-c", "core.hooksPath=/dev/null", "-c", "core.fsmonitor=false", "-c", "gc.auto=0",
        "-c", "maintenance.auto=false", "-c", "commit.gpgSign=false", "-c", "tag.gpgSign=false",
        "-c", "advice.detachedHead=false", "-c", "init.defaultBranch=main",
    ]

    /// Variables passed through from the worker's environment when set: finding programs, ssh keys and proxies.
    static let inheritedVariables = [
        "PATH", "HOME", "SSH_AUTH_SOCK", "GIT_SSH_COMMAND", "http_proxy", "https_proxy", "no_proxy", "HTTP_PROXY",
        "HTTPS_PROXY", "NO_PROXY", "SSL_CERT_FILE", "SSL_CERT_DIR",
    ]

    let executable: String
    let identity: Identity
    /// The timeout of local commands.
    let timeout: Duration
    /// The timeout of commands that talk to origin (fetch, push, the first clone).
    let networkTimeout: Duration
    private let environment: [String: String]

    /// Finds `git` in the `PATH` of `environment` (the worker's own by default).
    init(
        identity: Identity = .bosun, timeout: Duration = .seconds(120), networkTimeout: Duration = .seconds(900),
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws(WorktreeError) {
        var child: [String: String] = [:]
        for name in Self.inheritedVariables {
            if let value = environment[name] { child[name] = value }
        }
        if child["PATH"] == nil { child["PATH"] = "/usr/local/bin:/usr/bin:/bin" }
        guard let executable = CommandRunner.resolve("git", path: child["PATH"]) else {
            throw WorktreeError(.environment, "git is not installed (not found in PATH \(child["PATH"] ?? ""))")
        }
        child.merge([
            "GIT_TERMINAL_PROMPT": "0", "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": "/dev/null",
            "GIT_OPTIONAL_LOCKS": "0", "LC_ALL": "C",
            "GIT_AUTHOR_NAME": identity.name, "GIT_AUTHOR_EMAIL": identity.email,
            "GIT_COMMITTER_NAME": identity.name, "GIT_COMMITTER_EMAIL": identity.email,
        ]) { _, fixed in fixed }
        self.executable = executable
        self.identity = identity
        self.timeout = timeout
        self.networkTimeout = networkTimeout
        self.environment = child
    }

    /// Where a command runs: inside a worktree (discovery stops at its parent directory, so a broken worktree can
    /// never reach an enclosing repository), or against a bare repository named explicitly.
    enum Location: Sendable {
        case worktree(String)
        case repository(String)
        case anywhere
    }

    /// Runs `git <arguments>` and returns how it ended, whatever its exit status. Throws if git cannot be started
    /// or outlives its timeout.
    func run(
        _ arguments: [String], at location: Location, network: Bool = false
    ) async throws(WorktreeError) -> CommandOutput {
        var environment = environment
        var prefix = Self.safetyOptions
        var directory: String?
        switch location {
        case .worktree(let path):
            directory = path
            environment["GIT_CEILING_DIRECTORIES"] = parentDirectory(of: path)
        case .repository(let path):
            prefix += ["--git-dir=\(path)"]
            directory = path
        case .anywhere:
            directory = "/"
        }
        let invocation = CommandInvocation(
            executable: executable, arguments: prefix + arguments, environment: environment,
            workingDirectory: directory, timeout: network ? networkTimeout : timeout)
        let output: CommandOutput
        do {
            output = try await CommandRunner.run(invocation)
        } catch {
            throw WorktreeError(.environment, "cannot run git \(Self.summary(arguments))", cause: error)
        }
        if output.timedOut || output.cancelled {
            throw WorktreeError(
                .timedOut,
                "git \(Self.summary(arguments)) \(output.cancelled ? "was cancelled" : "timed out") and was killed",
                gitStderr: Self.tail(output.standardErrorText))
        }
        return output
    }

    /// Runs `git <arguments>`, throws unless it exits 0, and returns its stdout without the final newline.
    @discardableResult
    func check(
        _ arguments: [String], at location: Location, network: Bool = false
    ) async throws(WorktreeError)
        -> String
    {
        let output = try await run(arguments, at: location, network: network)
        guard output.status.isSuccess else {
            throw WorktreeError(
                .gitFailed, "git \(Self.summary(arguments)) failed (\(output.status))",
                gitStderr: Self.tail(output.standardErrorText))
        }
        var text = output.standardOutputText
        while text.hasSuffix("\n") { text.removeLast() }
        return text
    }

    /// The commit `ref` names in `repository`, or nil if there is no such ref.
    func resolve(_ ref: String, in repository: String) async throws(WorktreeError) -> String? {
        let output = try await run(
            ["rev-parse", "--verify", "--quiet", ref + "^{commit}"], at: .repository(repository))
        guard output.status.isSuccess else { return nil }
        return output.standardOutputText.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// The commits that `refs` (full names such as `refs/heads/main`) name in `repository`: read from the
    /// repository's files when it keeps refs there (`RefFiles`), else from one git process. Refs that do not exist
    /// are absent from the result.
    func resolve(refs: [String], in repository: String) async throws(WorktreeError) -> [String: String] {
        if let found = RefFiles.resolve(refs, in: repository) { return found }
        return try await listRefs(refs, in: repository)
    }

    /// `resolve(refs:in:)` as `git for-each-ref` answers it.
    func listRefs(_ refs: [String], in repository: String) async throws(WorktreeError) -> [String: String] {
        let listing = try await check(
            ["for-each-ref", "--format=%(objectname) %(refname)"] + refs, at: .repository(repository))
        var found: [String: String] = [:]
        for line in listing.split(separator: "\n") {
            guard let space = line.firstIndex(of: " ") else { continue }
            let name = String(line[line.index(after: space)...])
            // for-each-ref also lists refs below a pattern (refs/heads/a matches refs/heads/a/b): keep exact names.
            if refs.contains(name) { found[name] = String(line[..<space]) }
        }
        return found
    }

    /// True if `ancestor` is reachable from `descendant`.
    func isAncestor(
        _ ancestor: String, of descendant: String, in repository: String
    ) async throws(WorktreeError)
        -> Bool
    {
        let output = try await run(["merge-base", "--is-ancestor", ancestor, descendant], at: .repository(repository))
        switch output.status {
        case .exited(code: 0): return true
        case .exited(code: 1): return false
        default:
            throw WorktreeError(
                .gitFailed, "git merge-base --is-ancestor failed (\(output.status))",
                gitStderr: Self.tail(output.standardErrorText))
        }
    }

    /// The subcommand and first arguments, for messages.
    static func summary(_ arguments: [String]) -> String {
        arguments.prefix(4).joined(separator: " ") + (arguments.count > 4 ? " …" : "")
    }

    /// The last lines of git's stderr, at most about 4 KB.
    static func tail(_ text: String) -> String {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: true).suffix(20)
        let joined = lines.joined(separator: "\n")
        return joined.count > 4096 ? String(joined.suffix(4096)) : joined
    }

    private func parentDirectory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/"), slash != path.startIndex else { return "/" }
        return String(path[..<slash])
    }
}
