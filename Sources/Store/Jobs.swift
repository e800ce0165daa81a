/// A job on its way into the queue.
public struct NewJob: Sendable, Equatable {
    public var taskID: Int64
    public var project: String
    /// `agent`, `gate` or `merge`.
    public var kind: String
    public var role: String
    /// The workflow state the job belongs to.
    public var stage: String
    /// What to run, as JSON (`Workflow.JobSpec`).
    public var spec: String
    public var priority: Int
    public var availableAtMs: Int64
    /// Enqueuing the same key twice stores one job.
    public var uniqueKey: String

    public init(
        taskID: Int64, project: String, kind: String, role: String, stage: String, spec: String, priority: Int = 0,
        availableAtMs: Int64, uniqueKey: String
    ) {
        self.taskID = taskID
        self.project = project
        self.kind = kind
        self.role = role
        self.stage = stage
        self.spec = spec
        self.priority = priority
        self.availableAtMs = availableAtMs
        self.uniqueKey = uniqueKey
    }
}

/// A job as stored.
public struct JobRecord: Sendable, Equatable, Codable {
    public var id: Int64
    public var taskID: Int64
    public var project: String
    public var kind: String
    public var role: String
    public var stage: String
    public var spec: String
    /// `queued`, `running`, `succeeded`, `failed`, `cancelled`.
    public var state: String
    public var priority: Int
    /// How many times the job was claimed; the fence: only the holder of the current attempt may touch it.
    public var attempt: Int
    /// Permanent failures so far (they spend `retry.max_attempts`).
    public var failures: Int
    /// Transient failures so far (they spend `retry.transient_max_attempts`).
    public var transientFailures: Int
    public var availableAtMs: Int64
    public var leaseOwner: String?
    public var leaseExpiresAtMs: Int64?
    public var uniqueKey: String
    /// The finished job's outcome as JSON (`Workflow.JobOutcome`).
    public var outcome: String?
    public var outcomeAppliedAtMs: Int64?
    public var lastError: String?
    public var createdAtMs: Int64
    public var finishedAtMs: Int64?

    init(row: Row) throws(StoreError) {
        id = try row.required("id", row.int64)
        taskID = try row.required("task_id", row.int64)
        project = try row.required("project", row.string)
        kind = try row.required("kind", row.string)
        role = try row.required("role", row.string)
        stage = try row.required("stage", row.string)
        spec = try row.required("spec", row.string)
        state = try row.required("state", row.string)
        priority = try row.int("priority") ?? 0
        attempt = try row.int("attempt") ?? 0
        failures = try row.int("failures") ?? 0
        transientFailures = try row.int("transient_failures") ?? 0
        availableAtMs = try row.required("available_at_ms", row.int64)
        leaseOwner = try row.string("lease_owner")
        leaseExpiresAtMs = try row.int64("lease_expires_at_ms")
        uniqueKey = try row.required("unique_key", row.string)
        outcome = try row.string("outcome")
        outcomeAppliedAtMs = try row.int64("outcome_applied_at_ms")
        lastError = try row.string("last_error")
        createdAtMs = try row.required("created_at_ms", row.int64)
        finishedAtMs = try row.int64("finished_at_ms")
    }
}

/// Which jobs a worker may claim now: its free capacity and the configured limits.
public struct ClaimLimits: Sendable, Equatable {
    /// Jobs running at once across the queue.
    public var maxConcurrency: Int
    /// Per-project limits; a project not listed is limited by `maxConcurrency` only.
    public var perProject: [String: Int]
    /// Per-role limits.
    public var perRole: [String: Int]
    /// The job kinds this claim may take (e.g. not `agent` while the breaker is open or preflight fails).
    public var kinds: Set<String>

    public init(
        maxConcurrency: Int, perProject: [String: Int] = [:], perRole: [String: Int] = [:],
        kinds: Set<String> = ["agent", "gate", "merge"]
    ) {
        self.maxConcurrency = maxConcurrency
        self.perProject = perProject
        self.perRole = perRole
        self.kinds = kinds
    }
}

