/// A count of rows by a kind and a state (jobs by kind and state, runs by kind and outcome, effects by kind and
/// state).
public struct KindStateCount: Sendable, Equatable, Codable {
    public var kind: String
    public var state: String
    public var count: Int

    public init(kind: String, state: String, count: Int) {
        self.kind = kind
        self.state = state
        self.count = count
    }
}

/// One run still going, for `bosun status`.
public struct LiveRunSummary: Sendable, Equatable, Codable {
    public var runID: Int64
    public var taskID: Int64
    /// The job's kind: `agent`, `gate`, `merge`.
    public var kind: String
    public var role: String
    public var stage: String
    public var startedAtMs: Int64
}

/// How much work waits and runs, by counting rows (`GROUP BY`, never loading them): what `bosun status` and
/// `/metrics` show about the queue, the inbox and the outbox.
public struct WorkFigures: Sendable, Equatable {
    /// Jobs by kind and state.
    public var jobs: [KindStateCount]
    /// Queued jobs waiting out a retry backoff, by kind.
    public var retryingJobs: [String: Int]
    /// Active tasks by workflow state.
    public var activeTasks: [String: Int]
    /// Runs not yet finished, by the kind of their job.
    public var liveRuns: [String: Int]
    /// The oldest live runs, at most `liveRunLimit` of them.
    public var oldestLiveRuns: [LiveRunSummary]
    public var inbox: InboxDepth
    /// Outbox effects by kind and state.
    public var outbox: [KindStateCount]
    /// Failed attempts at effects by kind: every attempt of a pending or failed effect, all but the last of a done
    /// one.
    public var outboxFailedAttempts: [String: Int]
    /// When the oldest pending effect was queued.
    public var oldestPendingEffectAtMs: Int64?

    public init(
        jobs: [KindStateCount], retryingJobs: [String: Int], activeTasks: [String: Int], liveRuns: [String: Int],
        oldestLiveRuns: [LiveRunSummary], inbox: InboxDepth, outbox: [KindStateCount],
        outboxFailedAttempts: [String: Int], oldestPendingEffectAtMs: Int64?
    ) {
        self.jobs = jobs
        self.retryingJobs = retryingJobs
        self.activeTasks = activeTasks
        self.liveRuns = liveRuns
        self.oldestLiveRuns = oldestLiveRuns
        self.inbox = inbox
        self.outbox = outbox
        self.outboxFailedAttempts = outboxFailedAttempts
        self.oldestPendingEffectAtMs = oldestPendingEffectAtMs
    }
}

/// The durations of finished runs in cumulative buckets, as a Prometheus histogram wants them.
public struct RunDurations: Sendable, Equatable {
    /// Upper bounds of the buckets, in milliseconds, ascending.
    public var boundsMs: [Int64]
    /// Runs that took at most each bound: cumulative, one per bound.
    public var cumulativeCounts: [Int]
    public var count: Int
    public var sumMs: Int64

    public init(boundsMs: [Int64], cumulativeCounts: [Int], count: Int, sumMs: Int64) {
        self.boundsMs = boundsMs
        self.cumulativeCounts = cumulativeCounts
        self.count = count
        self.sumMs = sumMs
    }
}

/// What finished runs came to: counts by kind and outcome, durations by kind.
public struct RunFigures: Sendable, Equatable {
    /// Finished runs by their job's kind and their classification (`success`, `transient`, `permanent`, `timeout`,
    /// `lost`); a run finished without one counts under its state.
    public var outcomes: [KindStateCount]
    /// Durations by job kind.
    public var durations: [String: RunDurations]

    public init(outcomes: [KindStateCount], durations: [String: RunDurations]) {
        self.outcomes = outcomes
        self.durations = durations
    }
}

extension Transaction {
    /// How many live runs `workFigures` lists.
    public static let liveRunLimit = 20

