import Foundation
import IPC
import Store
import Synchronization
import Testing

extension ProcessLevel {
    @Suite("Rolling restart under load")
    struct RollingRestartUnderLoad {
        /// What the webhook clients saw, counted on their side.
        final class Tally: Sendable {
            let acknowledged = Mutex<[String]>([])
            let failed = Mutex<[String]>([])
            let refused = Atomic<Int>(0)
            let running = Atomic<Bool>(true)
        }

        /// Posts signed webhooks from `threads` threads until stopped: the even ones on keep-alive connections, the odd
        /// ones on a new connection each (forges do either).
        static func streamWebhooks(
            port: Int, signature: String, body: [UInt8], threads: Int, into tally: Tally
        ) -> Task<
            Void, Never
        > {
            Task {
                await onThreads(threads) { thread in
                    let client = HTTPTestClient(port: port)
                    var sequence = 0
                    let keepAlive = thread % 2 == 0
                    while tally.running.load(ordering: .relaxed) {
                        sequence += 1
                        let delivery = "rolling-\(thread)-\(sequence)"
                        do {
                            let reply = try client.send(
                                "POST", "/webhooks/github/hooks",
                                headers: [
                                    ("X-GitHub-Event", "issue_comment"), ("X-GitHub-Delivery", delivery),
                                    ("X-Hub-Signature-256", "sha256=\(signature)"),
                                    ("Content-Type", "application/json"),
                                ] + (keepAlive ? [] : [("Connection", "close")]), body: body)
                            if (200..<300).contains(reply.status) {
                                tally.acknowledged.withLock { $0.append(delivery) }
                            } else {
                                tally.failed.withLock {
                                    $0.append("\(delivery) at \(Date()): HTTP \(reply.status) \(reply.body)")
                                }
                            }
                        } catch HTTPTestClient.Failure.refused {
                            tally.refused.add(1, ordering: .relaxed)
                        } catch {
                            tally.failed.withLock { $0.append("\(delivery) at \(Date()): \(error)") }
                        }
                        if !keepAlive { client.disconnect() }
                    }
                }
            }
        }

