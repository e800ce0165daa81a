import Workflow

/// `bosun.yaml`, validated. Paths are absolute (relative ones are resolved against the file's directory), secrets
/// are read, and every field has its value or its default.
public struct BosunConfig: Sendable, Equatable {
    /// The file this was loaded from, absolute.
    public var file: String
    /// Database, sockets, logs, worktrees.
    public var stateDirectory: String
    /// Where ingress serves HTTP, unless systemd passes a socket.
    public var listen: ListenAddress
    public var api = APIConfig()
    public var ingress = IngressConfig()
    public var durability = Durability.full
    public var supervisor = SupervisorConfig()
    public var breaker = BreakerConfig()
    public var worker = WorkerConfig()
    public var retry = RetryConfig()
    public var logs = LogConfig()
    /// Agent command templates by name, in file order.
    public var agents: [AgentConfig] = []
    public var projects: [ProjectConfig] = []
    public var notify: [NotifierConfig] = []
    /// Which agent plays each role, and at which level.
    public var roles: [String: RoleConfig] = [:]
    /// Named workflows a project may use besides the built-in `default`.
    public var workflows: [String: Workflow] = [:]

    public init(file: String, stateDirectory: String, listen: ListenAddress) {
        self.file = file
        self.stateDirectory = stateDirectory
        self.listen = listen
    }

    /// How long the supervisor waits for one child to stop before it kills the child's process group:
    /// `supervisor.stop_grace_s`, and for the worker also `worker.drain_s`, which its stop spends waiting for
    /// running agents first.
    public func stopGraceSeconds(for process: String) -> Int {
        supervisor.stopGraceSeconds + (process == "worker" ? worker.drainSeconds : 0)
    }
}

/// A TCP address to listen on.
public struct ListenAddress: Sendable, Equatable, CustomStringConvertible {
    /// An IP address or a host name; `0.0.0.0` or `::` for every interface.
    public var host: String
    /// 0 lets the kernel choose.
    public var port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// Parses `host:port`, `[v6]:port` or `:port` (every interface).
    public init?(parsing text: String) {
        let host: Substring
        let portText: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]"), text[text.index(after: close)...].hasPrefix(":") else {
                return nil
            }
            host = text[text.index(after: text.startIndex)..<close]
            portText = text[text.index(close, offsetBy: 2)...]
        } else {
            guard let colon = text.lastIndex(of: ":"), !text[..<colon].contains(":") else { return nil }
            host = text[..<colon].isEmpty ? "0.0.0.0" : text[..<colon]
            portText = text[text.index(after: colon)...]
        }
        guard !host.isEmpty, let port = Int(portText), (0...65535).contains(port) else { return nil }
        self.host = String(host)
        self.port = port
    }

    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}

/// The REST API and dashboard's access.
public struct APIConfig: Sendable, Equatable {
    public init() {}

    /// The bearer token; without one, the API and dashboard refuse every request.
    public var token: Secret?
    /// `/healthz`, `/readyz` and `/metrics` without the token.
    public var openHealth = true
}

/// The ingress HTTP server's limits.
public struct IngressConfig: Sendable, Equatable {
    public init() {}

    /// The largest request body read, in bytes; a larger one is refused with 413 before it is read.
    public var maxBodyBytes = 25 << 20
    /// Request bodies held in memory at once, all connections together; past it, a request gets 503 before its
    /// body is read, so that many large bodies at once cannot exhaust memory.
    public var maxInflightBodyBytes = 256 << 20
    /// A request's head must be complete this long after the connection opened or the previous request ended.
    public var headerTimeoutSeconds = 10
    /// A request's body must be complete this long after its head.
    public var bodyTimeoutSeconds = 30
    /// A connection with no traffic this long is closed.
    public var idleTimeoutSeconds = 60
    /// Plane re-signs a retry under a new delivery id: the same body within this window is a duplicate.
    public var planeDedupeWindowSeconds = 3600
    /// How long storing a delivery may wait for the database's write lock before the sender gets 503.
    public var storeTimeoutMilliseconds = 2000
}

