/// A task: one tracker issue in one project, living through a workflow.
public struct TaskRecord: Sendable, Equatable, Codable {
    public var id: Int64
    public var project: String
    /// The issue's number (or the local tracker's id) as text.
    public var issue: String
    public var title: String
    public var body: String
    public var author: String
    public var workflow: String
    public var state: String
    /// True until the task reaches a terminal state; one active task per (project, issue).
    public var active: Bool
    /// What the task waits for in its state: `agent`, `gate`, `approval`, `ci`, `pr_review`, or nil.
    public var waitingOn: String?
    /// How many of the state's gates have passed.
    public var gateIndex: Int
    public var level: String?
    public var branch: String
    /// Counts of bounded transitions taken, as a JSON object (`{"review:changes_requested": 2}`).
    public var counters: [String: Int]
    /// What the next agent should know: reviewer feedback, a failed gate's output, a human's answer.
    public var feedback: String?
    public var pullRequestNumber: String?
    public var pullRequestURL: String?
    public var createdAtMs: Int64
    public var updatedAtMs: Int64
    public var stateEnteredAtMs: Int64

    public init(
        id: Int64 = 0, project: String, issue: String, title: String, body: String, author: String,
        workflow: String, state: String, active: Bool = true, waitingOn: String? = nil, gateIndex: Int = 0,
        level: String? = nil, branch: String, counters: [String: Int] = [:], feedback: String? = nil,
        pullRequestNumber: String? = nil, pullRequestURL: String? = nil, createdAtMs: Int64, updatedAtMs: Int64,
        stateEnteredAtMs: Int64
    ) {
        self.id = id
        self.project = project
        self.issue = issue
        self.title = title
        self.body = body
        self.author = author
        self.workflow = workflow
        self.state = state
        self.active = active
        self.waitingOn = waitingOn
        self.gateIndex = gateIndex
        self.level = level
        self.branch = branch
        self.counters = counters
        self.feedback = feedback
        self.pullRequestNumber = pullRequestNumber
        self.pullRequestURL = pullRequestURL
        self.createdAtMs = createdAtMs
        self.updatedAtMs = updatedAtMs
        self.stateEnteredAtMs = stateEnteredAtMs
    }

    init(row: Row) throws(StoreError) {
        let countersText = try row.string("counters") ?? "{}"
        self.init(
            id: try row.required("id", row.int64), project: try row.required("project", row.string),
            issue: try row.required("issue", row.string), title: try row.required("title", row.string),
            body: try row.required("body", row.string), author: try row.required("author", row.string),
            workflow: try row.required("workflow", row.string), state: try row.required("state", row.string),
            active: try row.required("active", row.int64) != 0, waitingOn: try row.string("waiting_on"),
            gateIndex: try row.int("gate_index") ?? 0, level: try row.string("level"),
            branch: try row.required("branch", row.string), counters: try JSONColumn.decode(countersText),
            feedback: try row.string("feedback"), pullRequestNumber: try row.string("pr_number"),
            pullRequestURL: try row.string("pr_url"), createdAtMs: try row.required("created_at_ms", row.int64),
            updatedAtMs: try row.required("updated_at_ms", row.int64),
            stateEnteredAtMs: try row.required("state_entered_at_ms", row.int64))
    }
}

/// One row of a task's audit trail: a transition (or a recorded decision that kept the state).
public struct TaskEventRecord: Sendable, Equatable, Codable {
    public var id: Int64
    public var taskID: Int64
    public var fromState: String?
    public var toState: String
    public var event: String
    public var reason: String
    public var deliveryID: Int64?
    public var atMs: Int64

    public init(
        id: Int64 = 0, taskID: Int64, fromState: String?, toState: String, event: String, reason: String,
        deliveryID: Int64? = nil, atMs: Int64
    ) {
        self.id = id
        self.taskID = taskID
        self.fromState = fromState
        self.toState = toState
        self.event = event
        self.reason = reason
        self.deliveryID = deliveryID
        self.atMs = atMs
    }

    init(row: Row) throws(StoreError) {
        self.init(
            id: try row.required("id", row.int64), taskID: try row.required("task_id", row.int64),
            fromState: try row.string("from_state"), toState: try row.required("to_state", row.string),
            event: try row.required("event", row.string), reason: try row.required("reason", row.string),
            deliveryID: try row.int64("delivery_id"), atMs: try row.required("at_ms", row.int64))
    }
}

extension Transaction {
    /// Inserts a new active task and returns it with its id. Throws `constraint` when the issue already has an
    /// active task (the unique index `tasks_active_issue`).
    public func insertTask(_ task: TaskRecord) throws(StoreError) -> TaskRecord {
        _ = try execute(
            """
            INSERT INTO tasks (project, issue, title, body, author, workflow, state, active, waiting_on, gate_index,
                               level, branch, counters, feedback, pr_number, pr_url, created_at_ms, updated_at_ms,
                               state_entered_at_ms)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """,
            .text(task.project), .text(task.issue), .text(task.title), .text(task.body), .text(task.author),
            .text(task.workflow), .text(task.state), .bool(task.active), .text(task.waitingOn),
            .integer(task.gateIndex), .text(task.level), .text(task.branch),
            .text(try JSONColumn.encode(task.counters)),
            .text(task.feedback), .text(task.pullRequestNumber), .text(task.pullRequestURL),
            .integer(task.createdAtMs), .integer(task.updatedAtMs), .integer(task.stateEnteredAtMs))
        var stored = task
        stored.id = lastInsertRowID
        return stored
    }

