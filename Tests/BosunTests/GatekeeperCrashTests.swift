import Foundation
import Store
import Testing

#if canImport(Glibc)
import Glibc
#endif

extension ProcessLevel {
    @Suite("Gatekeeper: kill -9 in the middle of a burst")
    struct GatekeeperCrashTests {
        @Test("every delivery applied exactly once: no duplicated task, job, audit row or effect")
        func killDuringBurst() async throws {
            let labeled = try #require(WebhookFixture.all.first { $0.path == "github/issues.labeled.json" })
            let comment = try #require(WebhookFixture.all.first { $0.path == "github/issue_comment.created.json" })
            let config = """
                supervisor: { restart: { base_ms: 10, max_ms: 50, budget: 100, window_s: 60 } }
                projects:
                  - name: hello
                    tracker: github
                    repo: { url: https://github.com/Codertocat/Hello-World.git }
                    webhook: { insecure: true }
                    trigger: { kind: label, label: bug }
                    authors: [Codertocat]
                """
            try await withBosun(extraConfig: config) { bosun in
                let paused = try await bosun.cli(["pause"])
                #expect(paused.status == .exited(code: 0))
                let database = try Database(path: bosun.directory.file("state/bosun.db"))
                let inbox = try Database(path: bosun.directory.file("state/inbox.db"))
                let issues = 1500
                try inbox.write { transaction in
                    for number in 1...issues {
                        for (kind, fixture) in [("issues", labeled), ("issue_comment", comment)] {
                            var object = try #require(
                                try JSONSerialization.jsonObject(with: Data(fixture.body)) as? [String: Any])
                            var issue = try #require(object["issue"] as? [String: Any])
                            issue["number"] = number
                            object["issue"] = issue
                            let body = Array(try JSONSerialization.data(withJSONObject: object))
                            _ = try transaction.insertDelivery(
                                NewDelivery(
                                    source: "github", project: "hello", event: kind, deliveryID: "\(kind)-\(number)",
                                    bodySHA256: "\(kind)-\(number)", headers: "{}", body: body, receivedAtMs: 1))
                        }
                    }
                }
                // Kill the gatekeeper whenever it is part-way through the burst, several times.
                var kills = 0
                var lastPID: Int32 = 0
                let total = issues * 2
                while kills < 5 {
                    let left = try inbox.inboxDepth(appliedIn: database).unprocessed
                    if left == 0 { break }
                    let gatekeeper = try await bosun.process("gatekeeper")
                    if let pid = gatekeeper.pid, pid != lastPID, gatekeeper.state == .ready, left < total {
                        kill(pid, SIGKILL)
                        lastPID = pid
                        kills += 1
                    }
                    try await Task.sleep(for: .milliseconds(30))
                }
                try await eventually(timeout: .seconds(120), "the inbox applied") {
                    try inbox.inboxDepth(appliedIn: database).unprocessed == 0
                }
                #expect(kills >= 1)
                let counts = try database.read { transaction in
                    (
                        tasks: try transaction.queryFirst("SELECT COUNT(*) AS n FROM tasks")?.int("n") ?? -1,
                        jobs: try transaction.queryFirst("SELECT COUNT(*) AS n FROM jobs")?.int("n") ?? -1,
                        audit: try transaction.queryFirst(
                            "SELECT COUNT(*) AS n FROM task_events WHERE delivery_id IS NOT NULL")?.int("n") ?? -1,
                        effects: try transaction.queryFirst("SELECT COUNT(*) AS n FROM outbox")?.int("n") ?? -1,
                        perTaskJobs: try transaction.queryFirst(
                            "SELECT MAX(n) AS m FROM (SELECT COUNT(*) AS n FROM jobs GROUP BY task_id)")?.int("m") ?? -1
                    )
                }
                #expect(counts.tasks == issues)
                #expect(counts.jobs == issues)
                #expect(counts.perTaskJobs == 1)
                // created + start for each trigger; the comments find nothing waiting and are recorded nowhere.
                #expect(counts.audit == issues * 2)
                // One label change per task: set bosun:analysis (with the other state labels to take off).
                #expect(counts.effects == issues)
            }
        }
    }
}
