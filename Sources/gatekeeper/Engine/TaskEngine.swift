import Config
import Forge
import Foundation
import Logging
import Store
import Workflow

/// The gatekeeper's shell around the workflow engine: reads deliveries and job outcomes from the store, decides
/// with `TaskRouter` and `WorkflowEngine`, and writes the result — task, audit rows, jobs, outbox entries, the
/// inbox cursor moved past the delivery — in one transaction per input. A crash anywhere redoes the input whole.
final class TaskEngine: Sendable {
    let database: Database
    /// The inbox file, read only: what has been applied is recorded in `database` (`inbox_cursor`).
    let inbox: Database
    let config: @Sendable () -> BosunConfig
    let logger: Logger
    let clock: @Sendable () -> Int64

    init(
        database: Database, inbox: Database, config: @escaping @Sendable () -> BosunConfig, logger: Logger,
        clock: @escaping @Sendable () -> Int64 = { Int64(Date().timeIntervalSince1970 * 1000) }
    ) {
        self.database = database
        self.inbox = inbox
        self.config = config
        self.logger = logger
        self.clock = clock
    }

    /// What one pass did; `jobsEnqueued` tells the caller to wake the worker.
    struct PassResult: Equatable {
        var processed = 0
        var jobsEnqueued = 0
        var effectsQueued = 0
    }

    // MARK: Deliveries

    /// Applies up to `limit` deliveries past the inbox cursor, oldest first: `prepareInbox` then `apply`.
    func processInbox(limit: Int = 256) throws -> PassResult {
        try apply(try prepareInbox(after: try appliedThrough(), limit: limit))
    }

    /// The last delivery applied: every one up to it is (`inbox_cursor`).
    func appliedThrough() throws -> Int64 {
        try database.read { try $0.inboxCursor() }
    }

    /// Reads up to `limit` deliveries after `cursor` from the inbox and decodes them (JSON parsing is most of the
    /// cost of a delivery). Takes no lock on the main store, so the caller can prepare the next batch on another
    /// thread while this one is applied.
    func prepareInbox(after cursor: Int64, limit: Int = 256) throws -> [PreparedDelivery] {
        try inbox.read { try $0.deliveries(after: cursor, limit: limit) }.map(PreparedDelivery.init)
    }

    /// Applies a prepared batch in one transaction (one commit) that also moves the cursor past it, each delivery
    /// as `applyEach` says. Deliveries another gatekeeper applied meanwhile (the cursor moved) are left out.
    func apply(_ batch: [PreparedDelivery]) throws -> PassResult {
        guard let last = batch.last else { return PassResult() }
        let config = config()
        return try database.write { transaction in
            let applied = try transaction.inboxCursor()
            let result = try applyEach(
                batch.filter { $0.id > applied }, named: "delivery", transaction,
                metadata: { ["delivery": "\($0.id)"] }, markApplied: { _, _ in true },
                apply: { try apply($0, config: config, transaction, &$1) })
            try transaction.advanceInboxCursor(to: last.id)
            return result
        }
    }

    /// Applies each input in its own savepoint, marked applied in the same savepoint: whole or not at all. An input
    /// that cannot be applied (a bug, a payload that breaks an assumption) is rolled back, logged and marked applied,
    /// so that it cannot block the others; a store that is busy or full aborts the batch, which is retried whole.
    /// `markApplied` returns false if the input already was (another gatekeeper got there first).
    private func applyEach<Input>(
        _ inputs: [Input], named name: String, _ transaction: Transaction, metadata: (Input) -> Logger.Metadata,
        markApplied: (Input, Int64) throws -> Bool, apply: (Input, inout PassResult) throws -> Void
    ) throws -> PassResult {
        var result = PassResult()
        for input in inputs {
            let now = clock()
            do {
                try transaction.savepoint {
                    guard try markApplied(input, now) else { return }
                    var unit = PassResult()
                    try apply(input, &unit)
                    result.jobsEnqueued += unit.jobsEnqueued
                    result.effectsQueued += unit.effectsQueued
                }
            } catch let error as StoreError where error.isTransient {
                throw error
            } catch {
                logger.error(
                    "\(name) could not be applied; skipped",
                    metadata: metadata(input).merging(["error": "\(error)"]) { $1 })
                _ = try markApplied(input, now)
            }
            result.processed += 1
        }
        return result
    }

