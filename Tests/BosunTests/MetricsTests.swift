import Config
import Foundation
import IPC
import Outbound
import Store
import Testing

@testable import BosunGatekeeper
@testable import BosunIngress
@testable import BosunSupervisor

@Suite("Metrics: the exposition, the figures behind it, forge call counting")
struct MetricsTests {
    // MARK: The exposition format

    @Test("the strict parser refuses what a scraper could misread")
    func parserIsStrict() throws {
        let valid = "# HELP bosun_x_total Things.\n# TYPE bosun_x_total counter\nbosun_x_total{a=\"1\"} 2\n"
        let parsed = try Exposition(parsing: valid)
        #expect(parsed.value("bosun_x_total", ["a": "1"]) == 2)
        let broken = [
            "bosun_x 1\n",  // no TYPE
            "# TYPE bosun_x gauge\nbosun_x 1",  // no final line feed
            "# TYPE bosun_x gauge\nbosun_x{a=\"1\"} 1\nbosun_x{a=\"1\"} 2\n",  // the same series twice
            "# TYPE bosun_x gauge\nbosun_x{a=\"\\t\"} 1\n",  // an unknown escape
            "# TYPE bosun_x gauge\nbosun_x{a=\"1} 1\n",  // an unterminated value
            "# TYPE bosun_x gauge\nbosun_x{1a=\"1\"} 1\n",  // an invalid label name
            "# TYPE bosun_x gauge\nbosun_x one\n",  // an invalid value
            "# TYPE bosun_x counter\nbosun_x 1\n",  // a counter without _total
            "# TYPE bosun_x gauge\n# TYPE bosun_y gauge\nbosun_x 1\n",  // a sample outside its family
            "# TYPE bosun_x gauge\nbosun_x 1\n# TYPE bosun_y gauge\nbosun_y 1\n# HELP bosun_x again\n",  // split
            "# TYPE bosun_h histogram\nbosun_h_bucket{le=\"1\"} 2\nbosun_h_bucket{le=\"+Inf\"} 1\n"
                + "bosun_h_sum 1\nbosun_h_count 1\n",  // not cumulative
            "# TYPE bosun_h histogram\nbosun_h_bucket{le=\"1\"} 1\nbosun_h_sum 1\nbosun_h_count 1\n",  // no +Inf
            "# TYPE bosun_h histogram\nbosun_h_bucket{le=\"+Inf\"} 1\nbosun_h_count 1\n",  // no _sum
            "# TYPE bosun_x gauge\n\nbosun_x 1\n",  // an empty line
            "# a comment\n# TYPE bosun_x gauge\nbosun_x 1\n",  // a free comment
        ]
        for text in broken {
            #expect(throws: Exposition.Invalid.self, "\(text)") { try Exposition(parsing: text) }
        }
    }

    @Test("label values and help texts are escaped; numbers are written as Prometheus reads them")
    func escaping() throws {
        var text = PrometheusText()
        let hostile = "a\"b\\c\nd\r\ne}{,=x"
        text.family("bosun_things", .gauge, help: "Help with a \\ and a\nline feed.", [([("label", hostile)], 1.5)])
        text.single("bosun_big", .gauge, help: "Big.", 12_345_678_901)
        text.single("bosun_inf", .gauge, help: "Inf.", .infinity)
        let parsed = try Exposition(parsing: text.text)
        #expect(parsed.value("bosun_things", ["label": hostile]) == 1.5)
        #expect(parsed.families["bosun_things"]?.help == "Help with a \\\\ and a\\nline feed.")
        #expect(text.text.contains("bosun_big 12345678901\n"))
        #expect(text.text.contains("bosun_inf +Inf\n"))
        #expect(PrometheusText.number(0.25) == "0.25")
    }

