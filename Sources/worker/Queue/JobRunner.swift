import Config
import Dispatch
import Foundation
import IPC
import LinuxProcess
import Logging
import ProcessRuntime
import Store
import Synchronization
import Workflow

#if canImport(Glibc)
import Glibc
#endif

/// The worker's queue consumer: claims jobs under a lease, prepares the task's worktree, starts each run under its
/// shim, and turns each run's end into the job's outcome (or a retry with backoff). Runs outlive this process: a new
/// worker adopts the ones still going and records the ends of the ones that finished meanwhile.
final class JobRunner: Sendable {
    let database: Database
    let config: @Sendable () -> BosunConfig
    let logger: Logger
    /// This worker instance's lease owner name: `worker-<pid>-<start ticks>`, never reused.
    let owner: String
    let launcher: RunLauncher
    let watcher: RunWatcher
    let worktrees: WorktreeManager
    let control: WorkerControl
    let notify: @Sendable (Notice) async -> Void
    let clock: @Sendable () -> Int64
    private let state = Mutex(State())

    /// What the runner tells the supervisor.
    enum Notice: Sendable {
        case outcome
        case breaker(BreakerReport)
    }

    /// A run in flight, keyed by run id.
    struct ActiveRun: Sendable {
        var job: JobRecord
        var lease: JobLease
        var spec: JobSpec
        var runID: Int64
        var logPath: String
        var worktree: String
        var shim: ProcessIdentity?
        var leaseLost = false
    }

    private struct State {
        var runs: [Int64: ActiveRun] = [:]
        /// Jobs claimed whose run has not started yet (worktree being prepared).
        var preparing: [Int64: JobLease] = [:]
        var probeInFlight = false
        var preflight: [String: (ok: Bool, reason: String, atMs: Int64)] = [:]
    }

    init(
        database: Database, config: @escaping @Sendable () -> BosunConfig, logger: Logger, owner: String,
        launcher: RunLauncher, watcher: RunWatcher, worktrees: WorktreeManager, control: WorkerControl,
        notify: @escaping @Sendable (Notice) async -> Void,
        clock: @escaping @Sendable () -> Int64 = { Int64(Date().timeIntervalSince1970 * 1000) }
    ) {
        self.database = database
        self.config = config
        self.logger = logger
        self.owner = owner
        self.launcher = launcher
        self.watcher = watcher
        self.worktrees = worktrees
        self.control = control
        self.notify = notify
        self.clock = clock
    }

    /// Runs in flight (started and preparing).
    var inFlight: Int { state.withLock { $0.runs.count + $0.preparing.count } }

    /// The leases held, for heartbeats.
    var leases: [JobLease] {
        state.withLock { state in state.runs.values.filter { !$0.leaseLost }.map(\.lease) + state.preparing.values }
    }

    // MARK: Adoption

    /// Takes over the runs a previous worker left: running ones are watched again, finished ones are recorded.
    /// Then expired leases of jobs nobody runs go back to the queue.
    func adoptAndRescue() async throws -> (adopted: Int, settled: Int, rescued: Int) {
        let live = try database.read { try $0.liveRuns() }
        var adopted = 0
        var settled = 0
        let config = config()
        for run in live {
            guard let job = try database.read({ try $0.job(id: run.jobID) }),
                let spec = try? JSONColumn.decode(job.spec, as: JobSpec.self)
            else { continue }
            // Another worker instance that is alive and whose lease still runs keeps its run; a dead one's runs, and
            // a stalled one's past its lease, are taken over (its writes are fenced from then on).
            if run.worker != owner, Self.isLiveWorker(run.worker), (job.leaseExpiresAtMs ?? 0) > clock() {
                logger.info("run left to its live worker", metadata: ["run": "\(run.id)", "worker": "\(run.worker)"])
                continue
            }
            let lease = JobLease(jobID: job.id, attempt: run.attempt, owner: owner)
            let leaseHeld = try database.write { transaction in
                try transaction.adoptRun(id: run.id, worker: owner)
                return try transaction.adoptLease(
                    jobID: job.id, attempt: run.attempt, owner: owner,
                    expiresAtMs: clock() + Int64(config.worker.leaseSeconds) * 1000)
            }
            let shim = run.shimPID.flatMap { pid in
                run.shimStartTime.map { ProcessIdentity(pid: pid, startTicks: $0) }
            }
            let active = ActiveRun(
                job: job, lease: lease, spec: spec, runID: run.id, logPath: run.logPath,
                worktree: worktreePath(spec, config: config), shim: shim, leaseLost: !leaseHeld)
            switch RunProbe.probe(runDirectory: run.runDirectory, shim: shim) {
            case .running(let identity):
                state.withLock { $0.runs[run.id] = active }
                do {
                    try watcher.watch(runID: String(run.id), runDirectory: run.runDirectory, shim: identity)
                    adopted += 1
                    logger.info(
                        "run adopted", metadata: ["run": "\(run.id)", "job": "\(job.id)", "shim": "\(identity.pid)"])
                } catch {
                    logger.error("cannot watch an adopted run", metadata: ["run": "\(run.id)", "error": "\(error)"])
                }
            case let ended:
                state.withLock { $0.runs[run.id] = active }
                await finish(runID: run.id, state: ended)
                settled += 1
            }
        }
        let rescued = try database.rescueExpiredLeases(nowMs: clock(), excludingOwner: owner)
        return (adopted, settled, rescued)
    }