    private func apply(
        _ delivery: PreparedDelivery, config: BosunConfig, _ transaction: Transaction, _ result: inout PassResult
    ) throws {
        var metadata: Logger.Metadata = ["delivery": "\(delivery.id)", "project": "\(delivery.project)"]
        guard let project = config.project(named: delivery.project) else {
            logger.warning("delivery for a project no longer configured; skipped", metadata: metadata)
            return
        }
        switch delivery.content {
        case .api(let request):
            try applyAPI(request, delivery: delivery, project: project, config: config, transaction, &result)
        case .tracker(let event):
            guard let event else { return }
            try applyTrackerEvent(
                event, project: project, config: config, deliveryID: delivery.id, transaction, &result)
        case .unreadable(let error):
            metadata["error"] = "\(error)"
            logger.warning("delivery could not be read; skipped", metadata: metadata)
        }
    }

    func applyTrackerEvent(
        _ event: TrackerEvent, project: ProjectConfig, config: BosunConfig, deliveryID: Int64?,
        _ transaction: Transaction, _ result: inout PassResult
    ) throws {
        let task = try findTask(for: event, project: project, transaction)
        switch TaskRouter(project: project).route(event, activeTask: task) {
        case .ignore(let why):
            logger.debug(
                "event ignored",
                metadata: [
                    "event": "\(event.kind.rawValue)", "reason": "\(why)", "project": "\(project.name)",
                    "delivery": "\(deliveryID.map(String.init) ?? "-")",
                ])
        case .create(let issue, let reason):
            try createTask(
                issue: issue, author: event.actor, project: project, config: config, reason: reason,
                deliveryID: deliveryID, transaction, &result)
        case .input(let input, let reason):
            guard let task else { return }
            try feed(
                input, to: task, reason: reason, project: project, config: config, deliveryID: deliveryID,
                transaction, &result)
        }
    }

    private func findTask(
        for event: TrackerEvent, project: ProjectConfig, _ transaction: Transaction
    ) throws
        -> TaskRecord?
    {
        if let issue = event.issue {
            return try transaction.activeTask(project: project.name, issue: issue.number)
        }
        let branch = event.pullRequest?.headBranch ?? event.branch
        guard let branch, !branch.isEmpty else { return nil }
        return try transaction.activeTask(project: project.name, branch: branch)
    }

    /// The local tracker and the REST API: `task.create` and `comment.create` deliveries.
    private func applyAPI(
        _ request: APIDelivery, delivery: PreparedDelivery, project: ProjectConfig, config: BosunConfig,
        _ transaction: Transaction, _ result: inout PassResult
    ) throws {
        switch delivery.event {
        case APIDelivery.createTask:
            let number: String
            if let issue = request.issue, !issue.isEmpty {
                number = issue
            } else {
                let row = try transaction.queryFirst(
                    "SELECT COALESCE(MAX(CAST(issue AS INTEGER)), 0) + 1 AS next FROM tasks WHERE project = ?",
                    .text(project.name))
                number = String(try row?.int64("next") ?? 1)
            }
            if let existing = try transaction.activeTask(project: project.name, issue: number) {
                logger.info(
                    "task request for an issue with an active task; ignored",
                    metadata: ["task": "\(existing.id)", "issue": "\(number)"])
                return
            }
            let issue = IssueInfo(
                number: number, title: request.title ?? "Issue \(number)", body: request.body ?? "",
                labels: request.labels ?? [], author: request.author ?? "api")
            try createTask(
                issue: issue, author: request.author ?? "api", project: project, config: config,
                reason: "created through the API", deliveryID: delivery.id, startAt: request.stage, transaction,
                &result)
        case APIDelivery.comment:
            guard let taskID = request.task, let task = try transaction.task(id: taskID), task.active else { return }
            let author = request.author ?? "api"
            let event = TrackerEvent(
                kind: .commentCreated, actor: author,
                issue: IssueInfo(
                    number: task.issue, title: task.title, body: task.body, labels: [], author: task.author),
                text: request.body)
            // The API token holder speaks for the project: an API comment counts as an allowed author's.
            var trusted = project
            trusted.authors.append(author)
            try applyTrackerEvent(
                event, project: trusted, config: config, deliveryID: delivery.id, transaction, &result)
        default:
            logger.warning("unknown API delivery \(delivery.event); skipped")
        }
    }

