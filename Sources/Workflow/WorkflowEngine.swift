/// Where a task stands in its workflow: the part of a task the engine reads and decides on.
public struct TaskProgress: Sendable, Equatable {
    public var state: String
    /// False once the task reached a terminal state.
    public var active: Bool
    /// What the task waits for: `agent`, `gate`, `approval`, `ci`, `pr_review`, or nil.
    public var waitingOn: String?
    /// How many of the state's gates have passed.
    public var gateIndex: Int
    /// Bounded transitions taken (`review.changes_requested`) and state visits (`visits.development`).
    public var counters: [String: Int]
    /// What the next agent should be told (feedback, a failed gate's output, a human's answer).
    public var feedback: String?

    public init(
        state: String, active: Bool = true, waitingOn: String? = nil, gateIndex: Int = 0,
        counters: [String: Int] = [:], feedback: String? = nil
    ) {
        self.state = state
        self.active = active
        self.waitingOn = waitingOn
        self.gateIndex = gateIndex
        self.counters = counters
        self.feedback = feedback
    }

    /// How many times the task entered `state` (the job unique keys use it).
    public func visits(_ state: String) -> Int { counters["visits.\(state)"] ?? 0 }
}

/// What happened to a task, as the engine understands it.
public enum WorkflowInput: Sendable, Equatable {
    /// The trigger fired: leave the queue state.
    case start
    /// The state's agent finished successfully.
    case agentSucceeded
    /// The state's agent failed past its retries.
    case agentFailed(reason: String)
    /// A command gate's job finished.
    case gateFinished(gateIndex: Int, passed: Bool, detail: String)
    /// An allowed author approved (`:approved:`) or rejected (`:rejected: reason`).
    case approval(approved: Bool, reason: String)
    /// An allowed author commented something else.
    case comment(text: String)
    /// The forge's checks for the branch finished.
    case checks(passed: Bool, detail: String)
    /// A pull request review: approved, or changes requested with its text.
    case pullRequestReview(approved: Bool, text: String)
    case issueClosed
    case pullRequestMerged
    /// A human moved the task by adding a state's label.
    case move(to: String)
}

/// An effect the engine asks for; the gatekeeper turns each into jobs and outbox entries in the same transaction.
public enum WorkflowEffect: Sendable, Equatable {
    /// Run `role`'s agent for `state`; `visit` makes the job's unique key.
    case enqueueAgent(state: String, role: String, visit: Int)
    /// Run a command gate.
    case enqueueGate(state: String, gateIndex: Int, argv: [String], timeoutSeconds: Int, visit: Int)
    /// Put `label` on the issue and take the other state labels off.
    case setLabel(String, remove: [String])
    case comment(String)
    case openPullRequest
    case mergePullRequest
    case closeIssue
    case notify(String)
    /// Cancel the task's queued jobs.
    case cancelJobs
}

/// One row for the task's audit trail.
public struct AuditEntry: Sendable, Equatable {
    public var from: String?
    public var to: String
    public var event: String
    public var reason: String

    public init(from: String?, to: String, event: String, reason: String) {
        self.from = from
        self.to = to
        self.event = event
        self.reason = reason
    }
}

/// The engine's answer to one input.
public struct Decision: Sendable, Equatable {
    public var progress: TaskProgress
    public var effects: [WorkflowEffect] = []
    public var audit: [AuditEntry] = []
    /// Why the input changed nothing, when it did not apply (the wrong state, nothing waiting for it).
    public var ignored: String?

    public init(progress: TaskProgress) {
        self.progress = progress
    }

    /// One input can pass through several states (created → analysis); only the last label change matters.
    func keepingLastLabel() -> Decision {
        guard let last = effects.lastIndex(where: { if case .setLabel = $0 { true } else { false } }) else {
            return self
        }
        var copy = self
        copy.effects = effects.enumerated().filter { index, effect in
            if case .setLabel = effect { return index == last }
            return true
        }.map(\.element)
        return copy
    }
}

/// What the gates may look at in the task's worktree. The gatekeeper reads files; it never runs them.
public protocol WorktreeArtifacts {
    /// Whether a path matching `glob` exists.
    func exists(glob: String) -> Bool
    /// The text of the file at `path`, nil if there is none (or it is not text, or too large).
    func read(_ path: String) -> String?
}

/// The workflow engine's pure core: given a task's progress and what happened, decide the next progress, the
/// effects and the audit rows. No I/O, no clock: the shell supplies everything and performs the effects.
public struct WorkflowEngine: Sendable {
    public let workflow: Workflow

    public init(workflow: Workflow) {
        self.workflow = workflow
    }

