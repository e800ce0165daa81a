/// One attempt at a job: a process the worker started (through its shim), and how it ended.
public struct RunRecord: Sendable, Equatable, Codable {
    public var id: Int64
    public var jobID: Int64
    public var attempt: Int
    /// The worker instance that started (or last adopted) the run.
    public var worker: String
    /// `starting`, `running`, `exited`, `lost`.
    public var state: String
    public var runDirectory: String
    public var logPath: String
    public var shimPID: Int32?
    public var shimStartTime: UInt64?
    public var agentPID: Int32?
    public var agentStartTime: UInt64?
    public var exitCode: Int32?
    public var signal: Int32?
    public var timedOut: Bool
    /// `success`, `transient`, `permanent`, `timeout`, `lost`.
    public var classification: String?
    public var reason: String?
    public var retryAtMs: Int64?
    public var inputTokens: Int64?
    public var outputTokens: Int64?
    public var costUSD: Double?
    public var pullRequestURL: String?
    public var startedAtMs: Int64
    public var finishedAtMs: Int64?

    public init(
        id: Int64 = 0, jobID: Int64, attempt: Int, worker: String, state: String = "starting", runDirectory: String,
        logPath: String, startedAtMs: Int64
    ) {
        self.id = id
        self.jobID = jobID
        self.attempt = attempt
        self.worker = worker
        self.state = state
        self.runDirectory = runDirectory
        self.logPath = logPath
        self.timedOut = false
        self.startedAtMs = startedAtMs
    }

    init(row: Row) throws(StoreError) {
        id = try row.required("id", row.int64)
        jobID = try row.required("job_id", row.int64)
        attempt = try row.required("attempt", row.int)
        worker = try row.required("worker", row.string)
        state = try row.required("state", row.string)
        runDirectory = try row.required("run_dir", row.string)
        logPath = try row.required("log_path", row.string)
        shimPID = try row.int64("shim_pid").map { Int32(truncatingIfNeeded: $0) }
        shimStartTime = try row.int64("shim_start_time").map { UInt64(bitPattern: $0) }
        agentPID = try row.int64("agent_pid").map { Int32(truncatingIfNeeded: $0) }
        agentStartTime = try row.int64("agent_start_time").map { UInt64(bitPattern: $0) }
        exitCode = try row.int64("exit_code").map { Int32(truncatingIfNeeded: $0) }
        signal = try row.int64("signal").map { Int32(truncatingIfNeeded: $0) }
        timedOut = (try row.int64("timed_out") ?? 0) != 0
        classification = try row.string("classification")
        reason = try row.string("reason")
        retryAtMs = try row.int64("retry_at_ms")
        inputTokens = try row.int64("input_tokens")
        outputTokens = try row.int64("output_tokens")
        if case .real(let cost) = row["cost_usd"] {
            costUSD = cost
        } else {
            costUSD = try row.int64("cost_usd").map(Double.init)
        }
        pullRequestURL = try row.string("pr_url")
        startedAtMs = try row.required("started_at_ms", row.int64)
        finishedAtMs = try row.int64("finished_at_ms")
    }
}

extension Transaction {
    /// Records a run about to start; returns its id. A second run for the same (job, attempt) is refused
    /// (`constraint`): one attempt starts at most one process.
    public func insertRun(_ run: RunRecord) throws(StoreError) -> Int64 {
        _ = try execute(
            """
            INSERT INTO runs (job_id, attempt, worker, state, run_dir, log_path, started_at_ms)
            VALUES (?, ?, ?, ?, ?, ?, ?)
            """, .integer(run.jobID), .integer(run.attempt), .text(run.worker), .text(run.state),
            .text(run.runDirectory), .text(run.logPath), .integer(run.startedAtMs))
        return lastInsertRowID
    }

    /// Records the processes of a started run. Fenced: false (and nothing written) unless the run is still
    /// `starting` and still `worker`'s, i.e. no other worker adopted or settled it meanwhile.
    @discardableResult
    public func markRunRunning(
        id: Int64, worker: String, shimPID: Int32, shimStartTime: UInt64, agentPID: Int32?, agentStartTime: UInt64?
    ) throws(StoreError) -> Bool {
        try execute(
            """
            UPDATE runs SET state = 'running', shim_pid = ?, shim_start_time = ?, agent_pid = ?, agent_start_time = ?
            WHERE id = ? AND worker = ? AND state = 'starting'
            """, .integer(Int64(shimPID)), .integer(Int64(bitPattern: shimStartTime)),
            .integer(agentPID.map { Int64($0) }), .integer(agentStartTime.map { Int64(bitPattern: $0) }),
            .integer(id), .text(worker)) == 1
    }

    /// Hands a live run to a new worker instance.
    public func adoptRun(id: Int64, worker: String) throws(StoreError) {
        _ = try execute("UPDATE runs SET worker = ? WHERE id = ?", .text(worker), .integer(id))
    }

    /// Records how a run ended, fenced by its owner: only a run still `starting` or `running` and still `worker`'s
    /// changes, so an exit is recorded once, by the worker that holds the run (a stalled worker whose run another
    /// worker adopted gets false and writes nothing).
    @discardableResult
    public func finishRun(_ run: RunRecord, worker: String) throws(StoreError) -> Bool {
        try execute(
            """
            UPDATE runs SET state = ?, exit_code = ?, signal = ?, timed_out = ?, classification = ?, reason = ?,
                            retry_at_ms = ?, input_tokens = ?, output_tokens = ?, cost_usd = ?, pr_url = ?,
                            finished_at_ms = ?
            WHERE id = ? AND worker = ? AND state IN ('starting', 'running')
            """, .text(run.state), .integer(run.exitCode.map { Int64($0) }), .integer(run.signal.map { Int64($0) }),
            .bool(run.timedOut), .text(run.classification), .text(run.reason), .integer(run.retryAtMs),
            .integer(run.inputTokens), .integer(run.outputTokens), run.costUSD.map { .real($0) } ?? .null,
            .text(run.pullRequestURL), .integer(run.finishedAtMs), .integer(run.id), .text(worker)) == 1
    }

    /// The run with this id.
    public func run(id: Int64) throws(StoreError) -> RunRecord? {
        try queryFirst("SELECT * FROM runs WHERE id = ?", .integer(id)).map { row throws(StoreError) in
            try RunRecord(row: row)
        }
    }

    /// A job's runs, oldest first.
    public func runs(jobID: Int64) throws(StoreError) -> [RunRecord] {
        try query("SELECT * FROM runs WHERE job_id = ? ORDER BY id", .integer(jobID)).map {
            row throws(StoreError) in try RunRecord(row: row)
        }
    }

    /// A task's runs, oldest first.
    public func runs(taskID: Int64) throws(StoreError) -> [RunRecord] {
        try query(
            "SELECT r.* FROM runs r JOIN jobs j ON j.id = r.job_id WHERE j.task_id = ? ORDER BY r.id",
            .integer(taskID)
        ).map { row throws(StoreError) in try RunRecord(row: row) }
    }

    /// Runs not yet finished (`starting` or `running`), any worker.
    public func liveRuns() throws(StoreError) -> [RunRecord] {
        try query("SELECT * FROM runs WHERE state IN ('starting', 'running') ORDER BY id").map {
            row throws(StoreError) in try RunRecord(row: row)
        }
    }
}