    // MARK: Claiming

    /// Claims and starts jobs while there is capacity. Returns how many were started.
    func claimAvailable() async -> Int {
        let config = config()
        var started = 0
        while !control.isPaused {
            let capacity = config.worker.maxConcurrency - inFlight
            guard capacity > 0 else { break }
            var kinds: Set<String> = ["agent", "gate", "merge"]
            let breaker = control.breakerState
            let probing = state.withLock { $0.probeInFlight }
            if breaker == .open || (breaker == .halfOpen && probing) { kinds.remove("agent") }
            var perProject: [String: Int] = [:]
            for project in config.projects {
                if let limit = project.maxConcurrency { perProject[project.name] = limit }
            }
            let limits = ClaimLimits(
                maxConcurrency: config.worker.maxConcurrency, perProject: perProject,
                perRole: config.worker.roleLimits, kinds: kinds)
            let job: JobRecord?
            do {
                job = try database.claimJob(
                    owner: owner, leaseMs: Int64(config.worker.leaseSeconds) * 1000, nowMs: clock(), limits: limits)
            } catch {
                logger.error("claim failed", metadata: ["error": "\(error)"])
                break
            }
            guard let job else { break }
            let lease = JobLease(jobID: job.id, attempt: job.attempt, owner: owner)
            state.withLock { state in
                state.preparing[job.id] = lease
                if job.kind == "agent" && breaker == .halfOpen { state.probeInFlight = true }
            }
            started += 1
            Task {
                // Ends by itself: preparing and launching are bounded by git's and the launcher's timeouts.
                await self.start(job, lease: lease, config: config)
            }
        }
        return started
    }