    // MARK: Tasks

    private func createTask(
        issue: IssueInfo, author: String, project: ProjectConfig, config: BosunConfig, reason: String,
        deliveryID: Int64?, startAt: String? = nil, _ transaction: Transaction, _ result: inout PassResult
    ) throws {
        let now = clock()
        let workflow = project.resolvedWorkflow
        let levels = issue.labels.filter { label in
            let parts = label.split(separator: ".")
            return parts.count == 2 && Role.levels.contains(String(parts[1]))
        }
        var task = TaskRecord(
            project: project.name, issue: issue.number, title: issue.title, body: issue.body, author: author,
            workflow: workflow.name, state: workflow.initial,
            level: levels.isEmpty ? nil : levels.joined(separator: " "),
            branch: TaskBranch.name(issue: issue.number, title: issue.title), createdAtMs: now, updatedAtMs: now,
            stateEnteredAtMs: now)
        task = try transaction.insertTask(task)
        let engine = WorkflowEngine(workflow: workflow)
        var decision = engine.begin(reason: reason)
        if let startAt, workflow.state(startAt) != nil, startAt != decision.progress.state {
            let moved = engine.apply(.move(to: startAt), to: decision.progress, artifacts: nil)
            decision.progress = moved.progress
            decision.effects =
                decision.effects.filter { if case .enqueueAgent = $0 { false } else { true } }
                + moved.effects.filter { $0 != .cancelJobs }
            decision.audit += moved.audit
        }
        try write(decision, task: task, project: project, config: config, deliveryID: deliveryID, transaction, &result)
        logger.info(
            "task created",
            metadata: [
                "task": "\(task.id)", "project": "\(project.name)", "issue": "\(issue.number)",
                "state": "\(decision.progress.state)",
            ])
    }

    private func feed(
        _ input: WorkflowInput, to task: TaskRecord, reason: String, project: ProjectConfig, config: BosunConfig,
        deliveryID: Int64?, _ transaction: Transaction, _ result: inout PassResult
    ) throws {
        let engine = WorkflowEngine(workflow: project.resolvedWorkflow)
        let artifacts = WorktreeFiles(root: worktreePath(of: task, config: config))
        var decision = engine.apply(input, to: progress(of: task), artifacts: artifacts)
        if let ignored = decision.ignored {
            logger.debug("input ignored", metadata: ["task": "\(task.id)", "reason": "\(ignored)"])
            return
        }
        if decision.audit.isEmpty {
            decision.audit.append(
                AuditEntry(from: task.state, to: decision.progress.state, event: "input", reason: reason))
        }
        try write(decision, task: task, project: project, config: config, deliveryID: deliveryID, transaction, &result)
    }

    func progress(of task: TaskRecord) -> TaskProgress {
        TaskProgress(
            state: task.state, active: task.active, waitingOn: task.waitingOn, gateIndex: task.gateIndex,
            counters: task.counters, feedback: task.feedback)
    }

    /// Where the worker keeps the task's worktree (the convention both sides follow).
    func worktreePath(of task: TaskRecord, config: BosunConfig) -> String {
        "\(config.stateDirectory)/worktrees/\(task.project)/\(TaskBranch.directory(ofBranch: task.branch))"
    }

    // MARK: Writing a decision