/// The fsync level of the store.
public enum Durability: String, Sendable, Equatable, CaseIterable {
    case full
    case normal
}

/// How the supervisor runs its children.
public struct SupervisorConfig: Sendable, Equatable {
    public init() {}

    public var restart = RestartConfig()
    /// Ping systemd's watchdog when it asks for it.
    public var watchdog = true
    /// How long children get between SIGTERM and SIGKILL.
    public var stopGraceSeconds = 10
    /// How long a new child may take to report ready before it is killed and counted as a crash.
    public var readyTimeoutSeconds = 30
    /// The listening socket's accept backlog: connections the kernel queues while ingress restarts.
    public var listenBacklog = 1024
    /// Child executables by name (`ingress`, `worker`, `gatekeeper`); default: next to `bosun`.
    public var executables: [String: String] = [:]
}

/// Restart delays and the restart budget.
public struct RestartConfig: Sendable, Equatable {
    public init() {}

    /// The first restart delay; it doubles with each crash in a row.
    public var baseMilliseconds = 100
    public var maxMilliseconds = 30_000
    /// More than `budget` restarts within `windowSeconds` marks the child failed.
    public var budget = 5
    public var windowSeconds = 60
}

/// The circuit breaker for rate limits and overload.
public struct BreakerConfig: Sendable, Equatable {
    public init() {}

    /// Transient failures in a row that open the breaker.
    public var threshold = 3
    /// The first pause; it doubles with each reopening, up to `maxPauseSeconds`.
    public var pauseSeconds = 300
    public var maxPauseSeconds = 3600
}

/// The job queue's consumer.
public struct WorkerConfig: Sendable, Equatable {
    public init() {}

    public var maxConcurrency = 2
    public var leaseSeconds = 60
    public var heartbeatSeconds = 15
    public var agentTimeoutSeconds = 1800
    public var killGraceSeconds = 10
    /// Per-role limits on jobs running at once.
    public var roleLimits: [String: Int] = [:]
    /// How long a passed agent preflight is trusted.
    public var preflightTTLSeconds = 300
    /// On stop: wait for running agents up to this long (0: leave them to be re-adopted by the next worker).
    public var drainSeconds = 0
    /// Finished tasks' worktrees and run logs older than this are removed.
    public var retentionDays = 14
    /// Worktrees kept checked out ahead of need per project, so a new task's starts without a checkout (0: none).
    /// Read at the worker's start.
    public var readyWorktrees = 2
    /// How many nice levels below the supervisor the worker runs, and with it every agent, gate command and git
    /// process (they inherit it), so that intake and the gatekeeper get the CPU first. Applied when the worker starts.
    public var nice = 10
}

/// Job retries.
public struct RetryConfig: Sendable, Equatable {
    public init() {}

    /// Attempts for code faults.
    public var maxAttempts = 2
    /// Attempts for transient failures (rate limits), which do not spend `maxAttempts`.
    public var transientMaxAttempts = 5
    public var backoffBaseSeconds = 10
    public var backoffMaxSeconds = 600
}

/// Per-process log files.
public struct LogConfig: Sendable, Equatable {
    public init() {}

    /// A log file is rotated when it passes this size.
    public var maxFileBytes = 10 << 20
    /// Rotated files kept per process.
    public var keepFiles = 5
}

/// One agent command template.
public struct AgentConfig: Sendable, Equatable {
    /// How the brief reaches the agent.
    public enum PromptMode: String, Sendable, Equatable, CaseIterable {
        /// A file path in the worktree, substituted for `{prompt_file}` in argv.
        case file
        /// On standard input.
        case stdin
    }

    public var name: String
    /// The command, never through a shell.
    public var argv: [String]
    /// Environment variables passed through from Bosun's environment.
    public var environmentAllowList: [String] = []
    public var prompt = PromptMode.file
    /// The preflight command; default `argv[0] --version`.
    public var probe: [String]