    private func start(_ job: JobRecord, lease: JobLease, config: BosunConfig) async {
        let claimedAt = clock()
        var metadata: Logger.Metadata = [
            "task": "\(job.taskID)", "job": "\(job.id)", "kind": "\(job.kind)", "attempt": "\(job.attempt)",
        ]
        defer { _ = state.withLock { $0.preparing.removeValue(forKey: job.id) } }
        guard let spec = try? JSONColumn.decode(job.spec, as: JobSpec.self) else {
            await fail(job, lease: lease, reason: "the job's spec is not readable", retry: false)
            return
        }
        guard let project = config.project(named: spec.project) else {
            await fail(job, lease: lease, reason: "project \(spec.project) is not configured", retry: false)
            return
        }
        // Preflight first: an agent that cannot answer costs no git work and no tokens; the job waits, unspent.
        if job.kind == "agent", let agentName = spec.agent,
            let agent = config.agents.first(where: { $0.name == agentName }),
            let problem = await preflight(agent, config: config)
        {
            _ = try? database.write { transaction in
                try transaction.releaseJob(lease, availableAtMs: clock() + 30_000, reason: problem)
            }
            logger.warning(
                "preflight failed; job left queued", metadata: metadata.merging(["reason": "\(problem)"]) { $1 })
            return
        }
        do {
            let gitProject = try GitProject(
                name: project.name, url: project.repository.url, defaultBranch: project.repository.defaultBranch)
            guard let branch = BranchName(ref: spec.branch) else {
                await fail(
                    job, lease: lease, reason: "the task branch \(spec.branch) is not a Bosun branch", retry: false)
                return
            }
            if job.kind == "merge" {
                let merged = try await worktrees.mergeBranch(gitProject, branch: branch, into: spec.baseBranch)
                let outcome = JobOutcome(
                    passed: true, classification: "success",
                    reason: merged.alreadyMerged ? "already merged" : "merged as \(merged.head)", headSHA: merged.head)
                await complete(job, lease: lease, outcome: outcome)
                return
            }
            let preparingAt = clock()
            let prepared = try await worktrees.prepareWorktree(gitProject, branch: branch)
            let preparedAt = clock()
            try Self.excludeWorkingFiles(repository: "\(config.stateDirectory)/repos/\(project.name).git")
            var argv: [String]
            var environment: [String: String]
            var stdinPath: String?
            var timeout: Duration
            let runDirectoryRoot = config.stateDirectory + "/runs"
            let logRoot = config.stateDirectory + "/logs/runs"
            try FileManager.default.createDirectory(atPath: runDirectoryRoot, withIntermediateDirectories: true)
            try FileManager.default.createDirectory(atPath: logRoot, withIntermediateDirectories: true)
            // The run's directory and log are named by its id: one transaction inserts it and records them.
            let inserted = try database.write { transaction -> Int64? in
                // Fenced: a worker that stalled while preparing must not start a run for a job rescued meanwhile.
                guard try transaction.holdsLease(lease) else { return nil }
                let id = try transaction.insertRun(
                    RunRecord(
                        jobID: job.id, attempt: job.attempt, worker: owner, runDirectory: "", logPath: "",
                        startedAtMs: clock()))
                try transaction.execute(
                    "UPDATE runs SET run_dir = ?, log_path = ? WHERE id = ?", .text("\(runDirectoryRoot)/\(id)"),
                    .text("\(logRoot)/\(id).log"), .integer(id))
                return id
            }
            guard let runID = inserted else {
                logger.warning("lease lost before the run started; the job is someone else's now", metadata: metadata)
                return
            }
            let runDirectory = "\(runDirectoryRoot)/\(runID)"
            let logPath = "\(logRoot)/\(runID).log"
            metadata["run"] = "\(runID)"
            if job.kind == "gate" {
                argv = spec.command ?? []
                if argv.isEmpty {
                    _ = try database.write {
                        try $0.finishRun(Self.notStarted(runID, reason: "no command", now: clock()), worker: owner)
                    }
                    await complete(
                        job, lease: lease,
                        outcome: JobOutcome(
                            passed: false, classification: "failed",
                            reason: "project \(project.name) has no test_command: set projects[].test_command",
                            outputTail: "project \(project.name) has no test_command"))
                    return
                }
                environment =
                    AgentCommand.build(
                        agent: AgentConfig(name: "gate", argv: argv), project: project, spec: spec, briefPath: "",
                        worktree: prepared.path, runID: runID, taskID: job.taskID,
                        inherited: ProcessInfo.processInfo.environment
                    ).environment
                timeout = .seconds(spec.timeoutSeconds ?? 1800)
            } else {
                guard let agentName = spec.agent, let agent = config.agents.first(where: { $0.name == agentName })
                else {
                    await fail(
                        job, lease: lease, reason: "no agent is configured for role \(spec.role ?? "?")", retry: false)
                    return
                }
                let briefPath = try Self.writeBrief(spec.brief?.render() ?? "", worktree: prepared.path)
                let command = AgentCommand.build(
                    agent: agent, project: project, spec: spec, briefPath: briefPath, worktree: prepared.path,
                    runID: runID, taskID: job.taskID, inherited: ProcessInfo.processInfo.environment)
                argv = command.argv
                environment = command.environment
                stdinPath = command.briefOnStdin ? briefPath : nil
                timeout = .seconds(config.worker.agentTimeoutSeconds)
            }
            let runSpec = RunSpec(
                runID: String(runID), argv: argv, environment: environment, workingDirectory: prepared.path,
                stdinPath: stdinPath, logPath: logPath, runDirectory: runDirectory, timeout: timeout,
                killGrace: .seconds(config.worker.killGraceSeconds))
            let active = ActiveRun(
                job: job, lease: lease, spec: spec, runID: runID, logPath: logPath, worktree: prepared.path)
            state.withLock { $0.runs[runID] = active }
            let launcher = launcher
            let handle = try await Self.blocking { try launcher.launch(runSpec) }
            state.withLock { $0.runs[runID]?.shim = handle.shim }
            let recorded = try database.write { transaction in
                try transaction.markRunRunning(
                    id: runID, worker: owner, shimPID: handle.shim.pid, shimStartTime: handle.shim.startTicks,
                    agentPID: handle.agent?.pid, agentStartTime: handle.agent?.startTicks)
            }
            guard recorded else {
                // Another worker settled the run while this one launched it: nobody would watch this agent.
                state.withLock { _ = $0.runs.removeValue(forKey: runID) }
                if ProcessIdentity.of(handle.shim.pid) == handle.shim { kill(handle.shim.pid, SIGTERM) }
                logger.warning("run taken over while it started; stopped", metadata: metadata)
                return
            }
            try watcher.watch(handle)
            // Where the time from the job's creation to its agent went: waiting to be claimed (or for its
            // available_at), preparing the worktree, launching through the shim.
            let timings: Logger.Metadata = [
                "shim": "\(handle.shim.pid)",
                "queued_ms": "\(max(job.createdAtMs, job.availableAtMs).distance(to: claimedAt))",
                "prepare_ms": "\(preparingAt.distance(to: preparedAt))",
                "launch_ms": "\(preparedAt.distance(to: clock()))",
            ]
            logger.info("run started", metadata: metadata.merging(timings) { $1 })
            worktrees.replenish(gitProject)
        } catch {
            logger.error("job could not start", metadata: metadata.merging(["error": "\(error)"]) { $1 })
            let started = state.withLock { state in state.runs.values.first { $0.job.id == job.id } }
            if let started {
                state.withLock { _ = $0.runs.removeValue(forKey: started.runID) }
                _ = try? database.write {
                    try $0.finishRun(
                        Self.notStarted(started.runID, reason: "\(error)", now: clock()), worker: owner)
                }
            }
            await fail(job, lease: lease, reason: "the job could not start: \(error)", retry: true)
        }
    }