    /// Writes every mutable field of `task` back.
    public func updateTask(_ task: TaskRecord) throws(StoreError) {
        _ = try execute(
            """
            UPDATE tasks SET title = ?, body = ?, state = ?, active = ?, waiting_on = ?, gate_index = ?, level = ?,
                             branch = ?, counters = ?, feedback = ?, pr_number = ?, pr_url = ?, updated_at_ms = ?,
                             state_entered_at_ms = ?
            WHERE id = ?
            """,
            .text(task.title), .text(task.body), .text(task.state), .bool(task.active), .text(task.waitingOn),
            .integer(task.gateIndex), .text(task.level), .text(task.branch),
            .text(try JSONColumn.encode(task.counters)), .text(task.feedback), .text(task.pullRequestNumber),
            .text(task.pullRequestURL), .integer(task.updatedAtMs), .integer(task.stateEnteredAtMs),
            .integer(task.id))
    }

    /// The task with this id.
    public func task(id: Int64) throws(StoreError) -> TaskRecord? {
        try queryFirst("SELECT * FROM tasks WHERE id = ?", .integer(id)).map { row throws(StoreError) in
            try TaskRecord(row: row)
        }
    }

    /// The active task for an issue, if there is one.
    public func activeTask(project: String, issue: String) throws(StoreError) -> TaskRecord? {
        try queryFirst(
            "SELECT * FROM tasks WHERE project = ? AND issue = ? AND active = 1", .text(project), .text(issue)
        )
        .map { row throws(StoreError) in try TaskRecord(row: row) }
    }

    /// The active task working on a branch, if there is one.
    public func activeTask(project: String, branch: String) throws(StoreError) -> TaskRecord? {
        try queryFirst(
            "SELECT * FROM tasks WHERE project = ? AND branch = ? AND active = 1 LIMIT 1", .text(project), .text(branch)
        ).map { row throws(StoreError) in try TaskRecord(row: row) }
    }

    /// The most recent task for an issue (active or not).
    public func latestTask(project: String, issue: String) throws(StoreError) -> TaskRecord? {
        try queryFirst(
            "SELECT * FROM tasks WHERE project = ? AND issue = ? ORDER BY id DESC LIMIT 1", .text(project),
            .text(issue)
        ).map { row throws(StoreError) in try TaskRecord(row: row) }
    }

    /// Tasks, newest first.
    public func tasks(
        project: String? = nil, activeOnly: Bool = false, limit: Int = 200
    ) throws(StoreError)
        -> [TaskRecord]
    {
        try query(
            """
            SELECT * FROM tasks WHERE (?1 IS NULL OR project = ?1) AND (?2 = 0 OR active = 1)
            ORDER BY id DESC LIMIT ?3
            """, .text(project), .bool(activeOnly), .integer(limit)
        ).map { row throws(StoreError) in try TaskRecord(row: row) }
    }

    /// Tasks that are active and in one of `states`.
    public func activeTasks(inStates states: Set<String>) throws(StoreError) -> [TaskRecord] {
        try query("SELECT * FROM tasks WHERE active = 1 ORDER BY id").map { row throws(StoreError) in
            try TaskRecord(row: row)
        }.filter { states.contains($0.state) }
    }

    /// Appends to a task's audit trail.
    @discardableResult
    public func insertTaskEvent(_ event: TaskEventRecord) throws(StoreError) -> Int64 {
        _ = try execute(
            """
            INSERT INTO task_events (task_id, from_state, to_state, event, reason, delivery_id, at_ms)
            VALUES (?, ?, ?, ?, ?, ?, ?)
            """,
            .integer(event.taskID), .text(event.fromState), .text(event.toState), .text(event.event),
            .text(event.reason), .integer(event.deliveryID), .integer(event.atMs))
        return lastInsertRowID
    }

    /// A task's audit trail, oldest first.
    public func taskEvents(taskID: Int64) throws(StoreError) -> [TaskEventRecord] {
        try query("SELECT * FROM task_events WHERE task_id = ? ORDER BY id", .integer(taskID)).map {
            row throws(StoreError) in try TaskEventRecord(row: row)
        }
    }

    /// Finished tasks last changed before `beforeMs`, oldest first.
    public func finishedTasks(before beforeMs: Int64, limit: Int) throws(StoreError) -> [TaskRecord] {
        try query(
            "SELECT * FROM tasks WHERE active = 0 AND updated_at_ms < ? ORDER BY updated_at_ms LIMIT ?",
            .integer(beforeMs), .integer(limit)
        ).map { row throws(StoreError) in try TaskRecord(row: row) }
    }

    /// Counts of tasks by state (active and finished).
    public func taskCountsByState() throws(StoreError) -> [String: Int] {
        var counts: [String: Int] = [:]
        for row in try query("SELECT state, COUNT(*) AS n FROM tasks GROUP BY state") {
            counts[try row.required("state", row.string)] = try row.int("n") ?? 0
        }
        return counts
    }
}
