import Foundation
import LinuxProcess
import Store
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `GET /metrics` on a running Bosun, parsed strictly.
func scrape(_ bosun: BosunInstance) async throws -> Exposition {
    let port = try await bosun.port()
    let reply = try await onThread { try HTTPTestClient(port: port).send("GET", "/metrics") }
    guard reply.status == 200 else { throw TestFailure("/metrics answered \(reply.status): \(reply.body)") }
    guard reply.headers["content-type"]?.hasPrefix("text/plain; version=0.0.4") == true else {
        throw TestFailure("/metrics content type: \(reply.headers["content-type"] ?? "none")")
    }
    return try Exposition(parsing: reply.body)
}

extension ProcessLevel {
    @Suite("Observability: /metrics after real work, bosun status and --watch")
    struct MetricsProcessTests {
        @Test("runs, queue, tasks, inbox and outbox in /metrics match the store after real runs; a kill counts")
        func afterRealWork() async throws {
            let scratch = TemporaryDirectory("bosun-origin")
            let origin = try await makeOrigin(in: scratch)
            try await withBosun(
                extraConfig: workerConfig(origin: origin), environment: ["BOSUN_TEST_MODE": "sleep-0"]
            ) { bosun in
                let ids = try await WorkerProcessTests().createTasks(bosun, count: 2)
                let database = try Database(path: bosun.directory.file("state/bosun.db"))
                try await eventually(timeout: .seconds(60), "both analyses waiting for approval") {
                    try ids.allSatisfy { id in try database.read { try $0.task(id: id) }?.waitingOn == "approval" }
                }
                // The figures are cached for up to two seconds: wait for them to catch up, then compare each with
                // the rows.
                var metrics = try await scrape(bosun)
                try await eventually(timeout: .seconds(10), "two successful agent runs in /metrics") {
                    metrics = try await scrape(bosun)
                    return metrics.value("bosun_runs_total", ["kind": "agent", "outcome": "success"]) == 2
                        && metrics.value("bosun_inbox_unprocessed") == 0
                }
                let jobRows = try database.read {
                    try $0.query("SELECT kind, state, COUNT(*) AS n FROM jobs GROUP BY kind, state")
                }
                #expect(!jobRows.isEmpty)
                for row in jobRows {
                    let labels = ["kind": try row.string("kind") ?? "", "state": try row.string("state") ?? ""]
                    #expect(metrics.value("bosun_jobs", labels) == Double(try row.int("n") ?? -1), "\(labels)")
                }
                #expect(
                    metrics.samples("bosun_jobs").map(\.value).reduce(0, +) == Double(try countRows(database, "jobs")))
                #expect(metrics.value("bosun_jobs", ["kind": "agent", "state": "succeeded"]) == 2)
                #expect(metrics.value("bosun_jobs", ["kind": "agent", "state": "queued"]) == 0)
                #expect(metrics.value("bosun_runs_running", ["kind": "agent"]) == 0)
                #expect(metrics.value("bosun_tasks_active", ["state": "analysis"]) == 2)
                #expect(metrics.value("bosun_run_duration_seconds_count", ["kind": "agent"]) == 2)
                let sum = try #require(metrics.value("bosun_run_duration_seconds_sum", ["kind": "agent"]))
                #expect(sum >= 0 && sum < 60)
                #expect(metrics.value("bosun_run_duration_seconds_bucket", ["kind": "agent", "le": "+Inf"]) == 2)
                let effectRows = try database.read {
                    try $0.query("SELECT kind, state, COUNT(*) AS n FROM outbox GROUP BY kind, state")
                }
                for row in effectRows {
                    let labels = ["kind": try row.string("kind") ?? "", "state": try row.string("state") ?? ""]
                    #expect(
                        metrics.value("bosun_outbox_effects", labels) == Double(try row.int("n") ?? -1), "\(labels)")
                }
                #expect(metrics.value("bosun_supervisor_reachable") == 1)
                #expect(metrics.value("bosun_breaker_state", ["state": "closed"]) == 1)
                for name in ["ingress", "worker", "gatekeeper"] {
                    #expect(metrics.value("bosun_process_state", ["process": name, "state": "ready"]) == 1)
                    #expect(metrics.value("bosun_process_restarts_total", ["process": name]) == 0)
                }
                // The process's own families are still there.
                #expect(metrics.value("bosun_http_request_duration_seconds_count") ?? 0 > 0)