        @Test(
            "bosun rolling-restart while signed webhooks stream in (keep-alive and not) and 6 agents run: no refusal, failure, loss or interrupted run; READY=1 and STATUS= truthful"
        )
        func underLoad() async throws {
            let scratch = TemporaryDirectory("bosun-rolling")
            let origin = try await makeOrigin(in: scratch)
            let notify = try NotifySocket(path: scratch.file("notify.sock"))
            let config = workerConfig(
                origin: origin, extra: "worker: { max_concurrency: 6, lease_s: 30, heartbeat_s: 5 }",
                moreProjects: """
                      - name: hooks
                        tracker: github
                        repo: { url: https://github.com/acme/hooks.git }
                        webhook: { secret_file: ./hook-secret }
                        authors: [alice]
                    """)
            try await withBosun(
                extraConfig: config, environment: ["BOSUN_TEST_MODE": "sleep-20", "NOTIFY_SOCKET": notify.path],
                files: ["hook-secret": "rolling-secret\n"]
            ) { bosun in
                let port = try await bosun.port()
                let ids = try await WorkerProcessTests().createTasks(bosun, count: 6)
                let database = try Database(path: bosun.directory.file("state/bosun.db"))
                try await eventually(timeout: .seconds(60), "6 agents running") {
                    try database.read { try $0.liveRuns() }.filter { $0.shimPID != nil }.count == 6
                }
                let startedBy = Set(try database.read { try $0.liveRuns() }.map(\.worker))
                #expect(startedBy.count == 1)
                #expect(notify.with("READY=1").count == 1)

                let fixture = try #require(WebhookFixture.all.first { $0.path == "github/issue_comment.created.json" })
                let signature = try hmacSHA256Hex(fixture.body, key: "rolling-secret")
                let tally = Tally()
                let load = Self.streamWebhooks(
                    port: port, signature: signature, body: fixture.body, threads: 6, into: tally)
                try await Task.sleep(for: .milliseconds(500))
                let began = ContinuousClock.now
                let result = try await bosun.cli(["rolling-restart"])
                let ended = ContinuousClock.now
                try await Task.sleep(for: .milliseconds(500))
                tally.running.store(false, ordering: .relaxed)
                await load.value
                #expect(result.status == .exited(code: 0), "\(result.output)")
                #expect(result.output.split(separator: "\n").count == 3, "\(result.output)")

                // The clients: every request answered 2xx, no connection refused, each 2xx'd delivery stored once.
                let acknowledged = tally.acknowledged.withLock { $0 }
                let failed = tally.failed.withLock { $0 }
                #expect(failed.isEmpty, "\(failed.count) failed: \(failed.prefix(5))")
                #expect(tally.refused.load(ordering: .relaxed) == 0)
                #expect(acknowledged.count > 50, "only \(acknowledged.count) webhooks went through")
                let inbox = try Database(path: bosun.directory.file("state/inbox.db"))
                let stored = try inbox.read {
                    try $0.query(
                        "SELECT delivery_id, COUNT(*) AS n FROM deliveries WHERE project = 'hooks' GROUP BY delivery_id"
                    )
                }
                let counts = Dictionary(
                    uniqueKeysWithValues: try stored.map {
                        (try $0.string("delivery_id") ?? "", try $0.int64("n") ?? 0)
                    })
                #expect(Set(counts.keys) == Set(acknowledged))
                #expect(counts.values.allSatisfy { $0 == 1 })

                // The agents: still running after the worker was replaced, adopted by the new one, none restarted.
                let live = try database.read { try $0.liveRuns() }
                #expect(live.count == 6, "the runs ended before the worker was replaced; the test proves nothing")
                #expect(Set(live.map(\.worker)).count == 1 && !startedBy.contains(live[0].worker))
                try await eventually(timeout: .seconds(60), "every analysis waiting for approval") {
                    try ids.allSatisfy { id in try database.read { try $0.task(id: id) }?.waitingOn == "approval" }
                }
                let runs = try database.read { transaction in try ids.flatMap { try transaction.runs(taskID: $0) } }
                #expect(runs.count == 6)
                #expect(runs.allSatisfy { $0.state == "exited" && $0.exitCode == 0 && $0.classification == "success" })
                #expect(Set(runs.map(\.jobID)).count == 6)
                let jobs = try database.read { transaction in try ids.flatMap { try transaction.jobs(taskID: $0) } }
                #expect(jobs.allSatisfy { $0.state == "succeeded" && $0.attempt == 1 })
                #expect(try database.read { try $0.liveRuns() }.isEmpty)

                // systemd: READY=1 was never withdrawn or re-sent; every STATUS= during the restart names the child
                // being replaced, in order, with the others ready; the last one says all three are ready.
                #expect(notify.with("READY=1").count == 1)
                let during = notify.all.filter { $0.at > began && $0.at < ended }.map(\.text)
                #expect(
                    !during.contains {
                        $0.contains("READY=1") || $0.contains("RELOADING=1") || $0.contains("STOPPING=1")
                    })
                let statuses = during.flatMap { $0.split(separator: "\n") }.filter { $0.hasPrefix("STATUS=") }
                    .map { String($0.dropFirst("STATUS=".count)) }
                #expect(statuses.last == "ingress ready, worker ready, gatekeeper ready", "\(statuses)")
                let steps = statuses.dropLast()
                let names = ["ingress", "worker", "gatekeeper"]
                var order: [String] = []
                for status in steps {
                    let step = names.enumerated().first { index, name in
                        status.hasPrefix("rolling restart: replacing \(name) (\(index + 1)/3); ")
                    }
                    guard let name = step?.element else {
                        Issue.record("a STATUS= that does not say what is replaced: \(status)")
                        continue
                    }
                    if order.last != name { order.append(name) }
                    for other in names where other != name {
                        #expect(status.contains("\(other) ready"), "\(status)")
                    }
                }
                #expect(order == names, "\(statuses)")
                #expect(steps.contains { $0.contains("worker stopping") })
                #expect(steps.contains { $0.contains("ingress starting") })
                #expect(
                    try await bosun.status().supervisor.statusText == "ingress ready, worker ready, gatekeeper ready")
            }
        }
    }
}