/// A worker's hold on a job: the attempt number is the fence.
public struct JobLease: Sendable, Equatable, Hashable, Codable {
    public var jobID: Int64
    public var attempt: Int
    public var owner: String

    public init(jobID: Int64, attempt: Int, owner: String) {
        self.jobID = jobID
        self.attempt = attempt
        self.owner = owner
    }
}

extension Transaction {
    /// Enqueues `job` unless a job with the same unique key exists. Returns the new id, or nil for a duplicate.
    @discardableResult
    public func enqueueJob(_ job: NewJob, nowMs: Int64) throws(StoreError) -> Int64? {
        let inserted = try execute(
            """
            INSERT INTO jobs (task_id, project, kind, role, stage, spec, state, priority, available_at_ms, unique_key,
                              created_at_ms)
            VALUES (?, ?, ?, ?, ?, ?, 'queued', ?, ?, ?, ?)
            ON CONFLICT (unique_key) DO NOTHING
            """,
            .integer(job.taskID), .text(job.project), .text(job.kind), .text(job.role), .text(job.stage),
            .text(job.spec), .integer(job.priority), .integer(job.availableAtMs), .text(job.uniqueKey),
            .integer(nowMs))
        return inserted == 0 ? nil : lastInsertRowID
    }

    /// The job with this id.
    public func job(id: Int64) throws(StoreError) -> JobRecord? {
        try queryFirst("SELECT * FROM jobs WHERE id = ?", .integer(id)).map { row throws(StoreError) in
            try JobRecord(row: row)
        }
    }

    /// A task's jobs, oldest first.
    public func jobs(taskID: Int64) throws(StoreError) -> [JobRecord] {
        try query("SELECT * FROM jobs WHERE task_id = ? ORDER BY id", .integer(taskID)).map {
            row throws(StoreError) in try JobRecord(row: row)
        }
    }

    /// Finished jobs whose outcome the gatekeeper has not applied yet, in finishing order.
    public func unappliedOutcomes(limit: Int) throws(StoreError) -> [JobRecord] {
        try query(
            """
            SELECT * FROM jobs WHERE outcome_applied_at_ms IS NULL AND state IN ('succeeded', 'failed')
            ORDER BY finished_at_ms, id LIMIT ?
            """, .integer(limit)
        ).map { row throws(StoreError) in try JobRecord(row: row) }
    }

    /// Records that the gatekeeper applied a finished job's outcome.
    public func markOutcomeApplied(jobID: Int64, atMs: Int64) throws(StoreError) {
        _ = try execute("UPDATE jobs SET outcome_applied_at_ms = ? WHERE id = ?", .integer(atMs), .integer(jobID))
    }

    /// Cancels a task's queued jobs (its running ones finish and are then ignored).
    @discardableResult
    public func cancelQueuedJobs(taskID: Int64, nowMs: Int64) throws(StoreError) -> Int {
        try execute(
            """
            UPDATE jobs SET state = 'cancelled', finished_at_ms = ?, outcome_applied_at_ms = ?
            WHERE task_id = ? AND state = 'queued'
            """, .integer(nowMs), .integer(nowMs), .integer(taskID))
    }

    /// Jobs by state.
    public func jobCountsByState() throws(StoreError) -> [String: Int] {
        var counts: [String: Int] = [:]
        for row in try query("SELECT state, COUNT(*) AS n FROM jobs GROUP BY state") {
            counts[try row.required("state", row.string)] = try row.int("n") ?? 0
        }
        return counts
    }

    /// Queued jobs waiting for their backoff to pass (retrying) at `nowMs`.
    public func retryingJobCount(nowMs: Int64) throws(StoreError) -> Int {
        try queryFirst(
            "SELECT COUNT(*) AS n FROM jobs WHERE state = 'queued' AND available_at_ms > ? AND attempt > 0",
            .integer(nowMs))?.int("n") ?? 0
    }