                // A scrape storm is served from the cached figures: every scrape answers and parses.
                let port = try await bosun.port()
                let storm = try await withThrowingTaskGroup(of: Int.self) { group in
                    for _ in 0..<8 {
                        group.addTask {
                            try await onThread {
                                let client = HTTPTestClient(port: port)
                                var good = 0
                                for _ in 0..<25 {
                                    let reply = try client.send("GET", "/metrics")
                                    if reply.status == 200, (try? Exposition(parsing: reply.body)) != nil { good += 1 }
                                }
                                return good
                            }
                        }
                    }
                    return try await group.reduce(0, +)
                }
                #expect(storm == 200)

                // A crash of the gatekeeper is a restart, counted.
                let gatekeeper = try #require(try await bosun.process("gatekeeper").pid)
                kill(gatekeeper, SIGKILL)
                _ = try await bosun.waitForReplacement(of: "gatekeeper", oldPID: gatekeeper)
                try await eventually(timeout: .seconds(10), "the restart in /metrics") {
                    let after = try await scrape(bosun)
                    return after.value("bosun_process_restarts_total", ["process": "gatekeeper"]) == 1
                        && after.value("bosun_process_state", ["process": "gatekeeper", "state": "ready"]) == 1
                        && after.value("bosun_process_restarts_total", ["process": "worker"]) == 0
                }