    /// Writes the decision: the task row, its audit rows, and each effect as a job or an outbox entry.
    func write(
        _ decision: Decision, task original: TaskRecord, project: ProjectConfig, config: BosunConfig,
        deliveryID: Int64?, _ transaction: Transaction, _ result: inout PassResult
    ) throws {
        let now = clock()
        var task = original
        let progress = decision.progress
        if task.state != progress.state { task.stateEnteredAtMs = now }
        task.state = progress.state
        task.active = progress.active
        task.waitingOn = progress.waitingOn
        task.gateIndex = progress.gateIndex
        task.counters = progress.counters
        task.feedback = progress.feedback
        task.updatedAtMs = now
        var firstAudit: Int64 = 0
        for entry in decision.audit {
            let id = try transaction.insertTaskEvent(
                TaskEventRecord(
                    taskID: task.id, fromState: entry.from, toState: entry.to, event: entry.event, reason: entry.reason,
                    deliveryID: deliveryID, atMs: now))
            if firstAudit == 0 { firstAudit = id }
        }
        let workflow = project.resolvedWorkflow
        var effectIndex = 0
        func effectKey() -> String {
            effectIndex += 1
            return "task:\(task.id):\(firstAudit):\(effectIndex)"
        }
        func queue(_ effect: OutboxEffect, kind: String? = nil) throws {
            let entry = OutboxEntry(
                taskID: task.id, project: project.name,
                kind: kind ?? (project.tracker == .local ? "local" : "forge"),
                effect: try JSONColumn.encode(effect), idempotencyKey: effectKey(), nowMs: now)
            if try transaction.enqueueEffect(entry) != nil { result.effectsQueued += 1 }
        }
        for effect in decision.effects {
            switch effect {
            case .enqueueAgent(let state, let role, let visit):
                let job = try agentJob(
                    task: task, state: state, role: role, visit: visit, project: project, config: config, now: now)
                if try transaction.enqueueJob(job, nowMs: now) != nil { result.jobsEnqueued += 1 }
            case .enqueueGate(let state, let index, let argv, let timeout, let visit):
                let job = try gateJob(
                    task: task, state: state, index: index, argv: argv, timeout: timeout, visit: visit,
                    project: project, now: now)
                if try transaction.enqueueJob(job, nowMs: now) != nil { result.jobsEnqueued += 1 }
            case .setLabel(let label, let remove):
                let color = workflow.state(withLabel: label)?.color
                try queue(
                    OutboxEffect(action: .setLabel, issue: task.issue, label: label, color: color, remove: remove))
            case .comment(let text):
                try queue(OutboxEffect(action: .comment, issue: task.issue, text: text + "\n\n" + BosunMarker.comment))
            case .openPullRequest:
                if project.tracker == .local {
                    task.pullRequestURL = "branch:\(task.branch)"
                } else {
                    try queue(
                        OutboxEffect(
                            action: .openPullRequest, issue: task.issue,
                            text:
                                "Closes #\(task.issue)\n\nOpened by Bosun for task \(task.id).\n\n\(BosunMarker.comment)",
                            title: task.title, head: task.branch, base: project.repository.defaultBranch))
                }
            case .mergePullRequest:
                if project.tracker == .local {
                    let spec = JobSpec(
                        kind: "merge", project: project.name, branch: task.branch,
                        baseBranch: project.repository.defaultBranch, visit: progress.visits(progress.state))
                    let job = NewJob(
                        taskID: task.id, project: project.name, kind: "merge", role: "merge", stage: progress.state,
                        spec: try JSONColumn.encode(spec), priority: 100, availableAtMs: now,
                        uniqueKey: "task:\(task.id):merge:\(firstAudit)")
                    if try transaction.enqueueJob(job, nowMs: now) != nil { result.jobsEnqueued += 1 }
                } else {
                    try queue(OutboxEffect(action: .mergePullRequest, issue: task.issue))
                }
            case .closeIssue:
                try queue(OutboxEffect(action: .closeIssue, issue: task.issue))
            case .notify(let text):
                let message = "[\(project.name)#\(task.issue)] \(task.title): \(text)"
                if config.notify.isEmpty {
                    try queue(OutboxEffect(action: .notify, issue: task.issue, text: message), kind: "local")
                }
                for index in config.notify.indices {
                    try queue(
                        OutboxEffect(action: .notify, issue: task.issue, text: message, notifier: index), kind: "notify"
                    )
                }
            case .cancelJobs:
                try transaction.cancelQueuedJobs(taskID: task.id, nowMs: now)
            }
        }
        try transaction.updateTask(task)
    }

    /// The job that runs `role`'s agent for a visit of `state`; `keySuffix` makes a reconciled job's key new.
    private func agentJob(
        task: TaskRecord, state: String, role: String, visit: Int, project: ProjectConfig, config: BosunConfig,
        now: Int64, keySuffix: String = ""
    ) throws -> NewJob {
        let spec = agentSpec(task: task, state: state, role: role, visit: visit, project: project, config: config)
        return NewJob(
            taskID: task.id, project: project.name, kind: "agent", role: role, stage: state,
            spec: try JSONColumn.encode(spec), priority: project.resolvedWorkflow.state(state)?.priority ?? 0,
            availableAtMs: now, uniqueKey: "task:\(task.id):\(state):\(visit):agent\(keySuffix)")
    }

