import Workflow
import Yams

/// The `roles:` and `workflows:` sections, inline project workflows, and the checks that tie them to agents.
extension ConfigLoader {
    static func readRoles(
        _ root: inout Section, _ reader: inout ConfigReader, agents: [AgentConfig]
    )
        -> [String: RoleConfig]
    {
        let agentNames = Set(agents.map(\.name))
        var section = reader.section(&root, "roles")
        var roles: [String: RoleConfig] = [:]
        for name in section.keys {
            var entry = reader.section(&section, name)
            var role = RoleConfig()
            role.agent = reader.string(&entry, "agent")
            role.defaultLevel = reader.string(&entry, "default_level")
            var levels = reader.section(&entry, "levels")
            for level in levels.keys {
                if !Role.levels.contains(level) {
                    reader.report(
                        levels.path.appending(level), "unknown level; levels are junior, medior, senior",
                        line: levels.line(of: level))
                }
                role.levels[level] = reader.string(&levels, level, required: true)
            }
            reader.finish(levels)
            var lengths = reader.section(&entry, "level_by_body_length")
            for level in lengths.keys {
                if !Role.levels.contains(level) {
                    reader.report(
                        lengths.path.appending(level), "unknown level; levels are junior, medior, senior",
                        line: lengths.line(of: level))
                }
                role.levelByBodyLength[level] = reader.int(&lengths, level, default: 0, in: 0...Int.max)
            }
            reader.finish(lengths)
            if let level = role.defaultLevel, !Role.levels.contains(level) {
                reader.report(
                    entry.path.appending("default_level"), "unknown level \(level); levels are junior, medior, senior",
                    line: entry.line(of: "default_level"))
            }
            for agent in [role.agent].compactMap({ $0 }) + role.levels.values.sorted() where !agentNames.contains(agent)
            {
                reader.report(entry.path, "agent \(agent) is not defined under agents", line: entry.line)
            }
            reader.finish(entry)
            roles[name] = role
        }
        reader.finish(section)
        return roles
    }

    static func readWorkflows(
        _ root: inout Section, _ reader: inout ConfigReader, roles: Set<String>
    )
        -> [String: Workflow]
    {
        var section = reader.section(&root, "workflows")
        var workflows: [String: Workflow] = [:]
        for name in section.keys {
            if name == "default" {
                reader.report(
                    section.path.appending(name), "default is the built-in workflow; choose another name",
                    line: section.line(of: name))
            }
            var entry = reader.section(&section, name)
            if let workflow = readWorkflow(named: name, &entry, &reader, roles: roles) {
                workflows[name] = workflow
            }
        }
        reader.finish(section)
        return workflows
    }

    /// One statechart: `initial`, `states`. Validation problems are reported at the state they are about.
    static func readWorkflow(
        named name: String, _ section: inout Section, _ reader: inout ConfigReader, roles: Set<String> = []
    ) -> Workflow? {
        let initial = reader.string(&section, "initial", required: true)
        var statesSection = reader.section(&section, "states")
        var states: [StateSpec] = []
        for stateName in statesSection.keys {
            var entry = reader.section(&statesSection, stateName)
            guard let kind: StateSpec.Kind = reader.choice(&entry, "type", required: true) else {
                reader.finish(entry, known: stateKeys)
                continue
            }
            var state = StateSpec(name: stateName, kind: kind)
            state.role = reader.string(&entry, "role")
            if let label = reader.string(&entry, "label") { state.label = label }
            if let color = reader.string(&entry, "color") {
                state.color = color.hasPrefix("#") ? String(color.dropFirst()) : color
            }
            state.priority = reader.int(&entry, "priority", default: 0, in: -1000...1000)
            state.instructions = reader.string(&entry, "instructions") ?? ""
            state.gates = readGates(&entry, &reader)
            var on = reader.section(&entry, "on")
            for event in on.keys {
                if let transition = readTransition(&on, event, &reader) { state.transitions[event] = transition }
            }
            reader.finish(on)
            for (path, node) in reader.sequence(&entry, "actions") {
                guard let text = node.scalar?.string, let action = Action(rawValue: text) else {
                    reader.report(
                        path, "unknown action; actions: \(Action.allCases.map(\.rawValue).joined(separator: ", "))",
                        line: node.mark?.line)
                    continue
                }
                state.actions.append(action)
            }
            reader.finish(entry)
            states.append(state)
        }
        reader.finish(statesSection)
        reader.finish(section)
        guard let initial else { return nil }
        let workflow = Workflow(name: name, initial: initial, states: states)
        for issue in WorkflowValidator.validate(workflow, roles: roles) {
            let path = issue.state.map { statesSection.path.appending($0) } ?? section.path
            let line = issue.state.map { statesSection.line(of: $0) } ?? section.line
            reader.report(path, issue.message, line: line)
        }
        return workflow
    }

    private static let stateKeys = [
        "type", "role", "label", "color", "priority", "instructions", "gates", "on", "actions",
    ]