                // The same figures in `bosun status`.
                let status = try await bosun.cli(["status"])
                #expect(status.status == .exited(code: 0), "\(status.output)")
                let lines = status.output.split(separator: "\n").map(String.init)
                let agentRow = try #require(lines.first { $0.hasPrefix("agent ") }, "\(status.output)")
                #expect(agentRow.split(separator: " ") == ["agent", "0", "0", "0", "2", "0", "0"], "\(status.output)")
                #expect(lines.contains { $0.hasPrefix("JOBS") && $0.contains("QUEUED") && $0.contains("RUNNING") })
                #expect(lines.contains("runs: 0 running"), "\(status.output)")
                #expect(lines.contains("tasks: 2 active (analysis 2)"), "\(status.output)")
                #expect(lines.contains { $0.hasPrefix("inbox: 0 unprocessed, lag ") }, "\(status.output)")
                #expect(lines.contains { $0.hasPrefix("outbox: ") && $0.contains("pending") }, "\(status.output)")
                let gatekeeperRow = try #require(lines.first { $0.hasPrefix("gatekeeper ") })
                #expect(gatekeeperRow.contains("killed by SIGKILL"), "\(gatekeeperRow)")
                #expect(lines.contains { $0.hasPrefix("breaker: closed") })
            }
        }

        @Test("a rate-limited agent trips the breaker: its state and transitions in /metrics, then a reset")
        func breakerInMetrics() async throws {
            let scratch = TemporaryDirectory("bosun-origin")
            let origin = try await makeOrigin(in: scratch)
            try await withBosun(
                extraConfig: workerConfig(origin: origin, extra: rateLimitedWorker),
                environment: ["BOSUN_TEST_MODE": "rate-limit"]
            ) { bosun in
                _ = try await WorkerProcessTests().createTasks(bosun, count: 2)
                try await eventually(timeout: .seconds(60), "the breaker open in /metrics") {
                    let metrics = try await scrape(bosun)
                    return metrics.value("bosun_breaker_state", ["state": "open"]) == 1
                        && metrics.value("bosun_runs_total", ["kind": "agent", "outcome": "transient"]) == 2
                }
                let open = try await scrape(bosun)
                #expect(open.value("bosun_breaker_state", ["state": "closed"]) == 0)
                #expect(open.value("bosun_breaker_transitions_total", ["to": "open"]) == 1)
                #expect(open.value("bosun_breaker_transitions_total", ["to": "closed"]) == 0)
                // The rate-limited jobs wait for the reset an hour away: queued, retrying, not failed.
                #expect(open.value("bosun_jobs_retrying", ["kind": "agent"]) == 2)
                #expect(open.value("bosun_jobs", ["kind": "agent", "state": "queued"]) == 2)
                #expect(open.value("bosun_runs_total", ["kind": "agent", "outcome": "permanent"]) == 0)
                let table = try await bosun.cli(["status"])
                #expect(table.output.contains("breaker: OPEN"), "\(table.output)")

                let reset = try await bosun.cli(["breaker", "--reset"])
                #expect(reset.status == .exited(code: 0), "\(reset.output)")
                try await eventually(timeout: .seconds(10), "the reset in /metrics") {
                    let metrics = try await scrape(bosun)
                    return metrics.value("bosun_breaker_state", ["state": "closed"]) == 1
                        && metrics.value("bosun_breaker_transitions_total", ["to": "closed"]) == 1
                        && metrics.value("bosun_breaker_transitions_total", ["to": "open"]) == 1
                }
            }
        }

        @Test("forge effects against a fake GitHub: calls by status class and the rate limit remaining")
        func forgeCallsInMetrics() async throws {
            try await FakeForgeServer.with(.github) { forge in
                forge.announceRateLimit(limit: 5000, remaining: 4000, resetEpochSeconds: 2_000_000_000)
                let config = """
                    agents:
                      fake: { argv: [/bin/true], probe: [/bin/true] }
                    projects:
                      - name: widget
                        tracker: github
                        repo: { url: \(forge.origin)/owner/repo.git, api_url: \(forge.apiBase) }
                        token_file: ./forge-token
                        webhook: { insecure: true }
                        authors: [alice]
                    """
                try await withBosun(extraConfig: config, files: ["forge-token": forge.token + "\n"]) { bosun in
                    // Nothing to run here: only the gatekeeper's effects on the forge matter.
                    #expect(try await bosun.cli(["pause"]).status == .exited(code: 0))
                    let created = try await bosun.cli(["task", "create", "--project", "widget", "--issue", "7"])
                    #expect(created.status == .exited(code: 0), "\(created.output)")
                    let host = forge.origin.replacingOccurrences(of: "http://", with: "")
                    let labels = ["forge": "github", "host": host]
                    var metrics = try await scrape(bosun)
                    try await eventually(timeout: .seconds(30), "every forge call in /metrics") {
                        let sent = forge.requests.count
                        metrics = try await scrape(bosun)
                        let counted = metrics.samples("bosun_forge_api_calls_total").filter {
                            $0.labels["host"] == host && $0.labels["forge"] == "github"
                        }.map(\.value).reduce(0, +)
                        return sent > 0 && counted == Double(sent) && forge.requests.count == sent
                            && metrics.value("bosun_forge_rate_limit_remaining", labels) == Double(4000 - sent)
                    }
                    let twoHundreds = metrics.value(
                        "bosun_forge_api_calls_total", labels.merging(["status_class": "2xx"]) { $1 })
                    #expect((twoHundreds ?? 0) >= 1)
                    #expect(metrics.value("bosun_forge_rate_limit_limit", labels) == 5000)
                    #expect(metrics.value("bosun_forge_rate_limit_reset_timestamp_seconds", labels) == 2_000_000_000)
                    let seen = try #require(metrics.value("bosun_forge_rate_limit_seen_timestamp_seconds", labels))
                    #expect(abs(seen - Date().timeIntervalSince1970) < 120)
                    #expect(metrics.value("bosun_outbox_effects", ["kind": "forge", "state": "done"]) ?? 0 >= 1)
                    #expect(metrics.value("bosun_worker_paused") == 1)
                }
            }
        }

        @Test("bosun status --watch redraws until SIGINT or SIGTERM and exits 0; bad arguments are usage errors")
        func watch() async throws {
            try await withBosun { bosun in
                for (signal, extra) in [(SIGINT, [String]()), (SIGTERM, ["--json"])] {
                    let output = bosun.directory.file("watch-\(signal).out")
                    let watcher = try TestProcess(
                        Binaries.bosun, ["status", "--watch", "0.2", "-c", bosun.configPath] + extra, output: output)
                    let marker = extra.isEmpty ? "Ctrl-C stops" : "\"supervisor\""
                    try await eventually(timeout: .seconds(20), "two snapshots") {
                        watcher.output.components(separatedBy: marker).count > 2
                    }
                    watcher.signal(signal)
                    let status = await watcher.wait(timeout: .seconds(10))
                    if status == nil { await watcher.terminate() }
                    #expect(status == .exited(code: 0), "\(watcher.output)")
                    let text = watcher.output
                    // Not a terminal: no escape sequences, snapshots a blank line apart.
                    #expect(!text.contains("\u{1B}"))
                    let snapshots = text.components(separatedBy: "\n\n" + (extra.isEmpty ? "every 0.2s" : "{"))
                    #expect(snapshots.count >= 2, "\(text)")
                    if extra.isEmpty {
                        #expect(text.hasPrefix("every 0.2s · "))
                        #expect(text.contains("JOBS"))
                        #expect(text.contains("breaker: closed"))
                    } else {
                        for line in text.split(separator: "\n") {
                            let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
                            #expect(object?["processes"] != nil)
                        }
                    }
                }

                // On a terminal each redraw clears the screen first.
                let pty = try await run(
                    "/usr/bin/python3",
                    [
                        "-c", Self.underTerminal, Binaries.bosun, "status", "--watch", "0.2", "-c", bosun.configPath,
                    ], in: bosun.directory)
                let clears = pty.output.split(separator: " ").first { $0.hasPrefix("clears=") }
                    .flatMap { Int($0.dropFirst(7).trimmingCharacters(in: .whitespacesAndNewlines)) }
                #expect(pty.output.hasPrefix("exit=0 "), "\(pty.output)")
                #expect((clears ?? 0) >= 2, "\(pty.output)")

                for bad in [["--watch", "abc"], ["--watch", "0"], ["--watch", "-1"], ["--watch", "nan"], ["5"]] {
                    let result = try await bosun.cli(["status"] + bad)
                    #expect(result.status == .exited(code: 64), "\(bad): \(result.output)")
                    #expect(result.output.contains("Error:") || result.output.contains("Usage:"), "\(result.output)")
                }
            }
        }

        /// Runs argv[1…] with its output on a pseudo-terminal for a second and a half, sends SIGINT, and prints
        /// `exit=N clears=M`: its exit code and how many screen clears it wrote.
        static let underTerminal = """
            import os, select, signal, subprocess, sys, time
            master, slave = os.openpty()
            child = subprocess.Popen(sys.argv[1:], stdout=slave, stderr=slave, stdin=subprocess.DEVNULL)
            os.close(slave)
            out, start, signalled = b"", time.time(), False
            while True:
                if not signalled and time.time() - start > 1.5:
                    child.send_signal(signal.SIGINT)
                    signalled = True
                if time.time() - start > 20:
                    child.kill()
                    break
                ready, _, _ = select.select([master], [], [], 0.1)
                if ready:
                    try:
                        chunk = os.read(master, 65536)
                    except OSError:
                        break
                    if not chunk:
                        break
                    out += chunk
                elif signalled and child.poll() is not None:
                    break
            code = child.wait(timeout=10)
            print("exit=%d clears=%d" % (code, out.count(b"\\x1b[2J")))
            """
    }
}

private func countRows(_ database: Database, _ table: String) throws -> Int {
    try database.read { try $0.queryFirst("SELECT COUNT(*) AS n FROM \(table)")?.int("n") ?? 0 }
}