    /// The job that runs command gate `index` of `state` (the project's test command when the gate says so).
    private func gateJob(
        task: TaskRecord, state: String, index: Int, argv: [String], timeout: Int, visit: Int,
        project: ProjectConfig, now: Int64, keySuffix: String = ""
    ) throws -> NewJob {
        let command = argv == Workflow.projectTestCommand ? (project.testCommand ?? []) : argv
        let spec = JobSpec(
            kind: "gate", project: project.name, branch: task.branch, baseBranch: project.repository.defaultBranch,
            command: command, timeoutSeconds: timeout, gateIndex: index, visit: visit)
        return NewJob(
            taskID: task.id, project: project.name, kind: "gate", role: "gate", stage: state,
            spec: try JSONColumn.encode(spec), priority: (project.resolvedWorkflow.state(state)?.priority ?? 0) + 1,
            availableAtMs: now, uniqueKey: "task:\(task.id):\(state):\(visit):gate:\(index)\(keySuffix)")
    }

    private func agentSpec(
        task: TaskRecord, state: String, role: String, visit: Int, project: ProjectConfig, config: BosunConfig
    ) -> JobSpec {
        let workflow = project.resolvedWorkflow
        let labels = (task.level ?? "").split(separator: " ").map(String.init)
        let level = config.level(forRole: role, labels: labels, bodyLength: task.body.count)
        let agent = config.agent(forRole: role, level: level)?.name
        var artifacts: [String] = []
        for earlier in workflow.states {
            if earlier.name == state { break }
            guard task.counters["visits.\(earlier.name)"] != nil else { continue }
            for gate in earlier.gates {
                switch gate {
                case .files(let globs): artifacts += globs
                case .verdict(let file): artifacts.append(file)
                default: break
                }
            }
        }
        let brief = Brief(
            stage: state, instructions: workflow.state(state)?.instructions ?? "", issueNumber: task.issue,
            issueTitle: task.title, issueBody: task.body, feedback: task.feedback, artifacts: artifacts)
        return JobSpec(
            kind: "agent", project: project.name, branch: task.branch, baseBranch: project.repository.defaultBranch,
            role: role, level: level, agent: agent, brief: brief, visit: visit)
    }

    // MARK: Job outcomes

    /// Applies finished jobs' outcomes, a batch per transaction, each in its own savepoint (as deliveries are).
    func applyOutcomes(limit: Int = 256) throws -> PassResult {
        let config = config()
        return try database.write { transaction in
            try applyEach(
                try transaction.unappliedOutcomes(limit: limit), named: "job outcome", transaction,
                metadata: { ["job": "\($0.id)"] },
                markApplied: { job, now in
                    try transaction.markOutcomeApplied(jobID: job.id, atMs: now)
                    return true
                },
                apply: { try applyOutcome(of: $0, config: config, transaction, &$1) })
        }
    }

    private func applyOutcome(
        of job: JobRecord, config: BosunConfig, _ transaction: Transaction, _ result: inout PassResult
    ) throws {
        guard let task = try transaction.task(id: job.taskID), let project = config.project(named: task.project) else {
            return
        }
        let spec = try? JSONColumn.decode(job.spec, as: JobSpec.self)
        let outcome =
            (try? JSONColumn.decode(job.outcome ?? "", as: JobOutcome.self))
            ?? JobOutcome(passed: false, classification: "error", reason: job.lastError ?? "the job failed")
        if job.kind == "merge" {
            let text =
                outcome.passed
                ? "Merged \(task.branch) into \(project.repository.defaultBranch)."
                : "Could not merge \(task.branch): \(outcome.reason)"
            let decision = Decision(progress: progress(of: task))
            var withAudit = decision
            withAudit.audit = [
                AuditEntry(
                    from: task.state, to: task.state, event: outcome.passed ? "merged" : "merge_failed", reason: text)
            ]
            withAudit.effects = outcome.passed ? [.comment(text)] : [.comment(text), .notify(text)]
            try write(withAudit, task: task, project: project, config: config, deliveryID: nil, transaction, &result)
            return
        }
        // An outcome from an earlier visit of the state (the task moved on, or was moved by hand) is stale.
        guard job.stage == task.state, spec?.visit == nil || spec?.visit == progress(of: task).visits(task.state)
        else {
            logger.info("stale job outcome ignored", metadata: ["job": "\(job.id)", "task": "\(task.id)"])
            return
        }
        if let url = outcome.pullRequestURL, task.pullRequestURL == nil {
            var updated = task
            updated.pullRequestURL = url
            try transaction.updateTask(updated)
        }
        let input: WorkflowInput
        switch job.kind {
        case "gate":
            input = .gateFinished(
                gateIndex: spec?.gateIndex ?? task.gateIndex, passed: outcome.passed,
                detail: outcome.outputTail ?? outcome.reason)
        default:
            input = outcome.passed ? .agentSucceeded : .agentFailed(reason: outcome.reason)
        }
        let reason = "\(job.kind) job \(job.id) \(outcome.passed ? "passed" : "failed"): \(outcome.reason)"
        let current = try transaction.task(id: task.id) ?? task
        try feed(
            input, to: current, reason: reason, project: project, config: config, deliveryID: nil, transaction,
            &result)
    }

