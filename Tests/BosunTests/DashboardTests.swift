import Config
import Foundation
import IPC
import Store
import Synchronization
import Testing

@testable import BosunIngress

/// Strings a tracker could send as a title, an author, a reason or a log line.
let hostileStrings = [
    "<script>document.title='pwned'</script>",
    "\"><img src=x onerror=alert(1)>",
    "' onmouseover='alert(1)",
    "Tom & Jerry &amp; &lt;b&gt;",
    "ünïcødé 🚀 \u{202E}txt.exe \u{0301}",
    "nul\u{0}bell\u{7}esc\u{1B}[31m",
    "</textarea></pre><!--",
]

@Suite("Dashboard: escaping, pages, sessions, login links, throttle, log chunks")
struct DashboardTests {
    // MARK: Escaping

    @Test("every interpolated string is escaped; literals and HTML values are not")
    func escaping() {
        let title = "<script>alert('x') & \"y\"</script>"
        let bold: HTML = "<b>bold</b>"
        let page: HTML = "<p class=\"a\">\(title)</p>\(bold)"
        #expect(
            page.markup
                == "<p class=\"a\">&lt;script&gt;alert(&#39;x&#39;) &amp; &quot;y&quot;&lt;/script&gt;</p><b>bold</b>")
        #expect(HTML.escape("ünïcødé 🚀") == "ünïcødé 🚀")
        #expect(HTML.escape("a\u{0}b\u{7}c\td\ne") == "a\u{FFFD}b\u{FFFD}c\td\ne")
        for hostile in hostileStrings {
            let escaped = HTML.escape(hostile)
            #expect(
                !escaped.contains("<") && !escaped.contains(">") && !escaped.contains("\"") && !escaped.contains("'"))
        }
    }

    @Test("only http and https addresses become links")
    func externalLinks() {
        #expect(PageLayout.externalLink("javascript:alert(1)").markup == "javascript:alert(1)")
        #expect(PageLayout.externalLink("JaVaScRiPt:alert(1)").markup.contains("<a") == false)
        #expect(PageLayout.externalLink("data:text/html,<script>").markup == "data:text/html,&lt;script&gt;")
        let link = PageLayout.externalLink("https://forge.example/pr/1\"onmouseover=\"x")
        #expect(link.markup.hasPrefix("<a href=\"https://forge.example/pr/1&quot;onmouseover=&quot;x\""))
        #expect(PageLayout.cssClass("half_open\" onclick=\"x") == "is-half_openonclickx")
    }

    func hostileTask(_ text: String, id: Int64 = 7) -> TaskRecord {
        TaskRecord(
            id: id, project: text, issue: text, title: text, body: text, author: text, workflow: "default",
            state: text, waitingOn: text, level: text, branch: text, counters: [text: 1], feedback: text,
            pullRequestURL: "javascript:\(text)", createdAtMs: 1_700_000_000_000, updatedAtMs: 1_700_000_000_000,
            stateEnteredAtMs: 1_700_000_000_000)
    }

    /// The markup must hold no tag, attribute or entity that came from `hostile`.
    func expectInert(_ markup: String, _ hostile: String, sourceLocation: SourceLocation = #_sourceLocation) {
        if HTML.escape(hostile) != hostile {
            #expect(!markup.contains(hostile), "raw \(hostile.debugDescription)", sourceLocation: sourceLocation)
        }
        #expect(!markup.contains("<script>"), sourceLocation: sourceLocation)
        #expect(!markup.contains("<img"), sourceLocation: sourceLocation)
        #expect(!markup.contains("onmouseover='"), sourceLocation: sourceLocation)
        #expect(!markup.contains("href=\"javascript"), sourceLocation: sourceLocation)
        #expect(!markup.contains("\u{0}"), sourceLocation: sourceLocation)
    }

    @Test("the task page escapes the title, body, author, reasons, feedback, effects and errors")
    func taskPageEscapes() throws {
        for hostile in hostileStrings {
            let event = TaskEventRecord(
                id: 1, taskID: 7, fromState: hostile, toState: hostile, event: hostile, reason: hostile, atMs: 1)
            var job = try JobRecord.sample(taskID: 7)
            job.lastError = hostile
            job.role = hostile
            var run = RunRecord(
                id: 3, jobID: job.id, attempt: 1, worker: hostile, runDirectory: hostile, logPath: hostile,
                startedAtMs: 1)
            run.reason = hostile
            run.classification = hostile
            var effect = OutboxEntry(
                taskID: 7, project: hostile, kind: "local", effect: hostile, idempotencyKey: hostile, nowMs: 1)
            effect.lastError = hostile
            let detail = TasksAPI.TaskDetail(
                task: hostileTask(hostile), events: [event], jobs: [job], runs: [run], effects: [effect])
            let markup = TaskPage(detail: detail, stateKinds: [hostile: hostile], nowMs: 2).render().markup
            expectInert(markup, hostile)
            #expect(markup.contains(HTML.escape(hostile)))
            #expect(markup.contains("<title>Task 7: \(HTML.escape(hostile))</title>"))
        }
    }

    @Test("the overview escapes task titles, process notes, breaker reasons and deliveries")
    func overviewEscapes() {
        for hostile in hostileStrings {
            let process = ProcessStatus(
                name: hostile, pid: 1, state: .failed, restarts: 6, uptimeS: nil,
                lastExit: ExitRecord(code: 1, signal: nil, description: hostile, at: Date()), backoffMs: nil,
                failure: hostile, paused: nil)
            let breaker = BreakerStatus(
                state: .open, consecutiveTransients: 3, threshold: 3, pauseS: 300, openedAt: Date(),
                retryAt: Date(), trips: 1, reason: hostile)
            let state = TasksAPI.ServiceState(
                supervisor: SupervisorStatus(
                    pid: 1, version: hostile, state: "running", listen: hostile, config: hostile, uptimeS: 5,
                    statusText: hostile),
                processes: [process], breaker: breaker, jobs: [hostile: 1], retrying: 0, tasks: [hostile: 1],
                runningRuns: [], inbox: .init(unprocessed: 0, lagS: 0), outbox: [:], preflight: [hostile: hostile])
            let page = OverviewPage(
                state: state, tasks: [hostileTask(hostile)],
                deliveries: [
                    .init(id: 1, source: "api", project: hostile, event: hostile, receivedAtMs: 1, applied: false)
                ], stages: [(hostile, hostile)], nowMs: 2)
            let markup = page.render().markup
            expectInert(markup, hostile)
            #expect(markup.contains("<title>Bosun</title>"))
        }
    }

    @Test("the overview groups tasks by stage in workflow order, unknown stages last")
    func overviewGroups() {
        func task(_ id: Int64, _ state: String) -> TaskRecord {
            var record = hostileTask("t\(id)", id: id)
            record.state = state
            return record
        }
        let state = TasksAPI.ServiceState(
            supervisor: nil, processes: nil, breaker: nil, jobs: [:], retrying: 0, tasks: [:], runningRuns: [],
            inbox: .init(unprocessed: 0, lagS: 0), outbox: [:], preflight: [:])
        let markup = OverviewPage(
            state: state, tasks: [task(1, "review"), task(2, "created"), task(3, "mystery"), task(4, "review")],
            deliveries: [], stages: [("created", "queue"), ("analysis", "active"), ("review", "active")], nowMs: 0
        ).render().markup
        let created = markup.range(of: "data-stage=\"created\"")
        let review = markup.range(of: "data-stage=\"review\"")
        let mystery = markup.range(of: "data-stage=\"mystery\"")
        #expect(created != nil && review != nil && mystery != nil)
        if let created, let review, let mystery {
            #expect(created.lowerBound < review.lowerBound && review.lowerBound < mystery.lowerBound)
        }
        #expect(!markup.contains("data-stage=\"analysis\""), "an empty stage is left out")
        #expect(markup.contains("The supervisor did not answer"))
    }

    @Test("the run page shows the log as text and says whether it is live")
    func runPage() throws {
        var run = RunRecord(
            id: 9, jobID: 2, attempt: 1, worker: "w", state: "running", runDirectory: "/r", logPath: "/r/log",
            startedAtMs: 1)
        let log = LogChunk(text: hostileStrings.joined(separator: "\n") + "\n", start: 10, end: 500)
        var markup = RunPage(run: run, job: try .sample(taskID: 4), log: log, nowMs: 2).render().markup
        for hostile in hostileStrings { expectInert(markup, hostile) }
        #expect(markup.contains("data-live=\"true\""))
        #expect(markup.contains("data-offset=\"500\""))
        #expect(markup.contains("<a href=\"/tasks/4\">"))
        #expect(markup.contains("first 10 bytes are not shown"))
        #expect(markup.contains("<script src=\"/static/log-tail.js\"></script>"))
        run.state = "exited"
        markup = RunPage(run: run, job: nil, log: nil, nowMs: 2).render().markup
        #expect(markup.contains("data-live=\"false\""))
        #expect(markup.contains("data-offset=\"0\""))
    }

    // MARK: Sessions

    let token = Secret(value: "s3cret-token", source: "test")
    let now: Int64 = 1_800_000_000_000

    @Test("a session cookie verifies until it expires, and only with the token that made it")
    func sessionCookie() {
        let session = SessionCookie(token: token)
        let value = session.issue(nowMs: now)
        #expect(session.verify(value, nowMs: now) == nil)
        #expect(session.verify(value, nowMs: now + (SessionCookie.lifetimeSeconds - 1) * 1000) == nil)
        #expect(session.verify(value, nowMs: now + SessionCookie.lifetimeSeconds * 1000) == .expired)
        #expect(SessionCookie(token: token).verify(value, nowMs: now) == nil, "another process agrees")
        let other = SessionCookie(token: Secret(value: "s3cret-token2", source: "test"))
        #expect(other.verify(value, nowMs: now) == .forged)
    }

    @Test("tampered, truncated and malformed cookies are refused")
    func tamperedCookies() {
        let session = SessionCookie(token: token)
        let value = session.issue(nowMs: now)
        let parts = value.split(separator: ".").map(String.init)
        let expires = Int64(parts[1])!
        #expect(session.verify("v1.\(expires + 3600).\(parts[2])", nowMs: now) == .forged)
        #expect(session.verify("v1.\(expires - 1).\(parts[2])", nowMs: now) == .forged)
        var flipped = Array(parts[2])
        flipped[5] = flipped[5] == "A" ? "B" : "A"
        #expect(session.verify("v1.\(expires).\(String(flipped))", nowMs: now) == .forged)
        // A valid MAC for a far-future expiry is impossible without the key, but the bound holds anyway.
        let farFuture = session.issue(nowMs: now + 365 * 86_400_000)
        #expect(session.verify(farFuture, nowMs: now) == .expired)
        for malformed in [
            "", "v1", "v1..", "v2.\(expires).\(parts[2])", "v1.\(expires)", "v1.abc.\(parts[2])",
            "v1.-5.\(parts[2])", "v1.\(expires).\(parts[2])=", "v1.\(expires).\(parts[2].dropLast(2))",
            "v1.\(expires).\(parts[2]).x", "v1.99999999999999999999.\(parts[2])", "v1.\(expires).<script>",
        ] {
            #expect(session.verify(malformed, nowMs: now) == .malformed, "\(malformed)")
        }
    }

    @Test("the cookie is HttpOnly, SameSite=Strict, site-wide, and Secure behind HTTPS")
    func cookieAttributes() {
        let set = SessionCookie.setCookie("v", secure: false)
        #expect(set == "bosun_session=v; Path=/; Max-Age=43200; HttpOnly; SameSite=Strict")
        #expect(SessionCookie.setCookie("v", secure: true).hasSuffix("; Secure"))
        #expect(SessionCookie.clearCookie(secure: false).contains("Max-Age=0"))
    }

    // MARK: Throttle

    @Test("five failures within a minute lock an address out until the minute is over; others are unaffected")
    func throttle() {
        var throttle = LoginThrottle()
        for attempt in 0..<5 {
            #expect(throttle.retryAfterSeconds(peer: "10.0.0.1", nowMs: now + Int64(attempt)) == nil)
            throttle.recordFailure(peer: "10.0.0.1", nowMs: now + Int64(attempt))
        }
        #expect(throttle.retryAfterSeconds(peer: "10.0.0.1", nowMs: now + 10) == 60)
        #expect(throttle.retryAfterSeconds(peer: "10.0.0.1", nowMs: now + 59_500) == 1)
        #expect(throttle.retryAfterSeconds(peer: "10.0.0.2", nowMs: now + 10) == nil)
        #expect(throttle.retryAfterSeconds(peer: "10.0.0.1", nowMs: now + 60_000) == nil)
        throttle.recordFailure(peer: "10.0.0.1", nowMs: now + 60_000)
        #expect(throttle.retryAfterSeconds(peer: "10.0.0.1", nowMs: now + 60_001) == nil, "a new window")
        for _ in 0..<4 { throttle.recordFailure(peer: "10.0.0.3", nowMs: now) }
        throttle.recordSuccess(peer: "10.0.0.3")
        throttle.recordFailure(peer: "10.0.0.3", nowMs: now)
        #expect(throttle.retryAfterSeconds(peer: "10.0.0.3", nowMs: now) == nil, "a success cleared the count")
    }

    @Test("the throttle's table stays bounded under many addresses")
    func throttleBounded() {
        var throttle = LoginThrottle()
        throttle.capacity = 100
        for index in 0..<1000 { throttle.recordFailure(peer: "peer-\(index)", nowMs: now + Int64(index)) }
        #expect(throttle.trackedPeers <= 100)
        for _ in 0..<5 { throttle.recordFailure(peer: "attacker", nowMs: now + 2000) }
        #expect(throttle.retryAfterSeconds(peer: "attacker", nowMs: now + 2001) != nil)
    }

    // MARK: Login links

    @Test("a login link works once, not after it expires, and not when malformed")
    func loginLinks() throws {
        let directory = TemporaryDirectory("bosun-links")
        let database = try Database(path: directory.file("bosun.db"))
        try database.migrate()
        let links = LoginLinks(database: database)
        let code = try links.create(nowMs: now)
        #expect(LoginLinks.isWellFormed(code))
        #expect(try links.redeem(code, nowMs: now + 1000))
        #expect(try !links.redeem(code, nowMs: now + 1001), "used twice")
        let late = try links.create(nowMs: now)
        #expect(try !links.redeem(late, nowMs: now + LoginLinks.lifetimeMs), "expired")
        #expect(try !links.redeem("", nowMs: now))
        #expect(try !links.redeem("<script>", nowMs: now))
        #expect(try !links.redeem(String(code.dropLast()) + (code.last == "A" ? "B" : "A"), nowMs: now))
        let stored = try database.read { try $0.query("SELECT code_sha256 FROM login_links") }
        #expect(stored.allSatisfy { (try? $0.string("code_sha256")) != code }, "only digests are stored")
        _ = try links.create(nowMs: now + 10 * LoginLinks.lifetimeMs)
        let rows = try database.read { try $0.queryFirst("SELECT COUNT(*) AS n FROM login_links")?.int("n") }
        #expect(rows == 1, "expired links are dropped when a new one is made")
    }

    @Test("two processes redeeming one code at once: exactly one succeeds")
    func loginLinkRace() async throws {
        let directory = TemporaryDirectory("bosun-links")
        let path = directory.file("bosun.db")
        let first = try Database(path: path)
        try first.migrate()
        let second = try Database(path: path)
        for round in 0..<20 {
            let code = try LoginLinks(database: first).create(nowMs: now + Int64(round))
            let wins = Mutex(0)
            let databases = [first, second]
            await onThreads(2) { index in
                if (try? LoginLinks(database: databases[index]).redeem(code, nowMs: now + Int64(round))) == true {
                    wins.withLock { $0 += 1 }
                }
            }
            #expect(wins.withLock { $0 } == 1)
        }
    }

    // MARK: Log chunks

    @Test("log chunks are whole lines from an offset; a line being written waits for its newline")
    func logChunks() throws {
        let directory = TemporaryDirectory("bosun-log")
        let path = try directory.write("run.log", "one\ntwo\nthr")
        #expect(LogFile.chunk(path: path, from: 0, maxBytes: 1024) == LogChunk(text: "one\ntwo\n", start: 0, end: 8))
        #expect(LogFile.chunk(path: path, from: 8, maxBytes: 1024) == LogChunk(text: "", start: 8, end: 8))
        #expect(LogFile.chunk(path: path, from: 4, maxBytes: 1024)?.text == "two\n")
        #expect(LogFile.chunk(path: path, from: 0, maxBytes: 5)?.text == "one\n")
        #expect(LogFile.chunk(path: path, from: 500, maxBytes: 1024)?.start == 0, "a replaced file reads anew")
        #expect(LogFile.chunk(path: path, from: nil, maxBytes: 8) == LogChunk(text: "two\n", start: 4, end: 8))
        let long = try directory.write("long.log", String(repeating: "x", count: 100))
        #expect(LogFile.chunk(path: long, from: 0, maxBytes: 10)?.text.count == 10, "a line longer than the cap")
        #expect(LogFile.chunk(path: directory.file("missing.log"), from: 0, maxBytes: 10) == nil)
    }
}

extension JobRecord {
    /// A job row for rendering tests (the store's initializer is internal to it: decoded instead).
    static func sample(taskID: Int64) throws -> JobRecord {
        let json = """
            {"id": 2, "taskID": \(taskID), "project": "demo", "kind": "agent", "role": "analyst", "stage": "analysis",
             "spec": "{}", "state": "running", "priority": 0, "attempt": 1, "failures": 0, "transientFailures": 0,
             "availableAtMs": 1, "uniqueKey": "k", "createdAtMs": 1}
            """
        return try JSONDecoder().decode(JobRecord.self, from: Data(json.utf8))
    }
}
