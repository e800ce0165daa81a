import Foundation
import Store
import Testing

@Suite("Store: the job queue")
struct JobQueueTests {
    let directory = TemporaryDirectory("bosun-queue")

    func database() throws -> Database {
        let database = try Database(path: directory.file("bosun.db"))
        try database.migrate()
        return database
    }

    func task(_ database: Database, project: String = "p", issue: String = "1") throws -> Int64 {
        try database.write { transaction in
            try transaction.insertTask(
                TaskRecord(
                    project: project, issue: issue, title: "t", body: "", author: "a", workflow: "default",
                    state: "development", branch: "bosun/\(issue)", createdAtMs: 0, updatedAtMs: 0, stateEnteredAtMs: 0)
            ).id
        }
    }

    func enqueue(
        _ database: Database, task: Int64, project: String = "p", role: String = "developer", key: String,
        priority: Int = 0, availableAt: Int64 = 0
    ) throws -> Int64? {
        try database.write { transaction in
            try transaction.enqueueJob(
                NewJob(
                    taskID: task, project: project, kind: "agent", role: role, stage: "development", spec: "{}",
                    priority: priority, availableAtMs: availableAt, uniqueKey: key), nowMs: 0)
        }
    }

    @Test("a unique key is enqueued once; claims go by priority, then age; available_at defers")
    func ordering() throws {
        let database = try database()
        let id = try task(database)
        let low = try enqueue(database, task: id, key: "low")
        #expect(try enqueue(database, task: id, key: "low") == nil)
        let high = try enqueue(database, task: id, key: "high", priority: 5)
        _ = try enqueue(database, task: id, key: "later", priority: 9, availableAt: 10_000)
        let limits = ClaimLimits(maxConcurrency: 10)
        #expect(try database.claimJob(owner: "w", leaseMs: 1000, nowMs: 100, limits: limits)?.id == high)
        #expect(try database.claimJob(owner: "w", leaseMs: 1000, nowMs: 100, limits: limits)?.id == low)
        #expect(try database.claimJob(owner: "w", leaseMs: 1000, nowMs: 100, limits: limits) == nil)
        #expect(try database.claimJob(owner: "w", leaseMs: 1000, nowMs: 10_000, limits: limits)?.uniqueKey == "later")
    }

    @Test("the worker's next wake-up is the nearest future backoff; due jobs held by a limit do not count")
    func nextAvailable() throws {
        let database = try database()
        let id = try task(database)
        #expect(try database.read { try $0.nextAvailableAtMs(after: 100) } == nil)
        _ = try enqueue(database, task: id, key: "due", availableAt: 50)
        // Due but unclaimable (paused, no capacity): nothing to wait for in time, so the worker sleeps until woken.
        #expect(try database.read { try $0.nextAvailableAtMs(after: 100) } == nil)
        _ = try enqueue(database, task: id, key: "later", availableAt: 900)
        _ = try enqueue(database, task: id, key: "latest", availableAt: 5000)
        #expect(try database.read { try $0.nextAvailableAtMs(after: 100) } == 900)
        #expect(try database.read { try $0.nextAvailableAtMs(after: 900) } == 5000)
    }

