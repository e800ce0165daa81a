/// A workflow: the states a task lives through and the transitions between them. Data, not code: read from the
/// config (or the built-in default) and checked by `WorkflowValidator` before use.
public struct Workflow: Sendable, Equatable {
    public var name: String
    /// The state a new task enters.
    public var initial: String
    /// The states in the order they were declared (the order used for display and labels).
    public var states: [StateSpec]

    public init(name: String, initial: String, states: [StateSpec]) {
        self.name = name
        self.initial = initial
        self.states = states
    }

    /// The state with this name.
    public func state(_ name: String) -> StateSpec? { states.first { $0.name == name } }

    /// The state whose tracker label is `label`.
    public func state(withLabel label: String) -> StateSpec? { states.first { $0.label == label } }

    /// Every state's tracker label.
    public var labels: [String] { states.map(\.label) }
}

/// One state of a workflow.
public struct StateSpec: Sendable, Equatable {
    /// What a task does in a state.
    public enum Kind: String, Sendable, Equatable, CaseIterable, Codable {
        /// Waits to be started (by the trigger or a label).
        case queue
        /// Runs its role's agent, then its gates.
        case active
        /// Waits for a human (blocked, or a manual step).
        case hold
        /// The end: the task is no longer active.
        case terminal
    }

    public var name: String
    public var kind: Kind
    /// The agent role an active state runs.
    public var role: String?
    /// The tracker label that mirrors this state (`bosun:development`).
    public var label: String
    /// The label's colour, six hex digits without `#`.
    public var color: String
    /// Higher runs first.
    public var priority: Int
    /// What the stage's agent is asked to do; the brief starts with it.
    public var instructions: String
    /// Checked in order after the agent's run; all must pass to take `passed`.
    public var gates: [Gate]
    /// Transitions by workflow event name (`passed`, `failed`, `changes_requested`, `rejected`, `answered`, …).
    public var transitions: [String: Transition]
    /// Done on entering the state, after the kind's own (an active state always enqueues its agent).
    public var actions: [Action]

    public init(
        name: String, kind: Kind, role: String? = nil, label: String? = nil, color: String = "ededed",
        priority: Int = 0, instructions: String = "", gates: [Gate] = [], transitions: [String: Transition] = [:],
        actions: [Action] = []
    ) {
        self.name = name
        self.kind = kind
        self.role = role
        self.label = label ?? "bosun:\(name)"
        self.color = color
        self.priority = priority
        self.instructions = instructions
        self.gates = gates
        self.transitions = transitions
        self.actions = actions
    }
}

/// A move to another state on an event, optionally bounded: taken at most `max` times per task, after which the
/// task goes to `exceeded` instead.
public struct Transition: Sendable, Equatable {
    public var target: String
    public var max: Int?
    public var exceeded: String?
    public var actions: [Action]

    public init(to target: String, max: Int? = nil, exceeded: String? = nil, actions: [Action] = []) {
        self.target = target
        self.max = max
        self.exceeded = exceeded
        self.actions = actions
    }
}

/// A quality gate: what must hold before a task leaves an active state.
public enum Gate: Sendable, Equatable {
    /// Paths matching every glob exist in the worktree.
    case files([String])
    /// A command exits 0 in the worktree (run by the worker as a gate job).
    case command(argv: [String], timeoutSeconds: Int)
    /// The YAML front matter of this worktree file says `verdict: APPROVED` (or `REQUEST_CHANGES`).
    case verdict(file: String)
    /// An allowed author comments the approval token (or the rejection token with a reason).
    case approval
    /// The forge's commit statuses and check runs for the branch head are green.
    case ci
    /// The pull request has an approving review.
    case pullRequestReview

    /// The gate's kind as written in the config.
    public var kind: String {
        switch self {
        case .files: "files"
        case .command: "command"
        case .verdict: "verdict"
        case .approval: "approval"
        case .ci: "ci"
        case .pullRequestReview: "pr_review"
        }
    }
}

/// An effect a transition or a state entry has.
public enum Action: String, Sendable, Equatable, CaseIterable, Codable {
    case enqueueAgent = "enqueue_agent"
    case runGate = "run_gate"
    case setLabel = "set_label"
    case comment
    case openPullRequest = "open_pr"
    case mergePullRequest = "merge_pr"
    case closeIssue = "close_issue"
    case notify
}

/// The workflow event names a state's `on:` may use.
public enum WorkflowEventName {
    /// Every gate of the state passed.
    public static let passed = "passed"
    /// A gate failed, or the agent failed past its retries.
    public static let failed = "failed"
    /// The review verdict (or a PR review) asked for changes.
    public static let changesRequested = "changes_requested"
    /// A human rejected the approval gate.
    public static let rejected = "rejected"
    /// A human answered (commented) while the state waited for approval.
    public static let answered = "answered"
    /// The tracker issue was closed.
    public static let issueClosed = "issue_closed"
    /// The pull request was merged outside Bosun.
    public static let pullRequestMerged = "pr_merged"
    /// Started: the trigger fired (from a queue state).
    public static let start = "start"

    public static let all: Set<String> = [
        passed, failed, changesRequested, rejected, answered, issueClosed, pullRequestMerged, start,
    ]
}

/// The six roles Bosun knows without configuration.
public enum Role {
    public static let builtIn: Set<String> = ["analyst", "architect", "developer", "reviewer", "tester", "deployer"]
    /// The levels a role may have.
    public static let levels: [String] = ["junior", "medior", "senior"]
}
