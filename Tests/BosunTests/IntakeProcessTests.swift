import Foundation
import IPC
import Store
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Projects that take webhooks from every forge, signed with `bench-secret`.
let intakeConfig = """
    projects:
      - name: demo
        tracker: github
        repo: { url: https://github.com/acme/demo.git }
        webhook: { secret_file: ./hook-secret }
      - name: board
        tracker: plane
        repo: { url: https://github.com/acme/board.git }
        webhook: { secret_file: ./hook-secret }
        plane: { project_id: 59e3be42-87ec-4950-99a3-ae639cf2b089 }
      - name: unsigned
        tracker: github
        repo: { url: https://github.com/acme/unsigned.git }
    """

let intakeFiles = ["hook-secret": "bench-secret\n"]

extension ProcessLevel {
    @Suite("Webhook intake over HTTP")
    struct Intake {
        /// Rows in the inbox, read with a separate connection.
        static func rows(_ bosun: BosunInstance, _ filter: String = "1 = 1") throws -> [Row] {
            let database = try Database(path: bosun.directory.file("state/inbox.db"))
            return try database.read {
                try $0.query(
                    """
                    SELECT * FROM deliveries JOIN delivery_bodies USING (id) WHERE \(filter) ORDER BY id
                    """)
            }
        }

        /// Another process takes a database's write lock (the inbox file's unless told) and holds it for `seconds`;
        /// returns once it holds it.
        static func holdWriteLock(
            _ bosun: BosunInstance, seconds: Double, file: String = "state/inbox.db"
        ) async throws -> TestProcess {
            let locker = try TestProcess(
                "/usr/bin/python3",
                [
                    "-c",
                    "import sqlite3, sys, time\n"
                        + "db = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
                        + "db.execute('BEGIN IMMEDIATE'); print('locked', flush=True); time.sleep(float(sys.argv[2]))",
                    bosun.directory.file(file), String(seconds),
                ],
                output: bosun.directory.file("locker.out"))
            try await eventually("the lock is held") { locker.output.contains("locked") }
            return locker
        }

        static func post(
            _ fixture: WebhookFixture, port: Int, delivery: String, project: String? = nil
        ) throws
            -> HTTPTestClient.Reply
        {
            let client = HTTPTestClient(port: port)
            let target = project ?? (fixture.forge == "plane" ? "board" : "demo")
            return try client.send(
                "POST", "/webhooks/\(fixture.forge)/\(target)",
                headers: try fixture.headers(delivery: delivery, secret: "bench-secret") + [
                    ("Content-Type", "application/json")
                ], body: fixture.body)
        }

        @Test("every recorded payload of every forge is verified, stored once, and acknowledged 202; a resend is 200")
        func everyFixture() async throws {
            try await withBosun(extraConfig: intakeConfig, files: intakeFiles) { bosun in
                let port = try await bosun.port()
                var accepted: [(WebhookFixture, String)] = []
                for (index, fixture) in WebhookFixture.all.enumerated() {
                    let delivery = "fixture-\(index)"
                    let reply = try Self.post(fixture, port: port, delivery: delivery)
                    if fixture.forge == "github" && fixture.event == "ping" {
                        #expect(reply.status == 200, "\(fixture.path): \(reply.body)")
                        continue
                    }
                    #expect(reply.status == 202, "\(fixture.path): \(reply.status) \(reply.body)")
                    if reply.body.contains("\"status\":\"ignored\"") {
                        #expect(fixture.forge == "plane", "\(fixture.path) was ignored")
                        continue
                    }
                    #expect(reply.body == "{\"delivery\":\"\(delivery)\",\"status\":\"accepted\"}")
                    accepted.append((fixture, delivery))
                    let again = try Self.post(fixture, port: port, delivery: delivery)
                    #expect(again.status == 200)
                    #expect(again.body.contains("\"status\":\"duplicate\""))
                }
                let rows = try Self.rows(bosun)
                #expect(rows.count == accepted.count)
                #expect(accepted.count >= 40)
                for ((fixture, delivery), row) in zip(accepted, rows) {
                    #expect(try row.string("source") == fixture.forge)
                    #expect(try row.string("event") == fixture.event)
                    #expect(try row.string("delivery_id") == delivery)
                    #expect(try row.blob("body") == fixture.body, "\(fixture.path) stored byte for byte")
                }
                // Gitea's distinct review event types arrive as such.
                #expect(rows.contains { (try? $0.string("event")) == "pull_request_approved" })
                #expect(rows.contains { (try? $0.string("event")) == "pull_request_rejected" })
                // The Plane payload for an unmapped project and the project event were not stored.
                #expect(rows.filter { (try? $0.string("source")) == "plane" }.count == 3)
            }
        }