    public init(name: String, argv: [String]) {
        self.name = name
        self.argv = argv
        self.probe = [argv.first ?? "", "--version"]
    }
}

/// The trackers and forges Bosun speaks to.
public enum TrackerKind: String, Sendable, Equatable, CaseIterable {
    case github
    case gitea
    case gitlab
    case plane
    /// Bosun's own tracker; no forge.
    case local
}

/// One project: a repository and the tracker whose issues feed it.
public struct ProjectConfig: Sendable, Equatable {
    public var name: String
    public var tracker: TrackerKind
    public var repository: RepositoryConfig
    public var webhook = WebhookConfig()
    /// The forge API token.
    public var token: Secret?
    /// Who may trigger work and approve gates.
    public var authors: [String] = []
    /// The workflow's name; `default` is the built-in pipeline.
    public var workflow = "default"
    /// For a Plane tracker: the Plane project this Bosun project maps to. Plane's webhooks are workspace-wide;
    /// a payload naming another project is ignored.
    public var planeProjectID: String?
    /// For a Plane tracker: the workspace's slug and the API's base URL (ending in `/api/v1`).
    public var planeWorkspace: String?
    public var planeAPIURL: String?
    /// What starts a task.
    public var trigger = TriggerConfig()
    /// The forge login Bosun acts as; its own events are ignored and assignment to it can trigger work.
    public var botUser: String?
    /// The project's test command (argv), used by the workflow's command gates.
    public var testCommand: [String]?
    /// Jobs of this project running at once (nil: only the worker's limit).
    public var maxConcurrency: Int?
    /// Environment variables (names) each agent may receive from Bosun's environment for this project.
    public var agentEnvironment: [String: [String]] = [:]
    /// The workflow the project runs, resolved: the built-in default, a named one, or its own.
    public var resolvedWorkflow = Workflow.builtInDefault

    public init(name: String, tracker: TrackerKind, repository: RepositoryConfig) {
        self.name = name
        self.tracker = tracker
        self.repository = repository
    }
}

/// What starts a task for an issue.
public struct TriggerConfig: Sendable, Equatable {
    public enum Kind: String, Sendable, Equatable, CaseIterable {
        /// The issue gets a label (`label`, default `bosun`).
        case label
        /// The issue is assigned to the bot user.
        case assign
        /// Every new issue.
        case all
    }

    public var kind = Kind.label
    public var label = "bosun"

    public init() {}
}

/// Which agent plays a role: a default and one per level.
public struct RoleConfig: Sendable, Equatable {
    public var agent: String?
    /// Level name (junior / medior / senior) → agent name.
    public var levels: [String: String] = [:]
    /// The level used when no label or rule picks one.
    public var defaultLevel: String?
    /// Issue body length (characters) from which a level applies, e.g. `senior: 2000`.
    public var levelByBodyLength: [String: Int] = [:]

    public init() {}
}

/// Where a project's code lives.
public struct RepositoryConfig: Sendable, Equatable {
    /// Any git URL or a local path.
    public var url: String
    public var defaultBranch = "main"
    /// The forge's REST API base, when it is not the one derived from `url` (GitHub Enterprise, a proxy, a test).
    public var apiURL: String?

    public init(url: String) {
        self.url = url
    }
}

/// How a project's webhooks are verified.
public struct WebhookConfig: Sendable, Equatable {
    public init() {}

    public var secret: Secret?
    /// Accept webhooks without a secret. Off unless said explicitly.
    public var insecure = false
}

/// Where humans are told about blocked tasks and finished work.
public struct NotifierConfig: Sendable, Equatable {
    /// The notification channels.
    public enum Kind: String, Sendable, Equatable, CaseIterable {
        case telegram
        case slack
        case webhook
    }

    public var kind: Kind
    /// The endpoint: a Slack incoming-webhook URL or any URL (`webhook`); a secret, since such URLs are.
    public var url: Secret?
    /// Telegram's bot token.
    public var token: Secret?
    /// Telegram's chat.
    public var chatID: String?

    public init(kind: Kind) {
        self.kind = kind
    }
}
