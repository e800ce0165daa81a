import Config
import Workflow

/// Builds an agent's argv and environment from its config template. Only whole arguments are substituted, and only
/// with values Bosun controls (paths, the stage, the role, the level); the text never becomes an argument.
struct AgentCommand: Equatable {
    var argv: [String]
    var environment: [String: String]
    /// The brief goes on stdin (`prompt: stdin`).
    var briefOnStdin: Bool

    /// Environment variables every agent gets from the worker's environment when set.
    static let baseAllowList = [
        "PATH", "HOME", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "USER", "LOGNAME", "TMPDIR", "TERM",
    ]

    static func build(
        agent: AgentConfig, project: ProjectConfig, spec: JobSpec, briefPath: String, worktree: String, runID: Int64,
        taskID: Int64, inherited: [String: String]
    ) -> AgentCommand {
        let substitutions = [
            "{prompt_file}": briefPath, "{brief}": briefPath, "{worktree}": worktree,
            "{stage}": spec.brief?.stage ?? "",
            "{role}": spec.role ?? "", "{level}": spec.level ?? "",
        ]
        let argv = agent.argv.map { substitutions[$0] ?? $0 }
        var environment: [String: String] = [:]
        let allowed = baseAllowList + agent.environmentAllowList + (project.agentEnvironment[agent.name] ?? [])
        for name in allowed {
            if let value = inherited[name] { environment[name] = value }
        }
        if environment["PATH"] == nil { environment["PATH"] = "/usr/local/bin:/usr/bin:/bin" }
        environment["BOSUN_TASK_ID"] = String(taskID)
        environment["BOSUN_RUN_ID"] = String(runID)
        environment["BOSUN_STAGE"] = spec.brief?.stage ?? ""
        environment["BOSUN_ROLE"] = spec.role ?? ""
        environment["BOSUN_LEVEL"] = spec.level ?? ""
        environment["BOSUN_BRIEF"] = briefPath
        environment["BOSUN_WORKTREE"] = worktree
        return AgentCommand(argv: argv, environment: environment, briefOnStdin: agent.prompt == .stdin)
    }
}