        @Test("the same delivery posted 1,000 times from 50 connections: one row, every answer 2xx")
        func duplicateStorm() async throws {
            try await withBosun(extraConfig: intakeConfig, files: intakeFiles) { bosun in
                let port = try await bosun.port()
                let fixture = try #require(WebhookFixture.all.first { $0.path == "github/issues.opened.json" })
                let headers = try fixture.headers(delivery: "the-one", secret: "bench-secret")
                let statuses = Mutex<[Int: Int]>([:])
                let failures = Mutex<[String]>([])
                await onThreads(50) { _ in
                    let client = HTTPTestClient(port: port)
                    for _ in 0..<20 {
                        do {
                            let reply = try client.send(
                                "POST", "/webhooks/github/demo", headers: headers, body: fixture.body)
                            statuses.withLock { $0[reply.status, default: 0] += 1 }
                        } catch {
                            failures.withLock { $0.append("\(error)") }
                        }
                    }
                }
                #expect(failures.withLock { $0 }.isEmpty)
                #expect(statuses.withLock { $0 } == [202: 1, 200: 999])
                #expect(try Self.rows(bosun).count == 1)
            }
        }

        @Test("Plane: one body re-signed under 5 delivery ids is stored once")
        func planeRetries() async throws {
            try await withBosun(extraConfig: intakeConfig, files: intakeFiles) { bosun in
                let port = try await bosun.port()
                for path in ["plane/v1.issue.delete.json", "plane/v2.workitem.comment.created.json"] {
                    let fixture = try #require(WebhookFixture.all.first { $0.path == path })
                    let replies = try (1...5).map {
                        try Self.post(fixture, port: port, delivery: "\(path)-retry-\($0)")
                    }
                    #expect(replies.map(\.status) == [202, 200, 200, 200, 200], "\(path)")
                }
                #expect(try Self.rows(bosun).count == 2)
            }
        }

        @Test(
            "bad input changes nothing: bad signature 401, malformed JSON 400, no secret 403, unknown project 404, unmapped Plane project ignored"
        )
        func badInput() async throws {
            try await withBosun(extraConfig: intakeConfig, files: intakeFiles) { bosun in
                let port = try await bosun.port()
                let client = HTTPTestClient(port: port)
                let body = Array("{\"action\":\"opened\"}".utf8)
                let signature = try hmacSHA256Hex(body, key: "bench-secret")
                let forged = try client.send(
                    "POST", "/webhooks/github/demo",
                    headers: [
                        ("X-GitHub-Event", "issues"), ("X-GitHub-Delivery", "1"),
                        ("X-Hub-Signature-256", "sha256=" + String(signature.reversed())),
                    ], body: body)
                #expect(forged.status == 401)
                #expect(forged.body.contains("\"error\":\"invalid signature\""))
                let broken = Array("{\"action\":".utf8)
                let malformed = try client.send(
                    "POST", "/webhooks/github/demo",
                    headers: [
                        ("X-GitHub-Event", "issues"), ("X-GitHub-Delivery", "2"),
                        ("X-Hub-Signature-256", "sha256=" + (try hmacSHA256Hex(broken, key: "bench-secret"))),
                    ], body: broken)
                #expect(malformed.status == 400)
                #expect(malformed.body.contains("malformed JSON"))
                let unsigned = try client.send(
                    "POST", "/webhooks/github/unsigned",
                    headers: [("X-GitHub-Event", "issues"), ("X-GitHub-Delivery", "3")],
                    body: body)
                #expect(unsigned.status == 403)
                #expect(unsigned.body.contains("has no webhook secret"))
                #expect(try client.send("POST", "/webhooks/github/nobody", body: body).status == 404)
                #expect(try client.send("POST", "/webhooks/bitbucket/demo", body: body).status == 404)
                let link = try #require(WebhookFixture.all.first { $0.path == "plane/v2.workitem.link.created.json" })
                let ignored = try Self.post(link, port: port, delivery: "4")
                #expect(ignored.status == 202)
                #expect(ignored.body == "{\"reason\":\"unknown project\",\"status\":\"ignored\"}")
                #expect(try Self.rows(bosun).isEmpty)
            }
        }