    @Test("every family renders, parses strictly, and shows the figures it was given")
    func serviceMetricsRender() throws {
        let now: Int64 = 1_800_000_000_000
        var breaker = CircuitBreakerTests().breaker(threshold: 1)
        _ = breaker.record(BreakerReport(outcome: .transient, reason: "429"), at: Date())
        let report = StatusReport(
            supervisor: SupervisorStatus(
                pid: 1, version: "t", state: "running", listen: "x", config: "y", uptimeS: 5, statusText: ""),
            processes: [
                ProcessStatus(
                    name: "ingress", pid: 2, state: .ready, restarts: 0, uptimeS: 4, lastExit: nil, backoffMs: nil,
                    failure: nil, paused: nil),
                ProcessStatus(
                    name: "worker", pid: nil, state: .backoff, restarts: 3, uptimeS: nil, lastExit: nil,
                    backoffMs: 200, failure: nil, paused: true),
            ], breaker: breaker.status)
        let figures = StoreFigures(
            work: WorkFigures(
                jobs: [
                    KindStateCount(kind: "agent", state: "queued", count: 4),
                    KindStateCount(kind: "agent", state: "running", count: 1),
                    KindStateCount(kind: "gate", state: "succeeded", count: 2),
                ],
                retryingJobs: ["agent": 1], activeTasks: ["analysis": 3], liveRuns: ["agent": 1], oldestLiveRuns: [],
                inbox: InboxDepth(unprocessed: 2, oldestReceivedAtMs: now - 1500),
                outbox: [KindStateCount(kind: "forge", state: "pending", count: 5)],
                outboxFailedAttempts: ["forge": 7], oldestPendingEffectAtMs: now - 60_000),
            runs: RunFigures(
                outcomes: [
                    KindStateCount(kind: "agent", state: "success", count: 9),
                    KindStateCount(kind: "agent", state: "weird", count: 1),
                ],
                durations: [
                    "agent": RunDurations(
                        boundsMs: StoreFigures.runDurationBuckets.map { Int64($0 * 1000) },
                        cumulativeCounts: [0, 1, 2, 2, 3, 5, 8, 10, 10, 10, 10, 10], count: 10, sumMs: 1_234_500)
                ]),
            forge: [
                ForgeAPIStats(
                    host: "api.github.com", forge: "github", calls: [.success: 40, .clientError: 2],
                    rateLimit: ForgeRateLimit(remaining: 4990, limit: 5000, resetAtMs: now + 3_600_000, seenAtMs: now))
            ], readAtMs: now)
        var text = PrometheusText()
        IngressMetrics().write(into: &text)
        ServiceMetrics(status: report, figures: figures, nowMs: now).write(into: &text)
        let parsed = try Exposition(parsing: text.text)

        #expect(parsed.value("bosun_supervisor_reachable") == 1)
        #expect(parsed.value("bosun_process_state", ["process": "worker", "state": "backoff"]) == 1)
        #expect(parsed.value("bosun_process_state", ["process": "worker", "state": "ready"]) == 0)
        #expect(parsed.value("bosun_process_restarts_total", ["process": "worker"]) == 3)
        #expect(parsed.value("bosun_process_uptime_seconds", ["process": "worker"]) == nil)
        #expect(parsed.value("bosun_worker_paused") == 1)
        #expect(parsed.value("bosun_breaker_state", ["state": "open"]) == 1)
        #expect(parsed.value("bosun_breaker_transitions_total", ["to": "open"]) == 1)
        #expect(parsed.value("bosun_jobs", ["kind": "agent", "state": "queued"]) == 4)
        #expect(parsed.value("bosun_jobs", ["kind": "merge", "state": "cancelled"]) == 0)
        #expect(parsed.value("bosun_jobs_retrying", ["kind": "agent"]) == 1)
        #expect(parsed.value("bosun_tasks_active", ["state": "analysis"]) == 3)
        #expect(parsed.value("bosun_inbox_unprocessed") == 2)
        #expect(parsed.value("bosun_inbox_lag_seconds") == 1.5)
        #expect(parsed.value("bosun_outbox_effects", ["kind": "forge", "state": "pending"]) == 5)
        #expect(parsed.value("bosun_outbox_failed_attempts_total", ["kind": "forge"]) == 7)
        #expect(parsed.value("bosun_outbox_oldest_pending_seconds") == 60)
        #expect(parsed.value("bosun_runs_running", ["kind": "agent"]) == 1)
        #expect(parsed.value("bosun_runs_total", ["kind": "agent", "outcome": "success"]) == 9)
        // An outcome outside the known ones still gets its series, and the known ones stay.
        #expect(parsed.value("bosun_runs_total", ["kind": "agent", "outcome": "weird"]) == 1)
        #expect(parsed.value("bosun_runs_total", ["kind": "gate", "outcome": "timeout"]) == 0)
        #expect(parsed.value("bosun_run_duration_seconds_bucket", ["kind": "agent", "le": "60"]) == 3)
        #expect(parsed.value("bosun_run_duration_seconds_count", ["kind": "agent"]) == 10)
        #expect(parsed.value("bosun_run_duration_seconds_sum", ["kind": "agent"]) == 1234.5)
        #expect(parsed.value("bosun_run_duration_seconds_count", ["kind": "gate"]) == 0)
        let github = ["forge": "github", "host": "api.github.com"]
        #expect(parsed.value("bosun_forge_api_calls_total", github.merging(["status_class": "2xx"]) { $1 }) == 40)
        #expect(parsed.value("bosun_forge_api_calls_total", github.merging(["status_class": "error"]) { $1 }) == 0)
        #expect(parsed.value("bosun_forge_rate_limit_remaining", github) == 4990)
        #expect(parsed.value("bosun_forge_rate_limit_limit", github) == 5000)
        #expect(parsed.value("bosun_forge_rate_limit_reset_timestamp_seconds", github) == 1_800_003_600)
        #expect(parsed.families.keys.allSatisfy { $0.hasPrefix("bosun_") })

        // Without the supervisor and the store, the process's own families remain and say so.
        var bare = PrometheusText()
        ServiceMetrics(status: nil, figures: nil, nowMs: now).write(into: &bare)
        let alone = try Exposition(parsing: bare.text)
        #expect(alone.value("bosun_supervisor_reachable") == 0)
        #expect(alone.families["bosun_breaker_state"] == nil)
    }