    /// A new task: enter the initial state and, when it is a queue state with a `start` transition, start.
    public func begin(reason: String) -> Decision {
        var decision = Decision(progress: TaskProgress(state: workflow.initial))
        enter(workflow.initial, from: nil, event: "created", reason: reason, into: &decision)
        if let state = workflow.state(workflow.initial), state.kind == .queue, state.transitions["start"] != nil {
            fire("start", reason: reason, feedback: nil, into: &decision)
        }
        return decision.keepingLastLabel()
    }

    /// Applies `input` to a task.
    public func apply(
        _ input: WorkflowInput, to progress: TaskProgress, artifacts: (any WorktreeArtifacts)?
    )
        -> Decision
    {
        var decision = Decision(progress: progress)
        guard progress.active else {
            decision.ignored = "the task is finished (\(progress.state))"
            return decision
        }
        let waiting = progress.waitingOn
        switch input {
        case .start:
            guard workflow.state(progress.state)?.kind == .queue else {
                decision.ignored = "the task already started (\(progress.state))"
                return decision
            }
            fire("start", reason: "started", feedback: nil, into: &decision)
        case .agentSucceeded:
            guard waiting == "agent" else { return ignore(&decision, "no agent run was expected") }
            decision.progress.waitingOn = nil
            decision.progress.gateIndex = 0
            evaluateGates(into: &decision, artifacts: artifacts)
        case .agentFailed(let reason):
            guard waiting == "agent" else { return ignore(&decision, "no agent run was expected") }
            fire("failed", reason: "the agent failed: \(reason)", feedback: reason, into: &decision)
        case .gateFinished(let index, let passed, let detail):
            guard waiting == "gate", progress.gateIndex == index else {
                return ignore(&decision, "gate \(index) of \(progress.state) was not running")
            }
            if passed {
                passGate(into: &decision, artifacts: artifacts)
            } else {
                fire(
                    "failed", reason: "the command gate failed", feedback: "The test command failed:\n\(detail)",
                    into: &decision)
            }
        case .approval(let approved, let reason):
            guard waiting == "approval" else { return ignore(&decision, "nothing waits for an approval") }
            if approved {
                passGate(into: &decision, artifacts: artifacts)
            } else {
                fire(
                    "rejected", reason: "rejected: \(reason)", feedback: "A human rejected this stage: \(reason)",
                    into: &decision)
            }
        case .comment(let text):
            guard waiting == "approval" else { return ignore(&decision, "no question is open") }
            fire(
                "answered", reason: "a human answered", feedback: "A human answered in the issue:\n\(text)",
                into: &decision)
        case .checks(let passed, let detail):
            guard waiting == "ci" else { return ignore(&decision, "nothing waits for CI") }
            if passed {
                passGate(into: &decision, artifacts: artifacts)
            } else {
                fire("failed", reason: "CI failed: \(detail)", feedback: detail, into: &decision)
            }
        case .pullRequestReview(let approved, let text):
            guard waiting == "pr_review" else { return ignore(&decision, "nothing waits for a PR review") }
            if approved {
                passGate(into: &decision, artifacts: artifacts)
            } else {
                fire(
                    "changes_requested", reason: "the PR review requested changes", feedback: text, into: &decision)
            }
        case .issueClosed:
            fire("issue_closed", reason: "the issue was closed", feedback: nil, into: &decision)
        case .pullRequestMerged:
            fire("pr_merged", reason: "the pull request was merged", feedback: nil, into: &decision)
        case .move(let target):
            guard workflow.state(target) != nil else { return ignore(&decision, "no state named \(target)") }
            guard target != progress.state else { return ignore(&decision, "the task is already in \(target)") }
            decision.effects.append(.cancelJobs)
            enter(target, from: progress.state, event: "moved", reason: "moved by label", into: &decision)
        }
        return decision.keepingLastLabel()
    }

    private func ignore(_ decision: inout Decision, _ reason: String) -> Decision {
        decision.ignored = reason
        return decision
    }

    /// The gate being waited for passed: go on with the next one.
    private func passGate(into decision: inout Decision, artifacts: (any WorktreeArtifacts)?) {
        decision.progress.waitingOn = nil
        decision.progress.gateIndex += 1
        evaluateGates(into: &decision, artifacts: artifacts)
    }