    /// The queue and the outbox in counts, at `nowMs`, with the inbox's depth (read from its own file).
    public func workFigures(nowMs: Int64, inbox: InboxDepth) throws(StoreError) -> WorkFigures {
        let jobs = try counts("SELECT kind, state, COUNT(*) AS n FROM jobs GROUP BY kind, state")
        var retrying: [String: Int] = [:]
        for row in try query(
            """
            SELECT kind, COUNT(*) AS n FROM jobs WHERE state = 'queued' AND available_at_ms > ? AND attempt > 0
            GROUP BY kind
            """, .integer(nowMs))
        {
            retrying[try row.required("kind", row.string)] = try row.int("n") ?? 0
        }
        var activeTasks: [String: Int] = [:]
        for row in try query("SELECT state, COUNT(*) AS n FROM tasks WHERE active = 1 GROUP BY state") {
            activeTasks[try row.required("state", row.string)] = try row.int("n") ?? 0
        }
        var liveRuns: [String: Int] = [:]
        for row in try query(
            """
            SELECT j.kind AS kind, COUNT(*) AS n FROM runs r JOIN jobs j ON j.id = r.job_id
            WHERE r.state IN ('starting', 'running') GROUP BY j.kind
            """)
        {
            liveRuns[try row.required("kind", row.string)] = try row.int("n") ?? 0
        }
        let oldest = try query(
            """
            SELECT r.id AS run_id, j.task_id AS task_id, j.kind AS kind, j.role AS role, j.stage AS stage,
                   r.started_at_ms AS started_at_ms
            FROM runs r JOIN jobs j ON j.id = r.job_id
            WHERE r.state IN ('starting', 'running') ORDER BY r.id LIMIT ?
            """, .integer(Self.liveRunLimit)
        ).map { row throws(StoreError) in
            LiveRunSummary(
                runID: try row.required("run_id", row.int64), taskID: try row.required("task_id", row.int64),
                kind: try row.required("kind", row.string), role: try row.required("role", row.string),
                stage: try row.required("stage", row.string),
                startedAtMs: try row.required("started_at_ms", row.int64))
        }
        let outbox = try counts("SELECT kind, state, COUNT(*) AS n FROM outbox GROUP BY kind, state")
        var failedAttempts: [String: Int] = [:]
        for row in try query(
            """
            SELECT kind, SUM(CASE WHEN state = 'done' AND attempts > 0 THEN attempts - 1 ELSE attempts END) AS n
            FROM outbox GROUP BY kind
            """)
        {
            failedAttempts[try row.required("kind", row.string)] = try row.int("n") ?? 0
        }
        let pending = try queryFirst("SELECT MIN(created_at_ms) AS oldest FROM outbox WHERE state = 'pending'")
        return WorkFigures(
            jobs: jobs, retryingJobs: retrying, activeTasks: activeTasks, liveRuns: liveRuns, oldestLiveRuns: oldest,
            inbox: inbox,
            outbox: outbox, outboxFailedAttempts: failedAttempts,
            oldestPendingEffectAtMs: try pending?.int64("oldest"))
    }

    /// Finished runs by outcome, and their durations in buckets bounded by `boundsMs` (ascending), counted by SQL.
    public func runFigures(boundsMs: [Int64]) throws(StoreError) -> RunFigures {
        let finished = "r.state IN ('exited', 'lost') AND r.finished_at_ms IS NOT NULL"
        let outcomes = try counts(
            """
            SELECT j.kind AS kind, COALESCE(r.classification, r.state) AS state, COUNT(*) AS n
            FROM runs r JOIN jobs j ON j.id = r.job_id WHERE \(finished) GROUP BY j.kind, COALESCE(r.classification, r.state)
            """)
        // Each bucket counts the runs at or under its bound, so the columns come out cumulative.
        let duration = "(r.finished_at_ms - r.started_at_ms)"
        let buckets = boundsMs.indices.map { "SUM(CASE WHEN \(duration) <= ? THEN 1 ELSE 0 END) AS b\($0)" }
        let rows = try query(
            """
            SELECT j.kind AS kind, COUNT(*) AS n, SUM(\(duration)) AS total\(buckets.map { ", " + $0 }.joined())
            FROM runs r JOIN jobs j ON j.id = r.job_id WHERE \(finished) GROUP BY j.kind
            """, bindings: boundsMs.map { .integer($0) })
        var durations: [String: RunDurations] = [:]
        for row in rows {
            let counts = try boundsMs.indices.map { index throws(StoreError) in try row.int("b\(index)") ?? 0 }
            durations[try row.required("kind", row.string)] = RunDurations(
                boundsMs: boundsMs, cumulativeCounts: counts, count: try row.int("n") ?? 0,
                sumMs: try row.int64("total") ?? 0)
        }
        return RunFigures(outcomes: outcomes, durations: durations)
    }

    private func counts(_ sql: String) throws(StoreError) -> [KindStateCount] {
        try query(sql).map { row throws(StoreError) in
            KindStateCount(
                kind: try row.required("kind", row.string), state: try row.required("state", row.string),
                count: try row.int("n") ?? 0)
        }
    }
}