    // MARK: Figures from the store

    @Test("queue, run, inbox and outbox figures are counted by SQL from real rows")
    func storeFigures() throws {
        let directory = TemporaryDirectory("bosun-figures")
        let database = try Database(path: directory.file("bosun.db"))
        try database.migrate()
        let now: Int64 = 1_800_000_000_000
        try database.write { transaction in
            try transaction.execute(
                """
                INSERT INTO tasks (id, project, issue, title, body, author, workflow, state, active, branch,
                                   created_at_ms, updated_at_ms, state_entered_at_ms)
                VALUES (1, 'p', '1', 't', '', 'a', 'default', 'development', 1, 'b', 0, 0, 0),
                       (2, 'p', '2', 't', '', 'a', 'default', 'done', 0, 'c', 0, 0, 0)
                """)
            // Jobs: one of each state, and one queued job waiting out a retry.
            let jobs: [(Int64, String, String, Int64, Int)] = [
                (1, "agent", "succeeded", 0, 1), (2, "agent", "running", 0, 1), (3, "gate", "failed", 0, 2),
                (4, "agent", "queued", now + 60_000, 1), (5, "merge", "queued", 0, 0),
            ]
            for (id, kind, state, available, attempt) in jobs {
                try transaction.execute(
                    """
                    INSERT INTO jobs (id, task_id, project, kind, role, stage, spec, state, attempt, available_at_ms,
                                      unique_key, created_at_ms)
                    VALUES (?, 1, 'p', ?, 'developer', 'development', '{}', ?, ?, ?, ?, 0)
                    """, .integer(id), .text(kind), .text(state), .integer(attempt), .integer(available),
                    .text("k\(id)"))
            }
            // Runs: 0.5 s success, 20 s success, 90 s permanent failure (agent); a lost gate run; one still going.
            let runs: [(Int64, Int, String, String?, Int64, Int64?)] = [
                (1, 1, "exited", "success", 0, 500), (4, 1, "exited", "success", 0, 20_000),
                (2, 1, "exited", "permanent", 0, 90_000), (3, 1, "lost", nil, 0, 1_000),
                (2, 2, "running", nil, now - 5_000, nil),
            ]
            for (job, attempt, state, classification, started, finished) in runs {
                try transaction.execute(
                    """
                    INSERT INTO runs (job_id, attempt, worker, state, run_dir, log_path, classification,
                                      started_at_ms, finished_at_ms)
                    VALUES (?, ?, 'w', ?, '/r', '/l', ?, ?, ?)
                    """, .integer(job), .integer(attempt), .text(state), .text(classification), .integer(started),
                    .integer(finished))
            }
            let effects: [(String, String, Int, Int64)] = [
                ("forge", "done", 3, 0), ("forge", "pending", 2, now - 30_000), ("notify", "failed", 12, 0),
                ("forge", "pending", 0, now - 10_000),
            ]
            for (index, (kind, state, attempts, created)) in effects.enumerated() {
                try transaction.execute(
                    """
                    INSERT INTO outbox (task_id, project, kind, effect, idempotency_key, state, attempts,
                                        next_try_at_ms, created_at_ms)
                    VALUES (1, 'p', ?, '{}', ?, ?, ?, 0, ?)
                    """, .text(kind), .text("e\(index)"), .text(state), .integer(attempts), .integer(created))
            }
        }
        let inbox = try Database.openInbox(path: directory.file("inbox.db"))
        _ = try inbox.write { transaction in
            try transaction.insertDelivery(
                NewDelivery(
                    source: "github", project: "p", event: "issues", deliveryID: "d1", bodySHA256: "x", headers: "{}",
                    body: [], receivedAtMs: now - 4_000))
        }
        let figures = try StoreFigures.read(from: database, inbox: inbox, nowMs: now)
        let work = figures.work
        func jobs(_ kind: String, _ state: String) -> Int {
            work.jobs.first { $0.kind == kind && $0.state == state }?.count ?? 0
        }
        #expect(jobs("agent", "queued") == 1)
        #expect(jobs("merge", "queued") == 1)
        #expect(jobs("gate", "failed") == 1)
        #expect(work.retryingJobs == ["agent": 1])
        #expect(work.activeTasks == ["development": 1])
        #expect(work.liveRuns == ["agent": 1])
        #expect(work.oldestLiveRuns.map(\.runID) == [5])
        #expect(work.oldestLiveRuns.first?.startedAtMs == now - 5_000)
        #expect(work.inbox == InboxDepth(unprocessed: 1, oldestReceivedAtMs: now - 4_000))
        #expect(work.outboxFailedAttempts == ["forge": 4, "notify": 12])
        #expect(work.oldestPendingEffectAtMs == now - 30_000)
        #expect(work.outbox.first { $0.kind == "forge" && $0.state == "pending" }?.count == 2)

        let runs = figures.runs
        func outcome(_ kind: String, _ name: String) -> Int {
            runs.outcomes.first { $0.kind == kind && $0.state == name }?.count ?? 0
        }
        #expect(outcome("agent", "success") == 2)
        #expect(outcome("agent", "permanent") == 1)
        #expect(outcome("gate", "lost") == 1)
        let agent = try #require(runs.durations["agent"])
        // Bounds 1, 5, 15, 30, 60, 120, … seconds: 0.5 s, 20 s and 90 s.
        #expect(agent.cumulativeCounts == [1, 1, 1, 2, 2, 3, 3, 3, 3, 3, 3, 3])
        #expect(agent.count == 3)
        #expect(agent.sumMs == 110_500)
        #expect(runs.durations["gate"]?.cumulativeCounts.first == 1)
    }