    /// Checks the current state's gates from `gateIndex` on; stops at the first that must wait, fails, or asks for
    /// changes; takes `passed` when all passed.
    private func evaluateGates(into decision: inout Decision, artifacts: (any WorktreeArtifacts)?) {
        guard let state = workflow.state(decision.progress.state) else { return }
        while decision.progress.gateIndex < state.gates.count {
            let index = decision.progress.gateIndex
            switch state.gates[index] {
            case .files(let globs):
                let missing = globs.filter { artifacts?.exists(glob: $0) != true }
                if !missing.isEmpty {
                    let list = missing.joined(separator: ", ")
                    fire(
                        "failed", reason: "files gate: missing \(list)",
                        feedback: "These required files are missing: \(list)", into: &decision)
                    return
                }
            case .verdict(let file):
                guard let text = artifacts?.read(file) else {
                    fire(
                        "failed", reason: "verdict gate: \(file) is missing",
                        feedback: "The review file \(file) is missing", into: &decision)
                    return
                }
                switch Verdict.parse(text) {
                case .approved: break
                case .changesRequested(let notes):
                    fire(
                        "changes_requested", reason: "the review requested changes",
                        feedback: "The reviewer requested changes:\n\(notes)", into: &decision)
                    return
                case .invalid(let why):
                    fire("failed", reason: "verdict gate: \(why)", feedback: why, into: &decision)
                    return
                }
            case .command(let argv, let timeout):
                decision.progress.waitingOn = "gate"
                decision.effects.append(
                    .enqueueGate(
                        state: state.name, gateIndex: index, argv: argv, timeoutSeconds: timeout,
                        visit: decision.progress.visits(state.name)))
                return
            case .approval:
                decision.progress.waitingOn = "approval"
                decision.effects.append(
                    .comment(
                        "The \(state.name) stage is ready for review. Reply `:approved:` to continue, "
                            + "`:rejected: <reason>` to redo it, or answer its questions in a comment."))
                return
            case .ci:
                decision.progress.waitingOn = "ci"
                return
            case .pullRequestReview:
                decision.progress.waitingOn = "pr_review"
                return
            }
            decision.progress.gateIndex += 1
        }
        fire("passed", reason: "every gate of \(state.name) passed", feedback: nil, into: &decision)
    }

    /// Takes the current state's transition for `event` (or the built-in fallback), honouring its bound.
    private func fire(_ event: String, reason: String, feedback: String?, into decision: inout Decision) {
        let from = decision.progress.state
        guard let transition = transition(for: event, in: from) else {
            decision.audit.append(AuditEntry(from: from, to: from, event: event, reason: "\(reason); no transition"))
            decision.progress.waitingOn = nil
            return
        }
        var target = transition.target
        var why = reason
        if let max = transition.max {
            let key = "\(from).\(event)"
            let taken = (decision.progress.counters[key] ?? 0) + 1
            decision.progress.counters[key] = taken
            if taken > max {
                target = transition.exceeded ?? "blocked"
                why = "\(reason); \(event) happened \(taken) times, more than the \(max) allowed"
            }
        }
        decision.progress.feedback = feedback
        for action in transition.actions { perform(action, reason: why, into: &decision) }
        enter(target, from: from, event: event, reason: why, into: &decision)
    }

    private func transition(for event: String, in stateName: String) -> Transition? {
        if let declared = workflow.state(stateName)?.transitions[event] { return declared }
        let fallback: String? =
            switch event {
            case "failed", "changes_requested", "rejected", "answered": "blocked"
            case "issue_closed": "cancelled"
            case "pr_merged": "done"
            default: nil
            }
        guard let fallback, workflow.state(fallback) != nil, fallback != stateName else { return nil }
        return Transition(to: fallback)
    }

    /// Enters `name`: its label, then what its kind does (an active state enqueues its agent), then its actions.
    private func enter(_ name: String, from: String?, event: String, reason: String, into decision: inout Decision) {
        guard let state = workflow.state(name) else { return }
        decision.audit.append(AuditEntry(from: from, to: name, event: event, reason: reason))
        decision.progress.state = name
        decision.progress.active = state.kind != .terminal
        decision.progress.waitingOn = nil
        decision.progress.gateIndex = 0
        decision.progress.counters["visits.\(name)", default: 0] += 1
        decision.effects.append(.setLabel(state.label, remove: workflow.labels.filter { $0 != state.label }))
        switch state.kind {
        case .active:
            guard let role = state.role else { break }
            decision.progress.waitingOn = "agent"
            decision.effects.append(.enqueueAgent(state: name, role: role, visit: decision.progress.visits(name)))
        case .terminal:
            decision.effects.append(.cancelJobs)
        case .queue, .hold:
            break
        }
        for action in state.actions { perform(action, reason: reason, into: &decision) }
    }

    private func perform(_ action: Action, reason: String, into decision: inout Decision) {
        let state = decision.progress.state
        switch action {
        case .enqueueAgent, .runGate, .setLabel:
            break  // done by entering the state and evaluating its gates
        case .comment: decision.effects.append(.comment("Bosun moved this task to **\(state)**: \(reason)."))
        case .openPullRequest: decision.effects.append(.openPullRequest)
        case .mergePullRequest: decision.effects.append(.mergePullRequest)
        case .closeIssue: decision.effects.append(.closeIssue)
        case .notify: decision.effects.append(.notify("Task is \(state): \(reason)"))
        }
    }
}
