import Config
import Foundation
import Logging
import Store
import Testing
import Workflow

@testable import BosunGatekeeper

@Suite("Gatekeeper: deliveries to tasks, jobs and effects")
struct GatekeeperTests {
    let directory = TemporaryDirectory("bosun-gatekeeper")

    func setUp(authors: [String] = ["Codertocat"], trigger: String = "bug") throws -> (Database, TaskEngine) {
        let database = try Database(path: directory.file("bosun.db"))
        try database.migrate()
        let secret = try directory.write("secret", "s3cret")
        let yaml = """
            state_dir: \(directory.path)/state
            listen: 127.0.0.1:0
            agents:
              fake: { argv: [/bin/true] }
            projects:
              - name: hello
                tracker: github
                repo: { url: https://github.com/Codertocat/Hello-World.git }
                webhook: { secret_file: \(secret) }
                test_command: make test
                bot_user: bosun-bot
                trigger: { kind: label, label: \(trigger) }
                authors: [\(authors.joined(separator: ", "))]
            """
        let config = try ConfigLoader.parse(yaml: yaml, file: directory.file("bosun.yaml"))
        let engine = TaskEngine(
            database: database, inbox: try inbox(), config: { config }, logger: Logger(label: "test"))
        return (database, engine)
    }

    /// The inbox file next to `bosun.db`, as ingress writes it.
    func inbox() throws -> Database {
        try Database.openInbox(path: directory.file("inbox.db"))
    }

    /// Stores a fixture (or `body`) in an inbox file: `inbox`, or this test's.
    func deliver(
        into inbox: Database? = nil, _ path: String, event: String, id: String, body: [UInt8]? = nil
    ) throws {
        let fixture = try #require(WebhookFixture.all.first { $0.path == path })
        let bytes = body ?? fixture.body
        _ = try (inbox ?? self.inbox()).write { transaction in
            try transaction.insertDelivery(
                NewDelivery(
                    source: "github", project: "hello", event: event, deliveryID: id, bodySHA256: id,
                    headers: "{\"x-github-event\":\"\(event)\"}", body: bytes, receivedAtMs: 1))
        }
    }

    func withComment(_ text: String, login: String = "Codertocat") throws -> [UInt8] {
        let fixture = try #require(WebhookFixture.all.first { $0.path == "github/issue_comment.created.json" })
        var object = try #require(try JSONSerialization.jsonObject(with: Data(fixture.body)) as? [String: Any])
        var comment = try #require(object["comment"] as? [String: Any])
        comment["body"] = text
        object["comment"] = comment
        object["sender"] = ["login": login]
        return Array(try JSONSerialization.data(withJSONObject: object))
    }

    @Test("the trigger label by an allowed author starts one task, with its agent job and label effects")
    func trigger() throws {
        let (database, engine) = try setUp()
        try deliver("github/issues.labeled.json", event: "issues", id: "d1")
        let pass = try engine.processInbox()
        #expect(pass.processed == 1)
        #expect(pass.jobsEnqueued == 1)
        let tasks = try database.read { try $0.tasks() }
        #expect(tasks.count == 1)
        let task = try #require(tasks.first)
        #expect(task.issue == "1")
        #expect(task.state == "analysis")
        #expect(task.branch == "bosun/1-spelling-error-in-the-readme-file")
        let jobs = try database.read { try $0.jobs(taskID: task.id) }
        #expect(jobs.map(\.kind) == ["agent"])
        let spec = try JSONColumn.decode(jobs[0].spec, as: JobSpec.self)
        #expect(spec.role == "analyst")
        #expect(spec.agent == "fake")
        #expect(spec.brief?.issueTitle == "Spelling error in the README file")
        let effects = try database.read { try $0.effects(taskID: task.id) }
        #expect(effects.allSatisfy { $0.kind == "forge" })
        #expect(effects.contains { $0.effect.contains("bosun:analysis") })
        // Applying again (a redo after a crash) and a second trigger change nothing.
        #expect(try engine.processInbox().processed == 0)
        try deliver("github/issues.labeled.json", event: "issues", id: "d2")
        #expect(try engine.processInbox().jobsEnqueued == 0)
        #expect(try database.read { try $0.tasks() }.count == 1)
        #expect(try database.read { try $0.jobs(taskID: task.id) }.count == 1)
    }