        @Test(
            "an oversized body is refused with 413 before it is read; a slow client is cut off while others are served")
        func limitsAndSlowClients() async throws {
            let config = intakeConfig + "\ningress: { max_body_bytes: 4096, header_timeout_s: 2, body_timeout_s: 2 }\n"
            try await withBosun(extraConfig: config, files: intakeFiles) { bosun in
                let port = try await bosun.port()
                // Announce 10 MB, send none of it: the answer comes anyway, and the connection closes.
                let announcer = HTTPTestClient(port: port)
                try announcer.writeRaw(
                    Array("POST /webhooks/github/demo HTTP/1.1\r\nHost: x\r\nContent-Length: 10485760\r\n\r\n".utf8))
                let refused = try announcer.readRaw()
                #expect(refused.status == 413)
                #expect(refused.headers["connection"] == "close")
                // Chunked, with no length announced: cut off once past the limit.
                let chunked = HTTPTestClient(port: port)
                let chunk = String(repeating: "x", count: 3000)
                try chunked.writeRaw(
                    Array(
                        ("POST /webhooks/github/demo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                            + "bb8\r\n\(chunk)\r\nbb8\r\n\(chunk)\r\n").utf8))
                #expect(try chunked.readRaw().status == 413)

                // A client that writes a megabyte of an over-limit body before reading still gets its 413: the
                // connection ends in order, not with a reset.
                let pusher = HTTPTestClient(port: port)
                try pusher.writeRaw(
                    Array("POST /webhooks/github/demo HTTP/1.1\r\nHost: x\r\nContent-Length: 10485760\r\n\r\n".utf8)
                        + [UInt8](repeating: 0x7b, count: 1 << 20))
                #expect(try pusher.readRaw().status == 413)
                // A refusal that needs no body is given before reading any: unknown project, no secret.
                let unknown = HTTPTestClient(port: port)
                try unknown.writeRaw(
                    Array("POST /webhooks/github/nobody HTTP/1.1\r\nHost: x\r\nContent-Length: 3000\r\n\r\n".utf8))
                let notFound = try unknown.readRaw()
                #expect(notFound.status == 404)
                #expect(notFound.headers["connection"] == "close")

                // A client trickling its request head, a byte every 400 ms.
                let slow = try RawTCPSocket(port: port)
                let started = ContinuousClock.now
                let served = Mutex(0)
                let trickle = Task {
                    for byte in "POST /webhooks/github/demo HTTP/1.1\r\nHost: slow\r\n".utf8 {
                        guard slow.send([byte]) else { return }
                        try? await Task.sleep(for: .milliseconds(400))
                    }
                }
                await onThreads(1) { _ in
                    let client = HTTPTestClient(port: port)
                    for _ in 0..<10 {
                        if (try? client.send("GET", "/healthz").status) == 200 { served.withLock { $0 += 1 } }
                        usleep(200_000)
                    }
                }
                try await eventually(timeout: .seconds(10), "the slow client is disconnected") { slow.isClosed }
                trickle.cancel()
                let elapsed = ContinuousClock.now - started
                #expect(elapsed < .seconds(6), "cut off after \(elapsed)")
                #expect(served.withLock { $0 } == 10)
                #expect(try Self.rows(bosun).isEmpty)
            }
        }

        @Test("bodies in memory are capped across connections; an answered request's connection keeps its deadlines")
        func bodyBudgetAndDeadlines() async throws {
            let config =
                intakeConfig + """

                    ingress: { max_body_bytes: 4096, max_inflight_body_bytes: 8192, header_timeout_s: 1, body_timeout_s: 2 }
                    """
            try await withBosun(extraConfig: config, files: intakeFiles) { bosun in
                let port = try await bosun.port()
                // Two bodies announced at the limit and held unfinished fill the budget.
                let holders = try (0..<2).map { _ in try RawTCPSocket(port: port) }
                for holder in holders {
                    #expect(
                        holder.send(
                            Array(
                                "POST /webhooks/github/demo HTTP/1.1\r\nHost: x\r\nContent-Length: 4096\r\n\r\n{".utf8))
                    )
                }
                try await Task.sleep(for: .milliseconds(300))
                let overloaded = try HTTPTestClient(port: port).send(
                    "POST", "/webhooks/github/demo", headers: [("X-GitHub-Event", "issues")], body: Array("{}".utf8))
                #expect(overloaded.status == 503)
                #expect(overloaded.body.contains("overloaded"))
                #expect(overloaded.headers["retry-after"] == "5")
                // Their body deadline ends them and frees the budget.
                try await eventually(timeout: .seconds(10), "the held bodies are cut off") {
                    holders.allSatisfy(\.isClosed)
                }
                let body = Array("{\"ok\":true}".utf8)
                let accepted = try HTTPTestClient(port: port).send(
                    "POST", "/webhooks/github/demo",
                    headers: [
                        ("X-GitHub-Event", "issues"), ("X-GitHub-Delivery", "after-budget"),
                        ("X-Hub-Signature-256", "sha256=" + (try hmacSHA256Hex(body, key: "bench-secret"))),
                    ], body: body)
                #expect(accepted.status == 202)

                // A request answered before its body is read (no such route): the body, then a trickled next head,
                // still meet their deadlines.
                let early = try RawTCPSocket(port: port)
                #expect(early.send(Array("POST /nowhere HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\n".utf8)))
                try await Task.sleep(for: .milliseconds(200))
                #expect(early.send(Array("hello".utf8)))
                let started = ContinuousClock.now
                for byte in "GET /healthz HTTP/1.1\r\n".utf8 {
                    guard early.send([byte]) else { break }
                    try await Task.sleep(for: .milliseconds(300))
                    if early.isClosed { break }
                }
                try await eventually(timeout: .seconds(5), "the trickling connection is closed") { early.isClosed }
                #expect(ContinuousClock.now - started < .seconds(4))

                // A keep-alive connection answered again and again for longer than the head deadline is never cut
                // off (each answer moves its deadline); once it goes quiet in the middle of a head it is, on time.
                let steady = HTTPTestClient(port: port)
                for round in 0..<12 {
                    if round > 0 { try await Task.sleep(for: .milliseconds(150)) }
                    #expect(try steady.send("GET", "/healthz").status == 200)
                }
                try steady.writeRaw(Array("GET /healthz HTTP/1.1\r\n".utf8))
                let quiet = ContinuousClock.now
                #expect(throws: HTTPTestClient.Failure.self) { try steady.readRaw() }
                let waited = ContinuousClock.now - quiet
                #expect(waited >= .milliseconds(800) && waited < .seconds(3), "cut off after \(waited)")
            }
        }

        @Test("pipelined requests: a slow one behind a fast one is answered, not cut off by the head deadline")
        func pipelining() async throws {
            let config = intakeConfig + "\ningress: { header_timeout_s: 1, store_timeout_ms: 5000 }\n"
            try await withBosun(extraConfig: config, files: intakeFiles) { bosun in
                let port = try await bosun.port()
                let locker = try await Self.holdWriteLock(bosun, seconds: 2.5)
                let body = Array("{\"slow\":true}".utf8)
                let signature = try hmacSHA256Hex(body, key: "bench-secret")
                let client = HTTPTestClient(port: port)
                try client.writeRaw(
                    Array("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n".utf8)
                        + Array(
                            ("POST /webhooks/github/demo HTTP/1.1\r\nHost: x\r\nContent-Length: \(body.count)\r\n"
                                + "X-GitHub-Event: issues\r\nX-GitHub-Delivery: pipelined\r\n"
                                + "X-Hub-Signature-256: sha256=\(signature)\r\n\r\n").utf8) + body)
                #expect(try client.readRaw().status == 200)
                #expect(try client.readRaw().status == 202)
                await locker.wait()
            }
        }

        @Test("a store that cannot commit: 503 with Retry-After and nothing stored; the retry is then accepted")
        func storeFailure() async throws {
            let config = intakeConfig + "\ningress: { store_timeout_ms: 300 }\n"
            try await withBosun(extraConfig: config, files: intakeFiles) { bosun in
                let port = try await bosun.port()
                let fixture = try #require(WebhookFixture.all.first { $0.path == "github/issues.opened.json" })
                // Another process holds the write lock.
                let locker = try await Self.holdWriteLock(bosun, seconds: 4)
                let refused = try Self.post(fixture, port: port, delivery: "during-lock")
                #expect(refused.status == 503)
                #expect(refused.headers["retry-after"] == "5")
                #expect(refused.body.contains("store unavailable"))
                await locker.wait()
                #expect(try Self.rows(bosun).isEmpty)
                let retried = try Self.post(fixture, port: port, delivery: "during-lock")
                #expect(retried.status == 202)
                #expect(try Self.rows(bosun).count == 1)
            }
        }

        @Test("the main file's write lock held by another process does not hold up intake")
        func mainStoreLocked() async throws {
            let config = intakeConfig + "\ningress: { store_timeout_ms: 300 }\n"
            try await withBosun(extraConfig: config, files: intakeFiles) { bosun in
                let port = try await bosun.port()
                let fixture = try #require(WebhookFixture.all.first { $0.path == "github/issues.opened.json" })
                // The gatekeeper's and the worker's file is locked for 4 s, far past the 300 ms store timeout: a
                // webhook still gets its 202 and its row, because the inbox is a file of its own.
                let locker = try await Self.holdWriteLock(bosun, seconds: 4, file: "state/bosun.db")
                for index in 1...3 {
                    let accepted = try Self.post(fixture, port: port, delivery: "main-locked-\(index)")
                    #expect(accepted.status == 202, "\(accepted.body)")
                }
                #expect(
                    await locker.wait(timeout: .milliseconds(1)) == nil,
                    "the lock was released before the webhooks were answered; the test proves nothing")
                #expect(try Self.rows(bosun).count == 3)
                await locker.wait()
            }
        }

        @Test("with the gatekeeper and the worker down, webhooks are still accepted and stored; /readyz says so")
        func intakeWithoutTheOthers() async throws {
            let scratch = TemporaryDirectory("bosun-down")
            let dead = try writeScript("dead", in: scratch, "exit 1")
            let config =
                intakeConfig + """

                    supervisor:
                      restart: { base_ms: 10, max_ms: 10, budget: 2, window_s: 60 }
                      executables: { worker: \(dead), gatekeeper: \(dead) }
                    """
            try await withBosun(extraConfig: config, files: intakeFiles, waitForReady: false) { bosun in
                try await eventually("worker and gatekeeper failed") {
                    guard let processes = try? await bosun.status().processes else { return false }
                    return processes.filter { $0.state == .failed }.count == 2
                        && processes.first { $0.name == "ingress" }?.state == .ready
                }
                let port = try await bosun.port()
                let fixture = try #require(WebhookFixture.all.first { $0.path == "gitea/issues.opened.json" })
                for index in 0..<5 {
                    #expect(try Self.post(fixture, port: port, delivery: "while-down-\(index)").status == 202)
                }
                #expect(try Self.rows(bosun).count == 5)
                let ready = try HTTPTestClient(port: port).send("GET", "/readyz")
                #expect(ready.status == 200)
                #expect(ready.body.contains("\"gatekeeper\":\"failed\""))
                #expect(ready.body.contains("\"unprocessed\":5"))
                let metrics = try HTTPTestClient(port: port).send("GET", "/metrics")
                #expect(metrics.status == 200)
                #expect(
                    metrics.body.contains("bosun_webhook_deliveries_total{source=\"gitea\",outcome=\"accepted\"} 5"))
                #expect(
                    metrics.body.contains(
                        "bosun_http_requests_total{route=\"/webhooks/{forge}/{project}\",method=\"POST\",status=\"202\"} 5"
                    ))
                #expect(metrics.body.contains("bosun_inbox_unprocessed 5"))
                #expect(metrics.body.contains("bosun_http_request_duration_seconds_count "))
            }
        }