    private static func notStarted(_ runID: Int64, reason: String, now: Int64) -> RunRecord {
        var record = RunRecord(jobID: 0, attempt: 0, worker: "", runDirectory: "", logPath: "", startedAtMs: now)
        record.id = runID
        record.state = "lost"
        record.classification = "error"
        record.reason = reason
        record.finishedAtMs = now
        return record
    }

    // MARK: Run ends

    /// Turns a watched run's end into its job's outcome.
    func finish(runID: Int64, state runState: RunState) async {
        guard let active = state.withLock({ $0.runs.removeValue(forKey: runID) }) else { return }
        let config = config()
        let project = config.project(named: active.spec.project)
        var record =
            (try? database.read { try $0.run(id: runID) }) ?? nil
            ?? RunRecord(
                jobID: active.job.id, attempt: active.lease.attempt, worker: owner, runDirectory: "",
                logPath: active.logPath, startedAtMs: clock())
        record.finishedAtMs = clock()
        let classification: RunClassification
        var report: RunReport?
        switch runState {
        case .exited(let exit):
            let tail = (try? LogTail.read(path: active.logPath)) ?? LogTail(text: "")
            let host = project.flatMap { URL(string: $0.repository.url)?.host }
            let classified = FailureClassifier(forgeHost: host).classify(exit, log: tail)
            report = classified
            classification = classified.classification
            record.state = "exited"
            record.timedOut = exit.timedOut
            switch exit.outcome {
            case .exited(let code): record.exitCode = code
            case .signaled(let signal): record.signal = signal
            default: break
            }
            record.finishedAtMs = exit.endedAtMs
            record.inputTokens = classified.usage?.inputTokens
            record.outputTokens = classified.usage?.outputTokens
            record.costUSD = classified.usage?.costUSD
            record.pullRequestURL = classified.pullRequestURL
        case .lost(let reason):
            classification = .permanent(reason: "the run was lost: \(reason)")
            record.state = "lost"
        case .notStarted:
            // The worker stopped between recording the run and launching it: nothing ran, so no attempt is spent.
            classification = .cancelled
            record.state = "lost"
        case .running:
            return
        }
        var (name, reason) = Self.describe(classification)
        if runState == .notStarted { reason = "the run never started: the worker stopped before launching it" }
        if active.job.kind == "gate" && record.state == "exited" {
            // A gate command's exit code is its verdict; agent-output classification does not apply.
            let passed = record.exitCode == 0 && !record.timedOut
            name = passed ? "success" : record.timedOut ? "timeout" : "failed"
            reason = passed ? "the command passed" : record.timedOut ? "the command timed out" : "the command failed"
        }
        record.classification = name
        record.reason = reason
        if case .transient(let retryAt, _) = classification { record.retryAtMs = retryAt }
        let recorded = try? database.write { try $0.finishRun(record, worker: owner) }
        if active.job.kind == "agent" && control.breakerState == .halfOpen {
            state.withLock { $0.probeInFlight = false }
        }
        var metadata: Logger.Metadata = [
            "run": "\(runID)", "job": "\(active.job.id)", "classification": "\(name)", "reason": "\(reason)",
        ]
        guard recorded != false else {
            // Another worker adopted the run while this one stalled: the exit, the commit and the outcome are its.
            logger.warning("run ended under another worker; outcome left to it", metadata: metadata)
            return
        }
        guard !active.leaseLost else {
            logger.warning("run ended after its lease was taken over; outcome dropped", metadata: metadata)
            return
        }
        if active.job.kind == "gate" {
            let tail = (try? LogTail.read(path: active.logPath, limit: 4096))?.text ?? ""
            let passed = record.exitCode == 0 && !record.timedOut && record.state == "exited"
            let why =
                passed
                ? "the command passed"
                : record.timedOut
                    ? "the command timed out"
                    : "the command failed (exit \(record.exitCode.map(String.init) ?? "by a signal"))"
            await complete(
                active.job, lease: active.lease,
                outcome: JobOutcome(
                    passed: passed, classification: passed ? "success" : "failed", reason: why,
                    exitCode: record.exitCode, runID: runID, worktree: active.worktree, outputTail: tail))
            return
        }
        switch classification {
        case .success:
            await notify(.breaker(BreakerReport(outcome: .success, reason: "run \(runID) succeeded")))
            var outcome = JobOutcome(
                passed: true, classification: "success", reason: "the agent finished", exitCode: record.exitCode,
                runID: runID, worktree: active.worktree, pullRequestURL: report?.pullRequestURL)
            do {
                guard let project, let branch = BranchName(ref: active.spec.branch) else {
                    throw RunError(.invalidSpec, "the project or branch of the job is gone")
                }
                let gitProject = try GitProject(
                    name: project.name, url: project.repository.url, defaultBranch: project.repository.defaultBranch)
                let committed = try await worktrees.commitAndPush(
                    gitProject, branch: branch,
                    message:
                        "bosun: \(active.spec.brief?.stage ?? active.job.stage) for #\(active.spec.brief?.issueNumber ?? "")"
                )
                outcome.headSHA = committed.head
                outcome.pushed = committed.pushed
            } catch {
                metadata["error"] = "\(error)"
                logger.error("commit or push failed", metadata: metadata)
                await fail(active.job, lease: active.lease, reason: "commit or push failed: \(error)", retry: true)
                return
            }
            await complete(active.job, lease: active.lease, outcome: outcome)
        case .transient(let retryAt, let why):
            let retryAfter = retryAt.map { max(0, Int(($0 - clock()) / 1000)) }
            await notify(.breaker(BreakerReport(outcome: .transient, reason: why, retryAfterS: retryAfter)))
            await retryTransient(active.job, lease: active.lease, reason: why, retryAtMs: retryAt, config: config)
        case .permanent(let why):
            await notify(.breaker(BreakerReport(outcome: .failure, reason: why)))
            await fail(active.job, lease: active.lease, reason: why, retry: true)
        case .timedOut:
            await notify(.breaker(BreakerReport(outcome: .failure, reason: "timed out")))
            await fail(active.job, lease: active.lease, reason: "the agent timed out", retry: true)
        case .cancelled:
            // The worker cancelled it (drain or a lost lease): the job goes back without counting against it.
            _ = try? database.write { transaction in
                try transaction.releaseJob(active.lease, availableAtMs: clock(), reason: "the run was cancelled")
            }
        }
    }