    @Test("a worker whose lease was taken over can neither heartbeat nor complete")
    func fencing() throws {
        let database = try database()
        let id = try task(database)
        _ = try enqueue(database, task: id, key: "k")
        let limits = ClaimLimits(maxConcurrency: 10)
        let first = try #require(try database.claimJob(owner: "a", leaseMs: 1000, nowMs: 0, limits: limits))
        let leaseA = JobLease(jobID: first.id, attempt: first.attempt, owner: "a")
        #expect(try database.heartbeat([leaseA], until: 1500).isEmpty)
        // A stalls past its lease; the rescue returns the job and B claims it.
        #expect(try database.rescueExpiredLeases(nowMs: 2000) == 1)
        let second = try #require(try database.claimJob(owner: "b", leaseMs: 1000, nowMs: 2000, limits: limits))
        #expect(second.attempt == first.attempt + 1)
        #expect(try database.heartbeat([leaseA], until: 5000) == [leaseA])
        #expect(try database.finishJob(leaseA, state: "succeeded", outcome: "{}", error: nil, nowMs: 2100) == false)
        #expect(try database.requeueJob(leaseA, availableAtMs: 0, transient: true, error: "x") == false)
        let leaseB = JobLease(jobID: second.id, attempt: second.attempt, owner: "b")
        #expect(
            try database.finishJob(leaseB, state: "succeeded", outcome: "{\"passed\":true}", error: nil, nowMs: 2200))
        let done = try #require(try database.read { try $0.job(id: second.id) })
        #expect(done.state == "succeeded")
        #expect(try database.read { try $0.unappliedOutcomes(limit: 10) }.map(\.id) == [second.id])
    }

    @Test("a stalled worker cannot start, mark or finish a run once its lease or the run is another worker's")
    func runFencing() throws {
        let database = try database()
        let id = try task(database)
        _ = try enqueue(database, task: id, key: "k")
        let limits = ClaimLimits(maxConcurrency: 10)
        let job = try #require(try database.claimJob(owner: "a", leaseMs: 1000, nowMs: 0, limits: limits))
        let leaseA = JobLease(jobID: job.id, attempt: job.attempt, owner: "a")
        let run = RunRecord(
            jobID: job.id, attempt: job.attempt, worker: "a", runDirectory: "/r", logPath: "/l", startedAtMs: 0)
        #expect(try database.read { try $0.holdsLease(leaseA) })
        let runID = try database.write { try $0.insertRun(run) }
        // B adopts the run and its lease (A stalled past it).
        let adopted = try database.write { transaction in
            try transaction.adoptRun(id: runID, worker: "b")
            return try transaction.adoptLease(jobID: job.id, attempt: job.attempt, owner: "b", expiresAtMs: 9000)
        }
        #expect(adopted)
        #expect(try database.read { try $0.holdsLease(leaseA) } == false)
        let markedByA = try database.write {
            try $0.markRunRunning(
                id: runID, worker: "a", shimPID: 1, shimStartTime: 1, agentPID: nil, agentStartTime: nil)
        }
        #expect(markedByA == false)
        let markedByB = try database.write {
            try $0.markRunRunning(
                id: runID, worker: "b", shimPID: 2, shimStartTime: 2, agentPID: nil, agentStartTime: nil)
        }
        #expect(markedByB)
        var ended = try #require(try database.read { try $0.run(id: runID) })
        ended.state = "exited"
        ended.exitCode = 9
        #expect(try database.write { try $0.finishRun(ended, worker: "a") } == false)
        #expect(try database.read { try $0.run(id: runID) }?.state == "running")
        ended.exitCode = 0
        #expect(try database.write { try $0.finishRun(ended, worker: "b") })
        #expect(try database.write { try $0.finishRun(ended, worker: "b") } == false, "an exit is recorded once")
        let recorded = try #require(try database.read { try $0.run(id: runID) })
        #expect(recorded.state == "exited" && recorded.exitCode == 0 && recorded.shimPID == 2)
    }

    @Test("transient and permanent failures are counted apart; a rescue skips the rescuer's own leases")
    func counting() throws {
        let database = try database()
        let id = try task(database)
        _ = try enqueue(database, task: id, key: "k")
        let limits = ClaimLimits(maxConcurrency: 1)
        var job = try #require(try database.claimJob(owner: "w", leaseMs: 10, nowMs: 0, limits: limits))
        #expect(
            try database.requeueJob(
                JobLease(jobID: job.id, attempt: job.attempt, owner: "w"), availableAtMs: 0, transient: true,
                error: "429"))
        job = try #require(try database.claimJob(owner: "w", leaseMs: 10, nowMs: 0, limits: limits))
        #expect(
            try database.requeueJob(
                JobLease(jobID: job.id, attempt: job.attempt, owner: "w"), availableAtMs: 0, transient: false,
                error: "crash"))
        job = try #require(try database.claimJob(owner: "w", leaseMs: 10, nowMs: 0, limits: limits))
        #expect(job.transientFailures == 1)
        #expect(job.failures == 1)
        #expect(job.attempt == 3)
        #expect(try database.rescueExpiredLeases(nowMs: 100, excludingOwner: "w") == 0)
        #expect(try database.rescueExpiredLeases(nowMs: 100) == 1)
    }

    @Test("global, per-project and per-role limits hold under a burst of 500 jobs")
    func limits() throws {
        let database = try database()
        var tasks: [String: Int64] = [:]
        for project in ["p", "q"] { tasks[project] = try task(database, project: project, issue: project) }
        for index in 0..<500 {
            let project = index % 2 == 0 ? "p" : "q"
            _ = try enqueue(
                database, task: tasks[project]!, project: project, role: index % 3 == 0 ? "reviewer" : "developer",
                key: "k\(index)")
        }
        let limits = ClaimLimits(maxConcurrency: 6, perProject: ["p": 2], perRole: ["reviewer": 1])
        var claimed: [JobRecord] = []
        while let job = try database.claimJob(owner: "w", leaseMs: 1000, nowMs: 0, limits: limits) {
            claimed.append(job)
        }
        #expect(claimed.count == 6)
        #expect(claimed.filter { $0.project == "p" }.count == 2)
        #expect(claimed.filter { $0.role == "reviewer" }.count <= 1)
        // Finishing one frees one slot, and only one.
        let first = claimed[0]
        #expect(
            try database.finishJob(
                JobLease(jobID: first.id, attempt: first.attempt, owner: "w"), state: "succeeded", outcome: "{}",
                error: nil, nowMs: 1))
        let next = try database.claimJob(owner: "w", leaseMs: 1000, nowMs: 0, limits: limits)
        #expect(next != nil)
        #expect(try database.claimJob(owner: "w", leaseMs: 1000, nowMs: 0, limits: limits) == nil)
        let running = try database.read { try $0.jobCountsByState()["running"] }
        #expect(running == 6)
    }

    @Test("one active task per issue; one run per (job, attempt)")
    func uniqueness() throws {
        let database = try database()
        let id = try task(database, issue: "7")
        #expect(throws: StoreError.self) { _ = try task(database, issue: "7") }
        _ = try enqueue(database, task: id, key: "k")
        let job = try #require(
            try database.claimJob(owner: "w", leaseMs: 1000, nowMs: 0, limits: ClaimLimits(maxConcurrency: 1)))
        let run = RunRecord(
            jobID: job.id, attempt: job.attempt, worker: "w", runDirectory: "/r", logPath: "/l", startedAtMs: 0)
        _ = try database.write { try $0.insertRun(run) }
        #expect(throws: StoreError.self) { _ = try database.write { try $0.insertRun(run) } }
    }
}