        @Test("kill -9 of ingress while signed webhooks stream in: every 2xx is in the inbox, no connection refused")
        func ingressKilledUnderLoad() async throws {
            let config =
                intakeConfig + "\nsupervisor:\n  restart: { base_ms: 10, max_ms: 50, budget: 100, window_s: 60 }\n"
            try await withBosun(extraConfig: config, files: intakeFiles) { bosun in
                let port = try await bosun.port()
                let fixture = try #require(WebhookFixture.all.first { $0.path == "github/issue_comment.created.json" })
                let signature = try hmacSHA256Hex(fixture.body, key: "bench-secret")
                let acknowledged = Mutex<Set<String>>([])
                let refused = Mutex(0)
                let lost = Mutex(0)
                let running = Atomic<Bool>(true)
                let load = Task {
                    await onThreads(8) { thread in
                        let client = HTTPTestClient(port: port)
                        var sequence = 0
                        while running.load(ordering: .relaxed) {
                            sequence += 1
                            let delivery = "load-\(thread)-\(sequence)"
                            do {
                                let reply = try client.send(
                                    "POST", "/webhooks/github/demo",
                                    headers: [
                                        ("X-GitHub-Event", "issue_comment"), ("X-GitHub-Delivery", delivery),
                                        ("X-Hub-Signature-256", "sha256=\(signature)"),
                                    ], body: fixture.body)
                                if (200..<300).contains(reply.status) {
                                    acknowledged.withLock { _ = $0.insert(delivery) }
                                }
                            } catch HTTPTestClient.Failure.refused {
                                refused.withLock { $0 += 1 }
                            } catch {
                                lost.withLock { $0 += 1 }  // reset mid-request: no answer, so nothing promised
                            }
                        }
                    }
                }
                for _ in 0..<5 {
                    try await Task.sleep(for: .milliseconds(300))
                    let ingress = try await bosun.process("ingress")
                    kill(ingress.pid!, SIGKILL)
                    _ = try await bosun.waitForReplacement(of: "ingress", oldPID: ingress.pid)
                }
                try await Task.sleep(for: .milliseconds(300))
                running.store(false, ordering: .relaxed)
                await load.value
                let promised = acknowledged.withLock { $0 }
                let stored = Set(try Self.rows(bosun).compactMap { try $0.string("delivery_id") })
                #expect(refused.withLock { $0 } == 0)
                #expect(promised.count > 100)
                #expect(
                    promised.isSubset(of: stored), "\(promised.subtracting(stored).count) acknowledged but not stored")
                #expect(stored.count - promised.count <= 8 + lost.withLock { $0 })
            }
        }
    }
}

/// A TCP socket for trickling bytes.
final class RawTCPSocket: Sendable {
    private let descriptor: Int32

    init(port: Int) throws {
        guard case .success(let connected) = connectTCP(port: port) else { throw TestFailure("connect") }
        descriptor = connected
    }

    deinit { close(descriptor) }

    /// False once the peer has closed.
    func send(_ bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBytes { Glibc.send(descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) } == bytes.count
    }

    /// True once the peer has closed the connection. Reads (and drops) whatever the peer sent before closing, such
    /// as a response, to see the end of the stream behind it.
    var isClosed: Bool {
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = recv(descriptor, &buffer, buffer.count, Int32(MSG_DONTWAIT))
            if count > 0 { continue }
            return count == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)
        }
    }
}