    /// The lease owner a worker process writes: `worker-PID-STARTTICKS`, unique across pid reuse.
    static func ownerName(of identity: ProcessIdentity) -> String { "worker-\(identity.pid)-\(identity.startTicks)" }

    /// Whether the worker process named `owner` (see `ownerName`) is still alive.
    static func isLiveWorker(_ owner: String) -> Bool {
        let parts = owner.split(separator: "-")
        guard parts.count == 3, parts[0] == "worker", let pid = Int32(parts[1]), let ticks = UInt64(parts[2]) else {
            return false
        }
        return ProcessIdentity.of(pid) == ProcessIdentity(pid: pid, startTicks: ticks)
    }

    static func describe(_ classification: RunClassification) -> (String, String) {
        switch classification {
        case .success: ("success", "the agent finished")
        case .transient(_, let reason): ("transient", reason)
        case .permanent(let reason): ("permanent", reason)
        case .timedOut: ("timeout", "the run timed out")
        case .cancelled: ("cancelled", "the run was cancelled")
        }
    }

    private func complete(_ job: JobRecord, lease: JobLease, outcome: JobOutcome) async {
        do {
            let text = try JSONColumn.encode(outcome)
            let ok = try database.finishJob(
                lease, state: outcome.passed || job.kind == "gate" ? "succeeded" : "failed", outcome: text,
                error: outcome.passed ? nil : outcome.reason, nowMs: clock())
            if !ok {
                logger.warning("job finished after its lease was lost; outcome dropped", metadata: ["job": "\(job.id)"])
                return
            }
        } catch {
            logger.error("cannot record a job outcome", metadata: ["job": "\(job.id)", "error": "\(error)"])
            return
        }
        await notify(.outcome)
    }