    // MARK: Forge calls

    @Test("rate-limit headers are read as GitHub, Gitea and GitLab send them; garbage is not a figure")
    func rateLimitHeaders() {
        let now: Int64 = 1_700_000_000_000
        let github = RateLimitStatus.parse(
            headers: ["x-ratelimit-remaining": "4999", "x-ratelimit-limit": "5000", "x-ratelimit-reset": "1700003600"],
            nowMilliseconds: now)
        #expect(github == RateLimitStatus(remaining: 4999, limit: 5000, resetAtMilliseconds: 1_700_003_600_000))
        let gitlab = RateLimitStatus.parse(
            headers: ["ratelimit-remaining": " 12 ", "ratelimit-reset": "30"], nowMilliseconds: now)
        #expect(gitlab == RateLimitStatus(remaining: 12, limit: nil, resetAtMilliseconds: now + 30_000))
        #expect(RateLimitStatus.parse(headers: [:], nowMilliseconds: now) == nil)
        #expect(RateLimitStatus.parse(headers: ["x-ratelimit-remaining": "-1"], nowMilliseconds: now) == nil)
        #expect(RateLimitStatus.parse(headers: ["x-ratelimit-remaining": "9999999999999"], nowMilliseconds: now) == nil)
        let noReset = RateLimitStatus.parse(
            headers: ["x-ratelimit-remaining": "3", "x-ratelimit-reset": "soon"], nowMilliseconds: now)
        #expect(noReset == RateLimitStatus(remaining: 3, limit: nil, resetAtMilliseconds: nil))
    }

