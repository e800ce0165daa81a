import Foundation
import Workflow
import Yams

/// A config file's text and what it validated to.
public struct ConfigSource: Sendable {
    public var text: String
    public var config: BosunConfig
}

/// Loads and validates `bosun.yaml` (SPEC §7).
public enum ConfigLoader {
    /// The config file to use when none is given: `$BOSUN_CONFIG`, else `./bosun.yaml`.
    public static func defaultPath(environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        environment["BOSUN_CONFIG"] ?? "bosun.yaml"
    }

    /// Reads and validates the file at `path`.
    ///
    /// - Throws: `ConfigError` listing every problem found, each with its key path.
    public static func load(
        path: String, environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws(ConfigError) -> BosunConfig {
        try loadSource(path: path, environment: environment).config
    }

    /// Reads and validates the file at `path`, keeping the text it was read from.
    public static func loadSource(
        path: String, environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws(ConfigError) -> ConfigSource {
        let file = URL(fileURLWithPath: path).standardizedFileURL.path
        guard let data = FileManager.default.contents(atPath: file) else {
            let reason = FileManager.default.fileExists(atPath: file) ? "cannot read the file" : "file not found"
            throw ConfigError(file: file, issues: [ConfigIssue(path: "", message: "\(reason): \(file)")])
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw ConfigError(file: file, issues: [ConfigIssue(path: "", message: "\(file) is not UTF-8 text")])
        }
        return ConfigSource(text: text, config: try parse(yaml: text, file: file, environment: environment))
    }

    /// Loads the snapshot the supervisor wrote (see `ConfigSnapshot`), resolving relative paths against `file`, the
    /// config file it was read from.
    public static func loadSnapshot(
        _ snapshot: String, of file: String, environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws(ConfigError) -> BosunConfig {
        guard let data = FileManager.default.contents(atPath: snapshot), let text = String(data: data, encoding: .utf8)
        else {
            throw ConfigError(
                file: file, issues: [ConfigIssue(path: "", message: "cannot read the snapshot \(snapshot)")])
        }
        return try parse(yaml: text, file: file, environment: environment)
    }

    /// The state directory named by the file at `path`, read leniently: commands that only need to find the
    /// supervisor's socket still work when another part of the file is invalid.
    public static func stateDirectory(
        ofConfigAt path: String, environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws(ConfigError) -> String {
        let file = URL(fileURLWithPath: path).standardizedFileURL.path
        guard let data = FileManager.default.contents(atPath: file), let text = String(data: data, encoding: .utf8)
        else {
            throw ConfigError(file: file, issues: [ConfigIssue(path: "", message: "cannot read \(file)")])
        }
        guard let node = try? Yams.compose(yaml: text), let value = node["state_dir"]?.string, !value.isEmpty else {
            throw ConfigError(file: file, issues: [ConfigIssue(path: "state_dir", message: "is required")])
        }
        let reader = ConfigReader(
            directory: URL(fileURLWithPath: file).deletingLastPathComponent().path, environment: environment)
        return reader.absolute(value)
    }

    /// Validates YAML text as if it were the file at `file` (relative paths resolve against its directory).
    public static func parse(
        yaml: String, file: String, environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws(ConfigError) -> BosunConfig {
        let node: Node?
        do {
            node = try Yams.compose(yaml: yaml)
        } catch YamlError.duplicatedKeysInMapping(let duplicates, let context) {
            // Worded here: when a repeated key is itself a mapping or a list, Yams names the position of whichever
            // duplicate its dictionary lists first, which changes from run to run. Its position is kept only when
            // every repeated key is a plain value, and then it is the first one's.
            let keys = Set(duplicates).sorted().map { "'\($0)'" }.joined(separator: ", ")
            let line = duplicates.contains("<uncovertable>") ? nil : context.mark.line
            throw ConfigError(
                file: file,
                issues: [
                    ConfigIssue(path: "", message: "not valid YAML: duplicate keys \(keys) in one mapping", line: line)
                ])
        } catch {
            throw ConfigError(file: file, issues: [ConfigIssue(path: "", message: "not valid YAML: \(error)")])
        }
        var reader = ConfigReader(
            directory: URL(fileURLWithPath: file).deletingLastPathComponent().path, environment: environment)
        let config = read(node, file: file, reader: &reader)
        guard reader.issues.isEmpty, let config else {
            throw ConfigError(file: file, issues: reader.issues)
        }
        return config
    }

    private static func read(_ node: Node?, file: String, reader: inout ConfigReader) -> BosunConfig? {
        guard let node else {
            reader.report(.root, "the file is empty; state_dir and listen are required", line: nil)
            return nil
        }
        var root = reader.root(node)
        guard case .mapping = node else { return nil }
        let stateDirectory = reader.path(&root, "state_dir", required: true)
        let listenLine = root.line(of: "listen")
        let listenText = reader.string(&root, "listen", required: true)
        let listen = listenText.flatMap { text in
            let address = ListenAddress(parsing: text)
            if address == nil {
                reader.report(
                    ConfigKeyPath.root.appending("listen"), "must be host:port (e.g. 127.0.0.1:8787), not \(text)",
                    line: listenLine)
            }
            return address
        }

        var api = reader.section(&root, "api")
        var apiConfig = APIConfig()
        apiConfig.token = reader.secret(&api, "token")
        apiConfig.openHealth = reader.bool(&api, "open_health", default: apiConfig.openHealth)
        reader.finish(api)
        let ingress = readIngress(&root, &reader)

        let durability = reader.choice(&root, "durability", default: Durability.full)
        let supervisor = readSupervisor(&root, &reader)
        let breaker = readBreaker(&root, &reader)
        let worker = readWorker(&root, &reader)
        let retry = readRetry(&root, &reader)
        let logs = readLogs(&root, &reader)
        let agents = readAgents(&root, &reader)
        let roles = readRoles(&root, &reader, agents: agents)
        let workflows = readWorkflows(&root, &reader, roles: Set(roles.keys))
        let projects = readProjects(&root, &reader, workflows: workflows, roles: roles, agents: agents)
        let notify = readNotifiers(&root, &reader)
        reader.finish(root)

        guard let stateDirectory, let listen else { return nil }
        var config = BosunConfig(file: file, stateDirectory: stateDirectory, listen: listen)
        config.api = apiConfig
        config.ingress = ingress
        config.durability = durability
        config.supervisor = supervisor
        config.breaker = breaker
        config.worker = worker
        config.retry = retry
        config.logs = logs
        config.agents = agents
        config.projects = projects
        config.notify = notify
        config.roles = roles
        config.workflows = workflows
        return config
    }

    private static func readIngress(_ root: inout Section, _ reader: inout ConfigReader) -> IngressConfig {
        var section = reader.section(&root, "ingress")
        var config = IngressConfig()
        // SQLite refuses values over 1e9 bytes by default; a body must fit in one.
        config.maxBodyBytes = reader.int(
            &section, "max_body_bytes", default: config.maxBodyBytes, in: 1024...(512 << 20))
        config.maxInflightBodyBytes = reader.int(
            &section, "max_inflight_body_bytes", default: config.maxInflightBodyBytes, in: 1024...(1 << 40))
        config.headerTimeoutSeconds = reader.int(&section, "header_timeout_s", default: config.headerTimeoutSeconds)
        config.bodyTimeoutSeconds = reader.int(&section, "body_timeout_s", default: config.bodyTimeoutSeconds)
        config.idleTimeoutSeconds = reader.int(&section, "idle_timeout_s", default: config.idleTimeoutSeconds)
        config.planeDedupeWindowSeconds = reader.int(
            &section, "plane_dedupe_window_s", default: config.planeDedupeWindowSeconds)
        config.storeTimeoutMilliseconds = reader.int(
            &section, "store_timeout_ms", default: config.storeTimeoutMilliseconds, in: 1...60_000)
        reader.finish(section)
        return config
    }

    private static func readSupervisor(_ root: inout Section, _ reader: inout ConfigReader) -> SupervisorConfig {
        var section = reader.section(&root, "supervisor")
        var config = SupervisorConfig()
        var restart = reader.section(&section, "restart")
        config.restart.baseMilliseconds = reader.int(&restart, "base_ms", default: config.restart.baseMilliseconds)
        config.restart.maxMilliseconds = reader.int(&restart, "max_ms", default: config.restart.maxMilliseconds)
        config.restart.budget = reader.int(&restart, "budget", default: config.restart.budget)
        config.restart.windowSeconds = reader.int(&restart, "window_s", default: config.restart.windowSeconds)
        if config.restart.baseMilliseconds > config.restart.maxMilliseconds {
            reader.report(
                restart.path.appending("base_ms"),
                "must not exceed max_ms (\(config.restart.maxMilliseconds))", line: restart.line)
        }
        reader.finish(restart)
        config.watchdog = reader.bool(&section, "watchdog", default: config.watchdog)
        config.stopGraceSeconds = reader.int(&section, "stop_grace_s", default: config.stopGraceSeconds)
        config.readyTimeoutSeconds = reader.int(&section, "ready_timeout_s", default: config.readyTimeoutSeconds)
        config.listenBacklog = reader.int(&section, "listen_backlog", default: config.listenBacklog, in: 16...65535)
        var executables = reader.section(&section, "executables")
        for name in ["ingress", "worker", "gatekeeper"] {
            let line = executables.line(of: name)
            if let path = reader.path(&executables, name) {
                if FileManager.default.isExecutableFile(atPath: path) {
                    config.executables[name] = path
                } else {
                    reader.report(executables.path.appending(name), "not an executable file (\(path))", line: line)
                }
            }
        }
        reader.finish(executables)
        reader.finish(section)
        return config
    }

    private static func readBreaker(_ root: inout Section, _ reader: inout ConfigReader) -> BreakerConfig {
        var section = reader.section(&root, "breaker")
        var config = BreakerConfig()
        config.threshold = reader.int(&section, "threshold", default: config.threshold)
        config.pauseSeconds = reader.int(&section, "pause_s", default: config.pauseSeconds)
        config.maxPauseSeconds = reader.int(&section, "max_pause_s", default: config.maxPauseSeconds)
        if config.pauseSeconds > config.maxPauseSeconds {
            reader.report(
                section.path.appending("pause_s"), "must not exceed max_pause_s (\(config.maxPauseSeconds))",
                line: section.line)
        }
        reader.finish(section)
        return config
    }

    private static func readWorker(_ root: inout Section, _ reader: inout ConfigReader) -> WorkerConfig {
        var section = reader.section(&root, "worker")
        var config = WorkerConfig()
        config.maxConcurrency = reader.int(&section, "max_concurrency", default: config.maxConcurrency, in: 1...4096)
        config.preflightTTLSeconds = reader.int(&section, "preflight_ttl_s", default: config.preflightTTLSeconds)
        config.drainSeconds = reader.int(&section, "drain_s", default: config.drainSeconds, in: 0...86_400)
        config.retentionDays = reader.int(&section, "retention_days", default: config.retentionDays)
        config.readyWorktrees = reader.int(&section, "ready_worktrees", default: config.readyWorktrees, in: 0...64)
        config.nice = reader.int(&section, "nice", default: config.nice, in: 0...19)
        var roleLimits = reader.section(&section, "role_limits")
        for role in roleLimits.keys {
            config.roleLimits[role] = reader.int(&roleLimits, role, default: 1)
        }
        reader.finish(roleLimits)
        config.leaseSeconds = reader.int(&section, "lease_s", default: config.leaseSeconds)
        config.heartbeatSeconds = reader.int(&section, "heartbeat_s", default: config.heartbeatSeconds)
        config.agentTimeoutSeconds = reader.int(&section, "agent_timeout_s", default: config.agentTimeoutSeconds)
        config.killGraceSeconds = reader.int(&section, "kill_grace_s", default: config.killGraceSeconds)
        if config.heartbeatSeconds >= config.leaseSeconds {
            reader.report(
                section.path.appending("heartbeat_s"), "must be shorter than lease_s (\(config.leaseSeconds))",
                line: section.line)
        }
        reader.finish(section)
        return config
    }

    private static func readRetry(_ root: inout Section, _ reader: inout ConfigReader) -> RetryConfig {
        var section = reader.section(&root, "retry")
        var config = RetryConfig()
        config.maxAttempts = reader.int(&section, "max_attempts", default: config.maxAttempts)
        config.transientMaxAttempts = reader.int(
            &section, "transient_max_attempts", default: config.transientMaxAttempts)
        config.backoffBaseSeconds = reader.int(&section, "backoff_base_s", default: config.backoffBaseSeconds)
        config.backoffMaxSeconds = reader.int(&section, "backoff_max_s", default: config.backoffMaxSeconds)
        if config.backoffBaseSeconds > config.backoffMaxSeconds {
            reader.report(
                section.path.appending("backoff_base_s"),
                "must not exceed backoff_max_s (\(config.backoffMaxSeconds))", line: section.line)
        }
        reader.finish(section)
        return config
    }

    private static func readLogs(_ root: inout Section, _ reader: inout ConfigReader) -> LogConfig {
        var section = reader.section(&root, "logs")
        var config = LogConfig()
        config.maxFileBytes = reader.int(&section, "max_file_bytes", default: config.maxFileBytes, in: 4096...(1 << 40))
        config.keepFiles = reader.int(&section, "keep_files", default: config.keepFiles, in: 0...1000)
        reader.finish(section)
        return config
    }

    private static func readAgents(_ root: inout Section, _ reader: inout ConfigReader) -> [AgentConfig] {
        var section = reader.section(&root, "agents")
        var agents: [AgentConfig] = []
        for name in section.keys {
            var agent = reader.section(&section, name)
            let argv = reader.strings(&agent, "argv")
            if argv.isEmpty {
                reader.report(
                    agent.path.appending("argv"), "is required: the command as a list of arguments", line: agent.line)
            }
            var config = AgentConfig(name: name, argv: argv)
            config.environmentAllowList = reader.strings(&agent, "env_allow")
            config.prompt = reader.choice(&agent, "prompt", default: AgentConfig.PromptMode.file)
            let probe = reader.strings(&agent, "probe")
            if !probe.isEmpty { config.probe = probe }
            reader.finish(agent)
            agents.append(config)
        }
        reader.finish(section)
        return agents
    }

    private static func readProjects(
        _ root: inout Section, _ reader: inout ConfigReader, workflows: [String: Workflow], roles: [String: RoleConfig],
        agents: [AgentConfig]
    ) -> [ProjectConfig] {
        var projects: [ProjectConfig] = []
        var seen: [String: ConfigKeyPath] = [:]
        for (path, node) in reader.sequence(&root, "projects") {
            var section = reader.section(node, at: path)
            let name = reader.string(&section, "name", required: true)
            if let name {
                if !isValidProjectName(name) {
                    reader.report(
                        path.appending("name"),
                        "must be lowercase letters, digits, - and _, starting with a letter or digit (it appears in URLs)",
                        line: section.line)
                } else if let first = seen[name] {
                    reader.report(path.appending("name"), "\(name) is already the name of \(first)", line: section.line)
                }
                seen[name] = path
            }
            let tracker: TrackerKind? = reader.choice(&section, "tracker", required: true)
            var repo = reader.section(&section, "repo")
            let url = reader.string(&repo, "url", required: true)
            let branch = reader.string(&repo, "default_branch")
            let apiURL = reader.string(&repo, "api_url")
            reader.finish(repo)
            var webhook = reader.section(&section, "webhook")
            var webhookConfig = WebhookConfig()
            webhookConfig.secret = reader.secret(&webhook, "secret")
            webhookConfig.insecure = reader.bool(&webhook, "insecure", default: false)
            reader.finish(webhook)
            let token = reader.secret(&section, "token")
            let authors = reader.strings(&section, "authors")
            var plane = reader.section(&section, "plane")
            let planeProjectID = reader.string(&plane, "project_id")
            let planeWorkspace = reader.string(&plane, "workspace")
            let planeAPIURL = reader.string(&plane, "api_url")
            reader.finish(plane)
            if tracker == .plane && planeProjectID == nil {
                reader.report(
                    path.appending("plane.project_id"), "is required for a plane tracker: the Plane project's id",
                    line: section.line)
            }
            let workflowLine = section.line(of: "workflow")
            var workflow = "default"
            var inlineWorkflow: Workflow?
            if section.has("workflow"), case .mapping = section.node("workflow") {
                var inline = reader.section(&section, "workflow")
                inlineWorkflow = readWorkflow(
                    named: "\(name ?? "project").inline", &inline, &reader, roles: Set(roles.keys))
                workflow = "inline"
            } else {
                workflow = reader.string(&section, "workflow") ?? "default"
            }
            var trigger = TriggerConfig()
            var triggerSection = reader.section(&section, "trigger")
            trigger.kind = reader.choice(&triggerSection, "kind", default: TriggerConfig.Kind.label)
            trigger.label = reader.string(&triggerSection, "label") ?? trigger.label
            reader.finish(triggerSection)
            let botUser = reader.string(&section, "bot_user")
            if trigger.kind == .assign && botUser == nil {
                reader.report(
                    path.appending("bot_user"), "is required when trigger.kind is assign", line: section.line)
            }
            let testCommand = readCommand(&section, "test_command", &reader)
            let maxConcurrency =
                section.has("max_concurrency")
                ? reader.int(&section, "max_concurrency", default: 1, in: 1...4096) : nil
            var agentEnvironment: [String: [String]] = [:]
            var envSection = reader.section(&section, "agent_env")
            for agentName in envSection.keys {
                agentEnvironment[agentName] = reader.strings(&envSection, agentName)
            }
            reader.finish(envSection)
            reader.finish(section)
            guard let name, let tracker, let url else { continue }
            var repository = RepositoryConfig(url: url)
            if let branch { repository.defaultBranch = branch }
            repository.apiURL = apiURL
            var project = ProjectConfig(name: name, tracker: tracker, repository: repository)
            project.webhook = webhookConfig
            project.token = token
            project.authors = authors
            project.workflow = workflow
            project.planeProjectID = planeProjectID
            project.planeWorkspace = planeWorkspace
            project.planeAPIURL = planeAPIURL
            project.trigger = trigger
            project.botUser = botUser
            project.testCommand = testCommand
            project.maxConcurrency = maxConcurrency
            project.agentEnvironment = agentEnvironment
            if let inlineWorkflow {
                project.resolvedWorkflow = inlineWorkflow
            } else if workflow != "default" {
                if let named = workflows[workflow] {
                    project.resolvedWorkflow = named
                } else {
                    let known = (["default"] + workflows.keys.sorted()).joined(separator: ", ")
                    reader.report(
                        path.appending("workflow"), "unknown workflow \(workflow); known: \(known)", line: workflowLine)
                }
            }
            checkRoles(of: project, at: path, roles: roles, agents: agents, line: workflowLine, &reader)
            projects.append(project)
        }
        return projects
    }

    private static func readNotifiers(_ root: inout Section, _ reader: inout ConfigReader) -> [NotifierConfig] {
        var notifiers: [NotifierConfig] = []
        for (path, node) in reader.sequence(&root, "notify") {
            var section = reader.section(node, at: path)
            let kind: NotifierConfig.Kind? = reader.choice(&section, "kind", required: true)
            var config = NotifierConfig(kind: kind ?? .webhook)
            switch kind {
            case .telegram:
                config.token = reader.secret(&section, "token")
                config.chatID = reader.string(&section, "chat_id", required: true)
                if config.token == nil {
                    reader.report(
                        path.appending("token_file"), "telegram needs token_file or token_env", line: section.line)
                }
            case .slack, .webhook:
                config.url = reader.secret(&section, "url")
                if config.url == nil {
                    reader.report(path.appending("url_file"), "needs url_file or url_env", line: section.line)
                }
            case nil:
                reader.finish(
                    section, known: ["token", "token_file", "token_env", "chat_id", "url", "url_file", "url_env"])
                continue
            }
            reader.finish(section)
            notifiers.append(config)
        }
        return notifiers
    }

    static func isValidProjectName(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, name.count <= 64 else { return false }
        let lowerOrDigit = CharacterSet(charactersIn: "abcdefghijklmnopqrstuvwxyz0123456789")
        let allowed = lowerOrDigit.union(CharacterSet(charactersIn: "-_"))
        return lowerOrDigit.contains(first) && name.unicodeScalars.allSatisfy { allowed.contains($0) }
    }
}