    /// The earliest time after `nowMs` at which a queued job becomes claimable: the end of the nearest backoff.
    /// Jobs already due are not counted; what holds them is not time.
    public func nextAvailableAtMs(after nowMs: Int64) throws(StoreError) -> Int64? {
        try queryFirst(
            "SELECT MIN(available_at_ms) AS t FROM jobs WHERE state = 'queued' AND available_at_ms > ?", .integer(nowMs)
        )?.int64("t")
    }

    /// Running jobs whose lease expired before `nowMs`.
    public func expiredLeases(nowMs: Int64) throws(StoreError) -> [JobRecord] {
        try query("SELECT * FROM jobs WHERE state = 'running' AND lease_expires_at_ms < ?", .integer(nowMs)).map {
            row throws(StoreError) in try JobRecord(row: row)
        }
    }
}

extension Database {
    /// Claims the most urgent claimable job within `limits`, in one statement: the job becomes `running` under a
    /// lease held by `owner` until `nowMs + leaseMs`, and its attempt number goes up by one (the new fence).
    public func claimJob(owner: String, leaseMs: Int64, nowMs: Int64, limits: ClaimLimits) throws -> JobRecord? {
        guard limits.maxConcurrency > 0, !limits.kinds.isEmpty else { return nil }
        let perProject = try JSONColumn.encode(limits.perProject)
        let perRole = try JSONColumn.encode(limits.perRole)
        let kinds = "," + limits.kinds.sorted().joined(separator: ",") + ","
        return try write { transaction in
            try transaction.query(
                """
                UPDATE jobs SET state = 'running', attempt = attempt + 1, lease_owner = ?1, lease_expires_at_ms = ?2
                WHERE id = (
                    SELECT j.id FROM jobs j
                    WHERE j.state = 'queued' AND j.available_at_ms <= ?3
                      AND instr(?7, ',' || j.kind || ',') > 0
                      AND (SELECT COUNT(*) FROM jobs r WHERE r.state = 'running') < ?4
                      AND (SELECT COUNT(*) FROM jobs r WHERE r.state = 'running' AND r.project = j.project)
                          < COALESCE(json_extract(?5, '$."' || j.project || '"'), ?4)
                      AND (SELECT COUNT(*) FROM jobs r WHERE r.state = 'running' AND r.role = j.role)
                          < COALESCE(json_extract(?6, '$."' || j.role || '"'), ?4)
                    ORDER BY j.priority DESC, j.available_at_ms, j.id
                    LIMIT 1)
                RETURNING *
                """,
                .text(owner), .integer(nowMs + leaseMs), .integer(nowMs), .integer(limits.maxConcurrency),
                .text(perProject), .text(perRole), .text(kinds)
            ).first.map { row throws(StoreError) in try JobRecord(row: row) }
        }
    }

    /// Extends the leases this worker holds. Returns the leases that were lost (taken over or finished).
    public func heartbeat(_ leases: [JobLease], until expiresAtMs: Int64) throws -> [JobLease] {
        guard !leases.isEmpty else { return [] }
        return try write { transaction in
            var lost: [JobLease] = []
            for lease in leases {
                let changed = try transaction.execute(
                    """
                    UPDATE jobs SET lease_expires_at_ms = ?
                    WHERE id = ? AND attempt = ? AND lease_owner = ? AND state = 'running'
                    """, .integer(expiresAtMs), .integer(lease.jobID), .integer(lease.attempt), .text(lease.owner))
                if changed == 0 { lost.append(lease) }
            }
            return lost
        }
    }

    /// Finishes a job the caller holds: `succeeded` or `failed` with its outcome JSON. False if the lease was lost
    /// (the fence): then nothing is written.
    public func finishJob(
        _ lease: JobLease, state: String, outcome: String, error: String?, nowMs: Int64
    ) throws
        -> Bool
    {
        try write { transaction in
            try transaction.finishJob(lease, state: state, outcome: outcome, error: error, nowMs: nowMs)
        }
    }

    /// Puts a job the caller holds back in the queue until `availableAtMs`, counting a transient or a permanent
    /// failure. False if the lease was lost.
    public func requeueJob(_ lease: JobLease, availableAtMs: Int64, transient: Bool, error: String) throws -> Bool {
        try write { transaction in
            try transaction.requeueJob(lease, availableAtMs: availableAtMs, transient: transient, error: error)
        }
    }