    /// A permanent failure: retried with backoff while attempts remain, else the job fails for good.
    private func fail(_ job: JobRecord, lease: JobLease, reason: String, retry: Bool) async {
        let config = config()
        let failures = job.failures + 1
        if retry && failures < config.retry.maxAttempts {
            let backoff = Backoff(
                baseMilliseconds: Int64(config.retry.backoffBaseSeconds) * 1000,
                maxMilliseconds: Int64(config.retry.backoffMaxSeconds) * 1000)
            let delay = backoff.delay(afterFailures: failures, jitter: Double.random(in: 0...1))
            _ = try? database.requeueJob(lease, availableAtMs: clock() + delay, transient: false, error: reason)
            logger.warning(
                "job failed; retrying", metadata: ["job": "\(job.id)", "in_ms": "\(delay)", "reason": "\(reason)"])
            return
        }
        await complete(
            job, lease: lease, outcome: JobOutcome(passed: false, classification: "permanent", reason: reason))
    }

    private func retryTransient(
        _ job: JobRecord, lease: JobLease, reason: String, retryAtMs: Int64?, config: BosunConfig
    ) async {
        let failures = job.transientFailures + 1
        guard failures < config.retry.transientMaxAttempts else {
            await complete(
                job, lease: lease,
                outcome: JobOutcome(
                    passed: false, classification: "transient",
                    reason: "\(reason) (\(failures) transient failures, the most allowed)"))
            return
        }
        let backoff = Backoff(
            baseMilliseconds: Int64(config.retry.backoffBaseSeconds) * 1000,
            maxMilliseconds: Int64(config.retry.backoffMaxSeconds) * 1000)
        let now = clock()
        let delay = backoff.delay(
            afterFailures: failures, jitter: Double.random(in: 0...1), notBeforeMilliseconds: retryAtMs.map { $0 - now }
        )
        _ = try? database.requeueJob(lease, availableAtMs: now + delay, transient: true, error: reason)
        logger.warning(
            "transient failure; backing off",
            metadata: ["job": "\(job.id)", "in_ms": "\(delay)", "reason": "\(reason)"])
    }

    // MARK: Leases

    /// Extends every lease held; runs whose lease was taken over are cancelled (their outcome will be dropped).
    func heartbeat() {
        let config = config()
        let held = leases
        guard !held.isEmpty else { return }
        do {
            let lost = try database.heartbeat(held, until: clock() + Int64(config.worker.leaseSeconds) * 1000)
            for lease in lost {
                guard let runID = state.withLock({ $0.runs.first(where: { $0.value.lease == lease })?.key }) else {
                    logger.warning("lease lost before the run started", metadata: ["job": "\(lease.jobID)"])
                    continue
                }
                // Adopted by another worker (this one stalled past its lease): the run is that worker's now, so it is
                // let go, not killed. Otherwise the job moved on without it and the run is cancelled.
                let holder = (try? database.read { try $0.run(id: runID) })??.worker
                if let holder, holder != owner {
                    state.withLock { _ = $0.runs.removeValue(forKey: runID) }
                    logger.warning(
                        "lease lost; the run was adopted by another worker",
                        metadata: ["job": "\(lease.jobID)", "run": "\(runID)", "worker": "\(holder)"])
                    continue
                }
                let shim = state.withLock { state in
                    state.runs[runID]?.leaseLost = true
                    return state.runs[runID]?.shim
                }
                logger.warning(
                    "lease lost; cancelling the run", metadata: ["job": "\(lease.jobID)", "run": "\(runID)"])
                if let shim, ProcessIdentity.of(shim.pid) == shim { kill(shim.pid, SIGTERM) }
            }
        } catch {
            logger.error("heartbeat failed", metadata: ["error": "\(error)"])
        }
    }

