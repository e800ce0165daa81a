import Foundation
import IPC
import LinuxProcess
import Store
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A local project whose every stage runs `worker-agent.sh` in the mode given (`moreAgents`, more entries under
/// `agents:`, with `roles:` in `extra`, can give some stages another).
func workerConfig(origin: String, extra: String = "", moreProjects: String = "", moreAgents: String = "") -> String {
    """
    agents:
      fake:
        argv: [\(fixtures)/agents/worker-agent.sh]
        probe: [/bin/sh, -c, "exit 0"]
        env_allow: [BOSUN_TEST_MODE]
    \(moreAgents)
    projects:
      - name: demo
        tracker: local
        repo: { url: \(origin), default_branch: main }
        test_command: [sh, check.sh]
        authors: [alice]
    \(moreProjects)
    \(extra)
    """
}

/// Two rate-limited runs in a row open the breaker for ten minutes; the retry budget is spent on nothing else.
let rateLimitedWorker = """
    breaker: { threshold: 2, pause_s: 600, max_pause_s: 600 }
    retry: { max_attempts: 1, transient_max_attempts: 5, backoff_base_s: 1, backoff_max_s: 1 }
    """

extension ProcessLevel {
    @Suite("Worker: runs that survive the worker, timeouts, rate limits")
    struct WorkerProcessTests {
        func createTasks(_ bosun: BosunInstance, count: Int) async throws -> [Int64] {
            var ids: [Int64] = []
            for index in 0..<count {
                let created = try await bosun.cli(["task", "create", "--project", "demo", "--title", "Task \(index)"])
                guard let line = created.output.split(separator: "\n").last, line.hasPrefix("task "),
                    let id = Int64(line.dropFirst(5))
                else { throw TestFailure("task create: \(created.output)") }
                ids.append(id)
            }
            return ids
        }

        @Test("kill -9 of the worker during 20 runs: every run adopted or its exit recorded, none started twice")
        func adoption() async throws {
            let scratch = TemporaryDirectory("bosun-origin")
            let origin = try await makeOrigin(in: scratch)
            try await withBosun(
                extraConfig: workerConfig(
                    origin: origin, extra: "worker: { max_concurrency: 20, lease_s: 30, heartbeat_s: 5 }"),
                environment: ["BOSUN_TEST_MODE": "sleep-15"]
            ) { bosun in
                let ids = try await createTasks(bosun, count: 20)
                let database = try Database(path: bosun.directory.file("state/bosun.db"))
                try await eventually(timeout: .seconds(60), "20 runs running") {
                    try database.read { try $0.liveRuns() }.filter { $0.shimPID != nil }.count == 20
                }
                let worker = try #require(try await bosun.process("worker").pid)
                kill(worker, SIGKILL)
                try await eventually(timeout: .seconds(30), "a new worker") {
                    let now = try await bosun.process("worker")
                    return now.pid != nil && now.pid != worker && now.state == .ready
                }
                try await eventually(timeout: .seconds(60), "every analysis waiting for approval") {
                    try ids.allSatisfy { id in try database.read { try $0.task(id: id) }?.waitingOn == "approval" }
                }
                let runs = try database.read { transaction in try ids.flatMap { try transaction.runs(taskID: $0) } }
                #expect(runs.count == 20)
                #expect(runs.allSatisfy { $0.state == "exited" && $0.exitCode == 0 && $0.classification == "success" })
                #expect(Set(runs.map(\.jobID)).count == 20)
                #expect(try database.read { try $0.liveRuns() }.isEmpty)
                #expect(zombieChildren(of: bosun.process.pid).isEmpty)
                let jobs = try database.read { transaction in try ids.flatMap { try transaction.jobs(taskID: $0) } }
                #expect(jobs.allSatisfy { $0.state == "succeeded" && $0.attempt == 1 })
            }
        }

        @Test("a brief an earlier agent replaced with a symlink is replaced for the next stage, not written through")
        func briefSymlink() async throws {
            let scratch = TemporaryDirectory("bosun-origin")
            let origin = try await makeOrigin(in: scratch)
            let target = try scratch.write("outside.txt", "the worker must not write here\n")
            try await withBosun(
                extraConfig: workerConfig(origin: origin), environment: ["BOSUN_TEST_MODE": "link-brief:\(target)"]
            ) { bosun in
                let id = try #require(try await createTasks(bosun, count: 1).first)
                let database = try Database(path: bosun.directory.file("state/bosun.db"))
                try await eventually(timeout: .seconds(60), "the analysis waiting for approval") {
                    try database.read { try $0.task(id: id) }?.waitingOn == "approval"
                }
                let approved = try await bosun.cli(["task", "comment", String(id), ":approved:", "--author", "alice"])
                #expect(approved.status == .exited(code: 0), "\(approved.output)")
                try await eventually(timeout: .seconds(60), "the next stage's run ended") {
                    try database.read { try $0.runs(taskID: id) }.filter { $0.state == "exited" }.count >= 2
                }
                #expect(try String(contentsOfFile: target, encoding: .utf8) == "the worker must not write here\n")
                // Each agent found its own brief as a regular file.
                let seen = try String(contentsOfFile: target + ".seen", encoding: .utf8)
                #expect(seen.split(separator: "\n").prefix(2) == ["regular", "regular"], "\(seen)")
            }
        }

        @Test("a worker stopped past its lease: another worker takes its run over; resumed, it cannot touch it")
        func stalledWorker() async throws {
            let scratch = TemporaryDirectory("bosun-origin")
            let origin = try await makeOrigin(in: scratch)
            try await withBosun(
                extraConfig: workerConfig(
                    origin: origin, extra: "worker: { max_concurrency: 2, lease_s: 2, heartbeat_s: 1 }"),
                environment: ["BOSUN_TEST_MODE": "sleep-8"]
            ) { bosun in
                let id = try #require(try await createTasks(bosun, count: 1).first)
                let database = try Database(path: bosun.directory.file("state/bosun.db"))
                try await eventually(timeout: .seconds(30), "the run started") {
                    try database.read { try $0.runs(taskID: id) }.first?.shimPID != nil
                }
                let first = try #require(try database.read { try $0.runs(taskID: id) }.first)
                let stalled = try #require(try await bosun.process("worker").pid)
                kill(stalled, SIGSTOP)
                try await eventually(timeout: .seconds(10), "the stalled worker's lease expired") {
                    let job = try database.read { try $0.job(id: first.jobID) }
                    return (job?.leaseExpiresAtMs ?? .max) < Int64(Date().timeIntervalSince1970 * 1000)
                }

                // A second worker on the same store, linked to a stand-in supervisor (the real one admits only the
                // processes it started).
                let socket = bosun.directory.file("standin/supervisor.sock")
                let standIn = try await IPCServer.bind(path: socket, role: .supervisor, logger: quietLogger)
                let serving = Task { await standIn.run(handlers: IPCHandlers()) }
                defer { serving.cancel() }
                let other = try TestProcess(
                    Binaries.directory + "/bosun-worker", [],
                    environment: [
                        "BOSUN_SUPERVISOR_SOCKET": socket, "BOSUN_CONFIG": bosun.configPath,
                        "BOSUN_CONFIG_SNAPSHOT": bosun.directory.file("state/run/config.yaml"),
                        "BOSUN_PROCESS": "worker", "BOSUN_TEST_MODE": "sleep-8",
                    ],
                    output: bosun.directory.file("other-worker.out"))
                defer { kill(other.pid, SIGKILL) }
                try await eventually(timeout: .seconds(20), "the run adopted by the other worker") {
                    try database.read { try $0.run(id: first.id) }?.worker.hasPrefix("worker-\(other.pid)-") == true
                }

                // Resumed while the agent still runs: its next heartbeat finds the lease gone.
                kill(stalled, SIGCONT)
                let log = bosun.directory.file("state/logs/worker.log")
                try await eventually(timeout: .seconds(20), "the resumed worker noticed") {
                    let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
                    return text.contains("the run was adopted by another worker")
                        || text.contains("run ended under another worker")
                }
                try await eventually(timeout: .seconds(30), "the job done by the other worker") {
                    try database.read { try $0.job(id: first.jobID) }?.state == "succeeded"
                }
                let job = try #require(try database.read { try $0.job(id: first.jobID) })
                // Give the resumed worker heartbeats' worth of time to (wrongly) write anything.
                try await Task.sleep(for: .seconds(3))
                let runs = try database.read { try $0.runs(taskID: id) }
                #expect(runs.count == 1, "no second run started")
                let run = try #require(runs.first)
                #expect(run.worker.hasPrefix("worker-\(other.pid)-"))
                #expect(run.state == "exited" && run.exitCode == 0 && run.signal == nil, "the agent was not killed")
                #expect(run.classification == "success")
                let after = try #require(try database.read { try $0.job(id: first.jobID) })
                #expect(after.state == "succeeded" && after.attempt == 1)
                #expect(after.finishedAtMs == job.finishedAtMs && after.outcome == job.outcome)
                #expect(kill(stalled, 0) == 0, "the resumed worker carries on")
                #expect(try await bosun.process("worker").pid == stalled)
            }
        }

        @Test("an agent that hangs past its timeout is killed with its group and retried, then the task is blocked")
        func timeout() async throws {
            let scratch = TemporaryDirectory("bosun-origin")
            let origin = try await makeOrigin(in: scratch)
            try await withBosun(
                extraConfig: workerConfig(
                    origin: origin,
                    extra: """
                        worker: { max_concurrency: 2, agent_timeout_s: 1, kill_grace_s: 1 }
                        retry: { max_attempts: 2, backoff_base_s: 1, backoff_max_s: 1 }
                        """),
                environment: ["BOSUN_TEST_MODE": "hang"]
            ) { bosun in
                let id = try #require(try await createTasks(bosun, count: 1).first)
                let database = try Database(path: bosun.directory.file("state/bosun.db"))
                try await eventually(timeout: .seconds(60), "the task blocked") {
                    try database.read { try $0.task(id: id) }?.state == "blocked"
                }
                let runs = try database.read { try $0.runs(taskID: id) }
                #expect(runs.count == 2)
                #expect(runs.allSatisfy { $0.timedOut && $0.classification == "timeout" })
                // Nothing of the runs is left: no process whose working directory is the task's worktree.
                let worktrees = bosun.directory.file("state/worktrees")
                let survivors = ProcessTable.all().filter { process in
                    (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(process.pid)/cwd"))?
                        .hasPrefix(worktrees) == true
                }
                #expect(survivors.isEmpty, "\(survivors.map(\.pid))")
            }
        }

        @Test("rate limits are transient: they open the breaker, claims stop, attempts are not spent")
        func rateLimit() async throws {
            let scratch = TemporaryDirectory("bosun-origin")
            let origin = try await makeOrigin(in: scratch)
            try await withBosun(
                extraConfig: workerConfig(origin: origin, extra: rateLimitedWorker),
                environment: ["BOSUN_TEST_MODE": "rate-limit"]
            ) { bosun in
                let ids = try await createTasks(bosun, count: 2)
                let database = try Database(path: bosun.directory.file("state/bosun.db"))
                try await eventually(timeout: .seconds(60), "the breaker open") {
                    try await bosun.status().breaker.state == .open
                }
                let runsAtOpening = try database.read { transaction in
                    try ids.flatMap { try transaction.runs(taskID: $0) }
                }
                #expect(runsAtOpening.allSatisfy { $0.classification == "transient" })
                // The reset time in the agent's output is an hour away: the jobs wait for it, queued, unspent.
                let jobs = try database.read { transaction in try ids.flatMap { try transaction.jobs(taskID: $0) } }
                #expect(jobs.allSatisfy { $0.state == "queued" && $0.failures == 0 && $0.transientFailures >= 1 })
                #expect(jobs.allSatisfy { $0.availableAtMs > Int64(Date().timeIntervalSince1970 * 1000) + 3_000_000 })
                try await Task.sleep(for: .seconds(2))
                let runsLater = try database.read { transaction in try ids.flatMap { try transaction.runs(taskID: $0) }
                }
                #expect(runsLater.count == runsAtOpening.count)
                #expect(try ids.allSatisfy { id in try database.read { try $0.task(id: id) }?.state == "analysis" })
            }
        }

        @Test("a failing preflight leaves the job queued, spends nothing, and says why")
        func preflight() async throws {
            let scratch = TemporaryDirectory("bosun-origin")
            let origin = try await makeOrigin(in: scratch)
            let config = workerConfig(origin: origin).replacingOccurrences(
                of: #"probe: [/bin/sh, -c, "exit 0"]"#, with: #"probe: [/bin/sh, -c, "echo broken; exit 4"]"#)
            try await withBosun(extraConfig: config, environment: ["BOSUN_TEST_MODE": "sleep-1"]) { bosun in
                let id = try #require(try await createTasks(bosun, count: 1).first)
                let database = try Database(path: bosun.directory.file("state/bosun.db"))
                try await eventually(timeout: .seconds(30), "the preflight verdict") {
                    try database.operatorFlag("preflight.fake")?.contains("failed") == true
                }
                let reason = try #require(try database.operatorFlag("preflight.fake"))
                #expect(reason.contains("agent fake: the probe /bin/sh -c echo broken; exit 4 failed (exit 4)"))
                let jobs = try database.read { try $0.jobs(taskID: id) }
                #expect(jobs.count == 1)
                #expect(jobs.allSatisfy { $0.state == "queued" && $0.failures == 0 && $0.transientFailures == 0 })
                #expect(try database.read { try $0.runs(taskID: id) }.isEmpty)
            }
        }
    }
}