    // MARK: Reconciliation

    /// Tasks waiting on an agent or a gate with no job queued or running, and no outcome left to apply, get their
    /// job back. Run at start; idempotent.
    func reconcile() throws -> PassResult {
        var result = PassResult()
        let config = config()
        try database.write { transaction in
            for task in try transaction.tasks(activeOnly: true, limit: 100_000) {
                guard task.waitingOn == "agent" || task.waitingOn == "gate",
                    let project = config.project(named: task.project),
                    let state = project.resolvedWorkflow.state(task.state)
                else { continue }
                let jobs = try transaction.jobs(taskID: task.id)
                // Nothing queued or running (those have no applied outcome), and no finished outcome still to apply.
                guard jobs.allSatisfy({ $0.outcomeAppliedAtMs != nil || $0.state == "cancelled" }) else { continue }
                let visit = progress(of: task).visits(task.state)
                let now = clock()
                let suffix = ":r\(jobs.count)"
                let job: NewJob
                if task.waitingOn == "agent", let role = state.role {
                    job = try agentJob(
                        task: task, state: state.name, role: role, visit: visit, project: project, config: config,
                        now: now, keySuffix: suffix)
                } else if task.gateIndex < state.gates.count,
                    case .command(let argv, let timeout) = state.gates[task.gateIndex]
                {
                    job = try gateJob(
                        task: task, state: state.name, index: task.gateIndex, argv: argv, timeout: timeout,
                        visit: visit, project: project, now: now, keySuffix: suffix)
                } else {
                    continue
                }
                if try transaction.enqueueJob(job, nowMs: now) != nil {
                    result.jobsEnqueued += 1
                    try transaction.insertTaskEvent(
                        TaskEventRecord(
                            taskID: task.id, fromState: task.state, toState: task.state, event: "reconciled",
                            reason: "no job was queued or running for this state; enqueued one", atMs: now))
                }
            }
        }
        return result
    }
}

/// A delivery read from the inbox and decoded, ready to apply; its body is not kept.
struct PreparedDelivery: Sendable {
    enum Content: Sendable {
        /// A forge's delivery as a domain event; nil for one Bosun does not act on (a ping, an unknown event).
        case tracker(TrackerEvent?)
        /// A REST API request (`source = api`).
        case api(APIDelivery)
        /// A body that cannot be read, and why.
        case unreadable(String)
    }

    var id: Int64
    var project: String
    var event: String
    var content: Content

    init(_ delivery: StoredDelivery) {
        id = delivery.id
        project = delivery.project
        event = delivery.event
        if delivery.source == "api" {
            do {
                content = .api(try JSONDecoder().decode(APIDelivery.self, from: Data(delivery.body)))
            } catch {
                content = .unreadable("API delivery is not readable: \(error)")
            }
            return
        }
        do {
            content = .tracker(
                try DeliveryNormalizer.normalize(
                    source: delivery.source, event: delivery.event, headersJSON: delivery.headers, body: delivery.body))
        } catch {
            content = .unreadable("\(error)")
        }
    }
}

/// The body of a delivery the REST API stores for the gatekeeper (`source = api`).
struct APIDelivery: Codable, Equatable, Sendable {
    static let createTask = "task.create"
    static let comment = "comment.create"

    var issue: String?
    var title: String?
    var body: String?
    var author: String?
    var labels: [String]?
    var stage: String?
    /// `comment.create`: the task commented on.
    var task: Int64?
}
