/// A problem with a workflow definition, naming the state it is about.
public struct WorkflowIssue: Sendable, Equatable, CustomStringConvertible {
    /// The state the problem is in; nil for the workflow as a whole.
    public var state: String?
    public var message: String

    public init(state: String?, _ message: String) {
        self.state = state
        self.message = message
    }

    public var description: String { state.map { "state \($0): \(message)" } ?? message }
}

/// Checks a workflow before it is used: unknown states and roles, unreachable states, transitions to nowhere,
/// active states with no way forward, loops with no bound.
public enum WorkflowValidator {
    /// Every problem in `workflow`; empty when it is usable. `roles` are the roles agents are configured for (the
    /// built-in six are always known).
    public static func validate(_ workflow: Workflow, roles: Set<String> = []) -> [WorkflowIssue] {
        var issues: [WorkflowIssue] = []
        let names = Set(workflow.states.map(\.name))
        let knownRoles = Role.builtIn.union(roles)
        if workflow.states.isEmpty { return [WorkflowIssue(state: nil, "has no states")] }
        if !names.contains(workflow.initial) {
            issues.append(WorkflowIssue(state: nil, "initial state \(workflow.initial) is not one of its states"))
        }
        var seen: Set<String> = []
        for state in workflow.states {
            if !seen.insert(state.name).inserted {
                issues.append(WorkflowIssue(state: state.name, "is declared twice"))
            }
            if state.kind == .active {
                if let role = state.role {
                    if !knownRoles.contains(role) {
                        issues.append(
                            WorkflowIssue(
                                state: state.name,
                                "unknown role \(role); known roles: \(knownRoles.sorted().joined(separator: ", "))"))
                    }
                } else {
                    issues.append(WorkflowIssue(state: state.name, "is active but has no role"))
                }
                if state.transitions["passed"] == nil {
                    issues.append(
                        WorkflowIssue(state: state.name, "is active but has no passed transition (a dead end)"))
                }
            } else if !state.gates.isEmpty {
                issues.append(WorkflowIssue(state: state.name, "has gates but is not active (only active states run)"))
            }
            if state.kind == .terminal && !state.transitions.isEmpty {
                issues.append(WorkflowIssue(state: state.name, "is terminal but has transitions"))
            }
            if !isValidColor(state.color) {
                issues.append(WorkflowIssue(state: state.name, "color \(state.color) is not six hex digits"))
            }
            for (event, transition) in state.transitions.sorted(by: { $0.key < $1.key }) {
                if !WorkflowEventName.all.contains(event) {
                    issues.append(
                        WorkflowIssue(
                            state: state.name,
                            "unknown event \(event) in on:; events: \(WorkflowEventName.all.sorted().joined(separator: ", "))"
                        ))
                }
                if !names.contains(transition.target) {
                    issues.append(
                        WorkflowIssue(
                            state: state.name, "on \(event) goes to \(transition.target), which is not a state"))
                }
                if let exceeded = transition.exceeded, !names.contains(exceeded) {
                    issues.append(
                        WorkflowIssue(state: state.name, "on \(event) exceeds to \(exceeded), which is not a state"))
                }
                if let max = transition.max, max < 1 {
                    issues.append(WorkflowIssue(state: state.name, "on \(event): max must be at least 1"))
                }
                if transition.max != nil && transition.exceeded == nil && !names.contains("blocked") {
                    issues.append(
                        WorkflowIssue(
                            state: state.name, "on \(event) has a max but no exceeded state (and no blocked state)"))
                }
            }
            for (index, gate) in state.gates.enumerated() {
                switch gate {
                case .files(let globs) where globs.isEmpty || globs.contains(where: \.isEmpty):
                    issues.append(WorkflowIssue(state: state.name, "gate \(index + 1) (files) needs non-empty globs"))
                case .files(let globs) where globs.contains(where: escapesWorktree):
                    issues.append(
                        WorkflowIssue(state: state.name, "gate \(index + 1) (files) must stay inside the worktree"))
                case .verdict(let file) where file.isEmpty || escapesWorktree(file):
                    issues.append(
                        WorkflowIssue(state: state.name, "gate \(index + 1) (verdict) needs a file inside the worktree")
                    )
                case .command(let argv, let timeout) where argv.isEmpty || timeout < 1:
                    issues.append(
                        WorkflowIssue(state: state.name, "gate \(index + 1) (command) needs a command and a timeout"))
                default: break
                }
            }
        }
        if !issues.isEmpty { return issues }
        for name in unreachable(workflow) {
            issues.append(WorkflowIssue(state: name, "is unreachable from \(workflow.initial)"))
        }
        if let cycle = unboundedCycle(workflow) {
            issues.append(
                WorkflowIssue(
                    state: cycle[0],
                    "loops with no bound (\(cycle.joined(separator: " → "))); give one of its transitions a max"))
        }
        return issues
    }

    private static func isValidColor(_ color: String) -> Bool {
        color.count == 6 && color.allSatisfy(\.isHexDigit)
    }

    private static func escapesWorktree(_ path: String) -> Bool {
        path.hasPrefix("/") || path.split(separator: "/").contains("..")
    }

    /// Edges a task can take on its own (not through a human's hold): declared transitions, exceeded targets and
    /// the engine's fallbacks.
    private static func edges(from state: StateSpec, in workflow: Workflow) -> [(to: String, bounded: Bool)] {
        var result: [(String, Bool)] = []
        for transition in state.transitions.values {
            result.append((transition.target, transition.max != nil))
            if let exceeded = transition.exceeded { result.append((exceeded, true)) }
            if transition.max != nil && transition.exceeded == nil { result.append(("blocked", true)) }
        }
        if state.kind == .active {
            for fallback in ["blocked", "cancelled", "done"] where workflow.state(fallback) != nil {
                result.append((fallback, true))
            }
        }
        return result
    }

    private static func unreachable(_ workflow: Workflow) -> [String] {
        var reached: Set<String> = [workflow.initial]
        var frontier = [workflow.initial]
        while let name = frontier.popLast() {
            guard let state = workflow.state(name) else { continue }
            for edge in edges(from: state, in: workflow) where reached.insert(edge.to).inserted {
                frontier.append(edge.to)
            }
        }
        return workflow.states.map(\.name).filter { !reached.contains($0) }
    }

    /// A cycle made only of unbounded transitions between states that run on their own (active states), if any.
    private static func unboundedCycle(_ workflow: Workflow) -> [String]? {
        var graph: [String: [String]] = [:]
        for state in workflow.states where state.kind == .active {
            graph[state.name] = state.transitions.values.filter { $0.max == nil }.map(\.target).filter {
                workflow.state($0)?.kind == .active
            }.sorted()
        }
        var visiting: [String] = []
        var done: Set<String> = []
        func visit(_ node: String) -> [String]? {
            if let start = visiting.firstIndex(of: node) { return Array(visiting[start...]) + [node] }
            if done.contains(node) { return nil }
            visiting.append(node)
            for next in graph[node] ?? [] {
                if let cycle = visit(next) { return cycle }
            }
            visiting.removeLast()
            done.insert(node)
            return nil
        }
        for name in graph.keys.sorted() {
            if let cycle = visit(name) { return cycle }
        }
        return nil
    }
}
