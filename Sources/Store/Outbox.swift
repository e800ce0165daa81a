/// A side effect on the outside world, waiting to be sent (or sent).
public struct OutboxEntry: Sendable, Equatable, Codable {
    public var id: Int64
    public var taskID: Int64?
    public var project: String
    /// `forge` (a tracker or forge API call), `local` (the local tracker), `notify` (a notification).
    public var kind: String
    /// The effect as JSON.
    public var effect: String
    /// Stable across retries and redone deliveries: the same key is stored once and sent at most once.
    public var idempotencyKey: String
    /// `pending`, `done`, `failed`.
    public var state: String
    public var attempts: Int
    public var nextTryAtMs: Int64
    public var lastError: String?
    /// What the remote answered that matters later (a PR's number and address), as JSON.
    public var result: String?
    public var createdAtMs: Int64
    public var doneAtMs: Int64?

    public init(
        taskID: Int64?, project: String, kind: String, effect: String, idempotencyKey: String, nowMs: Int64
    ) {
        self.id = 0
        self.taskID = taskID
        self.project = project
        self.kind = kind
        self.effect = effect
        self.idempotencyKey = idempotencyKey
        self.state = "pending"
        self.attempts = 0
        self.nextTryAtMs = nowMs
        self.createdAtMs = nowMs
    }

    init(row: Row) throws(StoreError) {
        id = try row.required("id", row.int64)
        taskID = try row.int64("task_id")
        project = try row.required("project", row.string)
        kind = try row.required("kind", row.string)
        effect = try row.required("effect", row.string)
        idempotencyKey = try row.required("idempotency_key", row.string)
        state = try row.required("state", row.string)
        attempts = try row.int("attempts") ?? 0
        nextTryAtMs = try row.required("next_try_at_ms", row.int64)
        lastError = try row.string("last_error")
        result = try row.string("result")
        createdAtMs = try row.required("created_at_ms", row.int64)
        doneAtMs = try row.int64("done_at_ms")
    }
}

extension Transaction {
    /// Stores an effect unless one with the same idempotency key exists. Returns the id, or nil for a duplicate.
    @discardableResult
    public func enqueueEffect(_ entry: OutboxEntry) throws(StoreError) -> Int64? {
        let inserted = try execute(
            """
            INSERT INTO outbox (task_id, project, kind, effect, idempotency_key, state, next_try_at_ms, created_at_ms)
            VALUES (?, ?, ?, ?, ?, 'pending', ?, ?)
            ON CONFLICT (idempotency_key) DO NOTHING
            """, .integer(entry.taskID), .text(entry.project), .text(entry.kind), .text(entry.effect),
            .text(entry.idempotencyKey), .integer(entry.nextTryAtMs), .integer(entry.createdAtMs))
        return inserted == 0 ? nil : lastInsertRowID
    }

    /// Pending effects due at `nowMs`, oldest first.
    public func dueEffects(nowMs: Int64, limit: Int) throws(StoreError) -> [OutboxEntry] {
        try query(
            "SELECT * FROM outbox WHERE state = 'pending' AND next_try_at_ms <= ? ORDER BY id LIMIT ?",
            .integer(nowMs), .integer(limit)
        ).map { row throws(StoreError) in try OutboxEntry(row: row) }
    }

    /// The earliest time a pending effect is due.
    public func nextEffectDueAtMs() throws(StoreError) -> Int64? {
        try queryFirst("SELECT MIN(next_try_at_ms) AS t FROM outbox WHERE state = 'pending'")?.int64("t")
    }

    /// Records one attempt: `done` (with the remote's result), `failed` (permanent), or still `pending` until
    /// `nextTryAtMs`.
    public func recordEffectAttempt(
        id: Int64, state: String, nextTryAtMs: Int64, error: String?, result: String?, nowMs: Int64
    ) throws(StoreError) {
        _ = try execute(
            """
            UPDATE outbox SET state = ?, attempts = attempts + 1, next_try_at_ms = ?, last_error = ?,
                              result = COALESCE(?, result), done_at_ms = CASE WHEN ? = 'pending' THEN NULL ELSE ? END
            WHERE id = ?
            """, .text(state), .integer(nextTryAtMs), .text(error), .text(result), .text(state), .integer(nowMs),
            .integer(id))
    }

    /// A task's effects, oldest first.
    public func effects(taskID: Int64) throws(StoreError) -> [OutboxEntry] {
        try query("SELECT * FROM outbox WHERE task_id = ? ORDER BY id", .integer(taskID)).map {
            row throws(StoreError) in try OutboxEntry(row: row)
        }
    }

    /// Effects by state.
    public func outboxCountsByState() throws(StoreError) -> [String: Int] {
        var counts: [String: Int] = [:]
        for row in try query("SELECT state, COUNT(*) AS n FROM outbox GROUP BY state") {
            counts[try row.required("state", row.string)] = try row.int("n") ?? 0
        }
        return counts
    }
}