    private static func readTransition(
        _ on: inout Section, _ event: String, _ reader: inout ConfigReader
    )
        -> Transition?
    {
        if case .scalar(let scalar)? = on.node(event) {
            _ = reader.string(&on, event)
            return Transition(to: scalar.string)
        }
        var entry = reader.section(&on, event)
        let target = reader.string(&entry, "to", required: true)
        let max = entry.has("max") ? reader.int(&entry, "max", default: 1) : nil
        let exceeded = reader.string(&entry, "exceeded")
        var actions: [Action] = []
        for (path, node) in reader.sequence(&entry, "actions") {
            guard let text = node.scalar?.string, let action = Action(rawValue: text) else {
                reader.report(path, "unknown action", line: node.mark?.line)
                continue
            }
            actions.append(action)
        }
        reader.finish(entry)
        return target.map { Transition(to: $0, max: max, exceeded: exceeded, actions: actions) }
    }

    private static func readGates(_ entry: inout Section, _ reader: inout ConfigReader) -> [Gate] {
        var gates: [Gate] = []
        for (path, node) in reader.sequence(&entry, "gates") {
            if let word = node.scalar?.string {
                switch word {
                case "approval": gates.append(.approval)
                case "ci": gates.append(.ci)
                case "pr_review": gates.append(.pullRequestReview)
                case "test_command":
                    gates.append(.command(argv: Workflow.projectTestCommand, timeoutSeconds: 1800))
                default:
                    reader.report(
                        path,
                        "unknown gate \(word); gates: files, command, verdict, approval, ci, pr_review, test_command",
                        line: node.mark?.line)
                }
                continue
            }
            var gate = reader.section(node, at: path)
            guard gate.keys.count == 1, let kind = gate.keys.first else {
                reader.report(path, "a gate is a mapping with one key: its kind", line: gate.line)
                continue
            }
            switch kind {
            case "files":
                if gate.node("files")?.scalar != nil {
                    gates.append(.files([reader.string(&gate, "files") ?? ""]))
                } else {
                    gates.append(.files(reader.strings(&gate, "files")))
                }
            case "verdict":
                gates.append(.verdict(file: reader.string(&gate, "verdict") ?? ""))
            case "command":
                if let argv = readCommand(&gate, "command", &reader) {
                    gates.append(.command(argv: argv, timeoutSeconds: 1800))
                }
            case "approval", "ci", "pr_review":
                _ = reader.bool(&gate, kind, default: true)
                gates.append(kind == "approval" ? .approval : kind == "ci" ? .ci : .pullRequestReview)
            default:
                reader.report(
                    path.appending(kind), "unknown gate; gates: files, command, verdict, approval, ci, pr_review",
                    line: gate.line)
                continue
            }
            reader.finish(gate)
        }
        return gates
    }

    /// A command: a list of arguments (run as is), or one string (run by `/bin/sh -c`, for operators who write
    /// `make test && make lint`; the config is the operator's, never an issue's).
    static func readCommand(_ section: inout Section, _ key: String, _ reader: inout ConfigReader) -> [String]? {
        guard section.has(key) else { return nil }
        if section.node(key)?.scalar != nil {
            guard let text = reader.string(&section, key), !text.isEmpty else { return nil }
            return ["/bin/sh", "-c", text]
        }
        let argv = reader.strings(&section, key)
        if argv.isEmpty {
            reader.report(
                section.path.appending(key), "must be a command: a string or a list of arguments",
                line: section.line(of: key))
            return nil
        }
        return argv
    }

    /// Every role the project's workflow runs must have an agent. (A command gate on the project's test command
    /// with no `test_command` set fails at run time, saying so, and the task is blocked.)
    static func checkRoles(
        of project: ProjectConfig, at path: ConfigKeyPath, roles: [String: RoleConfig], agents: [AgentConfig],
        line: Int?, _ reader: inout ConfigReader
    ) {
        for state in project.resolvedWorkflow.states {
            if let role = state.role, !agents.isEmpty,
                BosunConfig.agentName(forRole: role, level: nil, roles: roles, agents: agents) == nil
            {
                reader.report(
                    path.appending("workflow"),
                    "state \(state.name): role \(role) has no agent; set roles.\(role).agent or add an agent named \(role)",
                    line: line)
            }
        }
    }
}

extension BosunConfig {
    /// The agent that plays `role` at `level`: the role's level agent, the role's agent, an agent named after the
    /// role, or the only agent there is.
    public static func agentName(
        forRole role: String, level: String?, roles: [String: RoleConfig], agents: [AgentConfig]
    ) -> String? {
        let config = roles[role]
        if let level, let agent = config?.levels[level] { return agent }
        if let agent = config?.agent { return agent }
        if agents.contains(where: { $0.name == role }) { return role }
        return agents.count == 1 ? agents[0].name : nil
    }

    /// The agent config that plays `role` at `level`.
    public func agent(forRole role: String, level: String?) -> AgentConfig? {
        let name = Self.agentName(forRole: role, level: level, roles: roles, agents: agents)
        return agents.first { $0.name == name }
    }

    /// The level for a role on an issue: a `role.level` label (`developer.senior`), else the longest body-length
    /// rule the body reaches, else the role's default level.
    public func level(forRole role: String, labels: [String], bodyLength: Int) -> String? {
        for label in labels {
            let parts = label.split(separator: ".", maxSplits: 1).map(String.init)
            if parts.count == 2, parts[0] == role, Role.levels.contains(parts[1]) { return parts[1] }
        }
        let config = roles[role]
        let reached = (config?.levelByBodyLength ?? [:]).filter { bodyLength >= $0.value }
        if let best = reached.max(by: { $0.value < $1.value }) { return best.key }
        return config?.defaultLevel
    }

    /// The project with this name.
    public func project(named name: String) -> ProjectConfig? { projects.first { $0.name == name } }
}