    @Test("a forge client reports every call with its status class and rate limit; the tally adds up in the store")
    func forgeCallsCounted() async throws {
        try await FakeForgeServer.with(.github) { forge in
            forge.announceRateLimit(limit: 5000, remaining: 100, resetEpochSeconds: 1_900_000_000)
            forge.inject(FakeFault(method: "POST", pathSuffix: "/labels", reply: .message(500, "boom")))
            let tally = ForgeAPITally()
            let client = ForgeClient(
                target: .github(baseURL: forge.apiBase, owner: "owner", repo: "repo", token: forge.token),
                http: HTTPClient(), observer: tally.record)
            let failed = await blocking {
                client.perform(.ensureLabel(name: "bosun:x", color: "ededed"), idempotencyKey: "k1", attempt: 1)
            }
            #expect(failed.isHostFailure)
            let done = await blocking {
                client.perform(.ensureLabel(name: "bosun:x", color: "ededed"), idempotencyKey: "k1", attempt: 2)
            }
            if case .done = done {} else { Issue.record("the second attempt: \(done)") }
            let requests = forge.requests.count
            let drained = tally.drain()
            let host = try #require(drained.first)
            #expect(drained.count == 1)
            #expect(host.forge == "github")
            #expect(host.host == forge.origin.replacingOccurrences(of: "http://", with: ""))
            #expect(host.calls[.serverError] == 1)
            #expect(host.calls.values.reduce(0, +) == requests)
            #expect(host.rateLimit?.remaining == 100 - requests)
            #expect(host.rateLimit?.resetAtMs == 1_900_000_000_000)
            #expect(tally.drain().isEmpty)

            // Stored twice: the counts add up, the newer rate limit wins, an older one does not replace it.
            let directory = TemporaryDirectory("bosun-forge-stats")
            let database = try Database(path: directory.file("bosun.db"))
            try database.migrate()
            try database.write { try $0.addForgeAPIStats(host, nowMs: 1) }
            var older = host
            older.rateLimit?.remaining = 4321
            older.rateLimit?.seenAtMs -= 1
            try database.write { try $0.addForgeAPIStats(older, nowMs: 2) }
            try database.write {
                try $0.addForgeAPIStats(ForgeAPIStats(host: host.host, forge: "github", calls: [.error: 1]), nowMs: 3)
            }
            let stored = try #require(try database.read { try $0.forgeAPIStats() }.first)
            #expect(stored.calls[.success] == 2 * (host.calls[.success] ?? 0))
            #expect(stored.calls[.error] == 1)
            #expect(stored.rateLimit == host.rateLimit)

            // Counts that could not be stored go back and merge with newer ones.
            tally.restore([host])
            tally.restore([host])
            #expect(tally.drain().first?.calls[.serverError] == 2)
        }
    }

    // MARK: Breaker transitions and the watch interval

    @Test("the breaker counts its moves into each state, never reset")
    func breakerTransitions() {
        var breaker = CircuitBreakerTests().breaker(threshold: 1, pause: 10)
        let start = Date(timeIntervalSince1970: 1_800_000_000)
        let transient = BreakerReport(outcome: .transient, reason: "429")
        _ = breaker.record(transient, at: start)
        _ = breaker.tick(at: start.addingTimeInterval(10))
        _ = breaker.record(transient, at: start.addingTimeInterval(11))
        _ = breaker.tick(at: start.addingTimeInterval(40))
        _ = breaker.record(BreakerReport(outcome: .success, reason: ""), at: start.addingTimeInterval(41))
        #expect(breaker.transitions == BreakerTransitions(opened: 2, halfOpened: 2, closed: 1))
        _ = breaker.reset()
        #expect(breaker.transitions.closed == 1)
        _ = breaker.record(transient, at: start.addingTimeInterval(50))
        _ = breaker.reset()
        #expect(breaker.transitions == BreakerTransitions(opened: 3, halfOpened: 2, closed: 2))
        #expect(breaker.status.transitions == breaker.transitions)
    }

    @Test("a status from a supervisor without transition counters still decodes")
    func olderBreakerStatusDecodes() throws {
        let json = #"{"state":"closed","consecutive_transients":0,"threshold":3,"pause_s":300,"trips":0}"#
        let status = try IPCCoding.decoder().decode(BreakerStatus.self, from: Data(json.utf8))
        #expect(status.transitions == BreakerTransitions())
    }

    @Test("--watch takes 0.1 to 3600 seconds")
    func watchInterval() {
        #expect(StatusWatch.interval("2") == .seconds(2))
        #expect(StatusWatch.interval("0.25") == .milliseconds(250))
        for bad in ["0", "0.05", "-1", "abc", "nan", "inf", "3601", ""] {
            #expect(StatusWatch.interval(bad) == nil, "\(bad)")
        }
        #expect(StatusWatch.describe(.seconds(2)) == "2s")
        #expect(StatusWatch.describe(.milliseconds(250)) == "0.25s")
    }
}