    /// Returns expired leases' jobs to the queue (their worker died or stalled); the next claim raises the attempt,
    /// so the old holder is fenced out. Returns how many were rescued.
    @discardableResult
    public func rescueExpiredLeases(nowMs: Int64, excludingOwner: String? = nil) throws -> Int {
        try write { transaction in
            try transaction.execute(
                """
                UPDATE jobs SET state = 'queued', lease_owner = NULL, lease_expires_at_ms = NULL,
                                last_error = 'lease expired (worker gone or stalled)'
                WHERE state = 'running' AND lease_expires_at_ms < ? AND (?2 IS NULL OR lease_owner != ?2)
                """, .integer(nowMs), .text(excludingOwner))
        }
    }
}

extension Transaction {
    /// `Database.finishJob` inside a caller's transaction.
    public func finishJob(
        _ lease: JobLease, state: String, outcome: String, error: String?, nowMs: Int64
    )
        throws(StoreError) -> Bool
    {
        try execute(
            """
            UPDATE jobs SET state = ?, outcome = ?, last_error = ?, finished_at_ms = ?, lease_owner = NULL,
                            lease_expires_at_ms = NULL
            WHERE id = ? AND attempt = ? AND lease_owner = ? AND state = 'running'
            """, .text(state), .text(outcome), .text(error), .integer(nowMs), .integer(lease.jobID),
            .integer(lease.attempt), .text(lease.owner)) == 1
    }

    /// `Database.requeueJob` inside a caller's transaction.
    public func requeueJob(
        _ lease: JobLease, availableAtMs: Int64, transient: Bool, error: String
    )
        throws(StoreError) -> Bool
    {
        try execute(
            """
            UPDATE jobs SET state = 'queued', available_at_ms = ?, lease_owner = NULL, lease_expires_at_ms = NULL,
                            last_error = ?, failures = failures + ?, transient_failures = transient_failures + ?
            WHERE id = ? AND attempt = ? AND lease_owner = ? AND state = 'running'
            """, .integer(availableAtMs), .text(error), .integer(transient ? 0 : 1), .integer(transient ? 1 : 0),
            .integer(lease.jobID), .integer(lease.attempt), .text(lease.owner)) == 1
    }

    /// Gives a job the caller holds back to the queue without counting a failure (a preflight that failed, a
    /// worker stopping before the run started). False if the lease was lost.
    public func releaseJob(_ lease: JobLease, availableAtMs: Int64, reason: String) throws(StoreError) -> Bool {
        try execute(
            """
            UPDATE jobs SET state = 'queued', available_at_ms = ?, lease_owner = NULL, lease_expires_at_ms = NULL,
                            last_error = ?
            WHERE id = ? AND attempt = ? AND lease_owner = ? AND state = 'running'
            """, .integer(availableAtMs), .text(reason), .integer(lease.jobID), .integer(lease.attempt),
            .text(lease.owner)) == 1
    }

    /// True while `lease` is the job's current one: the fence a worker checks in the transaction that starts a run.
    public func holdsLease(_ lease: JobLease) throws(StoreError) -> Bool {
        try queryFirst(
            """
            SELECT 1 AS held FROM jobs WHERE id = ? AND attempt = ? AND lease_owner = ? AND state = 'running'
            """, .integer(lease.jobID), .integer(lease.attempt), .text(lease.owner)) != nil
    }

    /// Takes over a running job's lease for a new worker instance that re-adopted its run: same attempt, new owner.
    public func adoptLease(jobID: Int64, attempt: Int, owner: String, expiresAtMs: Int64) throws(StoreError) -> Bool {
        try execute(
            """
            UPDATE jobs SET lease_owner = ?, lease_expires_at_ms = ?
            WHERE id = ? AND attempt = ? AND state = 'running'
            """, .text(owner), .integer(expiresAtMs), .integer(jobID), .integer(attempt)) == 1
    }
}