    /// The labeled fixture for issue `number`.
    func labeled(issue number: Int) throws -> [UInt8] {
        let fixture = try #require(WebhookFixture.all.first { $0.path == "github/issues.labeled.json" })
        var object = try #require(try JSONSerialization.jsonObject(with: Data(fixture.body)) as? [String: Any])
        var issue = try #require(object["issue"] as? [String: Any])
        issue["number"] = number
        object["issue"] = issue
        return Array(try JSONSerialization.data(withJSONObject: object))
    }

    @Test("a batch prepared before the one ahead of it is applied: each delivery applied once, in order")
    func preparedAhead() throws {
        let (database, engine) = try setUp()
        for number in 1...5 {
            try deliver(
                "github/issues.labeled.json", event: "issues", id: "d\(number)", body: try labeled(issue: number))
        }
        // As the processing loop does: the second batch is read and decoded before the first is applied.
        let first = try engine.prepareInbox(after: try engine.appliedThrough(), limit: 2)
        let second = try engine.prepareInbox(after: try #require(first.last).id, limit: 2)
        #expect(first.map(\.id) == [1, 2])
        #expect(second.map(\.id) == [3, 4])
        #expect(try engine.apply(first).processed == 2)
        #expect(try engine.appliedThrough() == 2)

        // Another gatekeeper applies the rest meanwhile: the batch prepared earlier then changes nothing, and the
        // cursor does not move back.
        let other = TaskEngine(
            database: database, inbox: try inbox(), config: engine.config, logger: Logger(label: "other"))
        #expect(try other.processInbox().processed == 3)
        #expect(try engine.apply(second) == TaskEngine.PassResult())
        #expect(try engine.apply(first) == TaskEngine.PassResult())
        #expect(try engine.appliedThrough() == 5)

        let tasks = try database.read { try $0.tasks() }
        #expect(tasks.map(\.issue).sorted() == ["1", "2", "3", "4", "5"])
        // Delivery n (ids in arrival order) made the task for issue n: its audit rows all name it, as many as the
        // others have.
        var auditCounts: Set<Int> = []
        for task in tasks {
            #expect(try database.read { try $0.jobs(taskID: task.id) }.count == 1)
            let events = try database.read { try $0.taskEvents(taskID: task.id) }
            #expect(!events.isEmpty)
            #expect(events.allSatisfy { $0.deliveryID.map(String.init) == task.issue })
            auditCounts.insert(events.count)
        }
        #expect(auditCounts.count == 1)
    }

    @Test("an author outside the allow-list can neither start a task nor approve a gate")
    func allowList() throws {
        let (database, engine) = try setUp(authors: ["alice"])
        try deliver("github/issues.labeled.json", event: "issues", id: "d1")
        _ = try engine.processInbox()
        #expect(try database.read { try $0.tasks() }.isEmpty)

        let (allowedDB, allowedEngine) = try setUpSecond(authors: ["Codertocat"])
        try deliver(into: allowedEngine.inbox, "github/issues.labeled.json", event: "issues", id: "d1")
        _ = try allowedEngine.processInbox()
        var task = try #require(try allowedDB.read { try $0.tasks() }.first)
        task.waitingOn = "approval"
        task.gateIndex = 1
        try allowedDB.write { try $0.updateTask(task) }
        try deliver(
            into: allowedEngine.inbox, "github/issue_comment.created.json", event: "issue_comment", id: "c1",
            body: try withComment(":approved:", login: "mallory"))
        _ = try allowedEngine.processInbox()
        #expect(try allowedDB.read { try $0.task(id: task.id) }?.state == "analysis")
        try deliver(
            into: allowedEngine.inbox, "github/issue_comment.created.json", event: "issue_comment", id: "c2",
            body: try withComment("Thanks!\n:approved:"))
        _ = try allowedEngine.processInbox()
        #expect(try allowedDB.read { try $0.task(id: task.id) }?.state == "architecture")
    }

    func setUpSecond(authors: [String]) throws -> (Database, TaskEngine) {
        let other = GatekeeperTests()
        return try other.setUp(authors: authors)
    }

    @Test("Bosun's own comments are ignored; a comment before the task exists is ignored, not queued")
    func ownAndOutOfOrder() throws {
        let (database, engine) = try setUp()
        try deliver(
            "github/issue_comment.created.json", event: "issue_comment", id: "c0",
            body: try withComment(":approved:"))
        _ = try engine.processInbox()
        #expect(try database.read { try $0.tasks() }.isEmpty)
        try deliver("github/issues.labeled.json", event: "issues", id: "d1")
        _ = try engine.processInbox()
        var task = try #require(try database.read { try $0.tasks() }.first)
        task.waitingOn = "approval"
        task.gateIndex = 1
        try database.write { try $0.updateTask(task) }
        for (index, text) in ["<!-- bosun -->\n:approved:", ":approved:"].enumerated() {
            let login = index == 1 ? "bosun-bot" : "Codertocat"
            try deliver(
                "github/issue_comment.created.json", event: "issue_comment", id: "own\(index)",
                body: try withComment(text, login: login))
        }
        _ = try engine.processInbox()
        #expect(try database.read { try $0.task(id: task.id) }?.state == "analysis")
        #expect(try engine.inbox.inboxDepth(appliedIn: database).unprocessed == 0)
    }

    @Test("a finished job's outcome moves the task; a stale outcome from an earlier visit is ignored")
    func outcomes() throws {
        let (database, engine) = try setUp()
        try deliver("github/issues.labeled.json", event: "issues", id: "d1")
        _ = try engine.processInbox()
        let task = try #require(try database.read { try $0.tasks() }.first)
        let job = try #require(
            try database.claimJob(
                owner: "w", leaseMs: 1000, nowMs: Int64.max / 2, limits: ClaimLimits(maxConcurrency: 1)))
        // The analyst wrote its analysis into the worktree the gates read.
        let worktree = "\(directory.path)/state/worktrees/hello/\(TaskBranch.directory(ofBranch: task.branch))"
        try FileManager.default.createDirectory(atPath: worktree + "/.bosun", withIntermediateDirectories: true)
        try Data("analysis".utf8).write(to: URL(fileURLWithPath: worktree + "/.bosun/analysis.md"))
        let outcome = try JSONColumn.encode(JobOutcome(passed: true, classification: "success", reason: "ok"))
        #expect(
            try database.finishJob(
                JobLease(jobID: job.id, attempt: job.attempt, owner: "w"), state: "succeeded", outcome: outcome,
                error: nil,
                nowMs: 5))
        let pass = try engine.applyOutcomes()
        #expect(pass.processed == 1)
        let updated = try #require(try database.read { try $0.task(id: task.id) })
        #expect(updated.waitingOn == "approval")
        let comments = try database.read { try $0.effects(taskID: task.id) }.filter {
            $0.effect.contains("\"comment\"")
        }
        #expect(comments.count == 1)
        #expect(comments[0].effect.contains(":approved:"))
        #expect(try engine.applyOutcomes().processed == 0)
    }

    @Test("reconciliation gives a task waiting on a vanished job its job back, once")
    func reconcile() throws {
        let (database, engine) = try setUp()
        try deliver("github/issues.labeled.json", event: "issues", id: "d1")
        _ = try engine.processInbox()
        let task = try #require(try database.read { try $0.tasks() }.first)
        _ = try database.write { try $0.cancelQueuedJobs(taskID: task.id, nowMs: 1) }
        #expect(try engine.reconcile().jobsEnqueued == 1)
        #expect(try engine.reconcile().jobsEnqueued == 0)
        let live = try database.read { try $0.jobs(taskID: task.id) }.filter { $0.state == "queued" }
        #expect(live.count == 1)
    }
}