    // MARK: Preflight

    /// Nil when the agent's executable exists and its probe answers (cached for the TTL); else why not.
    func preflight(_ agent: AgentConfig, config: BosunConfig) async -> String? {
        let now = clock()
        if let cached = state.withLock({ $0.preflight[agent.name] }),
            now - cached.atMs < Int64(config.worker.preflightTTLSeconds) * 1000
        {
            return cached.ok ? nil : cached.reason
        }
        var problem: String?
        let probe = agent.probe
        let path = ProcessInfo.processInfo.environment["PATH"]
        if let name = probe.first, let executable = CommandRunner.resolve(name, path: path) {
            do {
                let result = try await CommandRunner.run(
                    CommandInvocation(
                        executable: executable, arguments: Array(probe.dropFirst()),
                        environment: ProcessInfo.processInfo.environment, timeout: .seconds(15)))
                if result.status != .exited(code: 0) {
                    problem = "agent \(agent.name): the probe \(probe.joined(separator: " ")) failed (\(result.status))"
                }
            } catch {
                problem = "agent \(agent.name): the probe could not run: \(error)"
            }
        } else {
            problem = "agent \(agent.name): \(probe.first ?? "") is not installed (not found in PATH)"
        }
        state.withLock { $0.preflight[agent.name] = (problem == nil, problem ?? "", now) }
        try? database.setOperatorFlag("preflight.\(agent.name)", to: problem ?? "ok")
        return problem
    }

    // MARK: Helpers

    /// Writes the brief to `worktree/.bosun/brief.md` and returns its path. An earlier stage's agent worked in the
    /// same directory and may have left a symlink (or a file) at `.bosun` or at `brief.md`: both are replaced, never
    /// followed, so the brief cannot land in, or overwrite, a file outside the worktree. Not fsynced: a brief lost
    /// with the page cache is written again by the job's next attempt, and the fsync sat on the way to every exec.
    static func writeBrief(_ text: String, worktree: String) throws(RunError) -> String {
        let directory = worktree + "/.bosun"
        var info = stat()
        if lstat(directory, &info) == 0, info.st_mode & S_IFMT != S_IFDIR, unlink(directory) != 0 {
            throw RunError(.brief, "cannot replace \(directory), which is not a directory", cause: SystemError(errno))
        }
        if mkdir(directory, 0o777) != 0, errno != EEXIST {
            throw RunError(.brief, "cannot make \(directory)", cause: SystemError(errno))
        }
        let path = directory + "/brief.md"
        guard RefFiles.replace(path, with: text) else {
            throw RunError(.brief, "cannot write the brief \(path)", cause: SystemError(errno))
        }
        return path
    }

    /// Bosun's working files (the brief, the stage artifacts under `.bosun/`) stay in the worktree for the gates
    /// and later stages, but out of commits: they would collide between tasks when branches merge. The exclude
    /// file of the project repository applies to all its worktrees.
    static func excludeWorkingFiles(repository: String) throws {
        let path = repository + "/info/exclude"
        let existing = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
        guard !existing.split(separator: "\n").contains("/.bosun/") else { return }
        try FileManager.default.createDirectory(atPath: repository + "/info", withIntermediateDirectories: true)
        let text = existing + (existing.isEmpty || existing.hasSuffix("\n") ? "" : "\n") + "/.bosun/\n"
        try Data(text.utf8).write(to: URL(fileURLWithPath: path), options: .atomic)
    }

    func worktreePath(_ spec: JobSpec, config: BosunConfig) -> String {
        "\(config.stateDirectory)/worktrees/\(spec.project)/\(TaskBranch.directory(ofBranch: spec.branch))"
    }

    static func blocking<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async { continuation.resume(with: Result { try body() }) }
        }
    }
}
