import ArgumentParser
import Config
import Foundation
import IPC
import ProcessRuntime
import Store

/// `bosun tasks [--json] [--project P] [--active]`.
struct TasksCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "tasks", abstract: "List tasks, newest first.")

    @OptionGroup var options: ConfigOption
    @Flag(help: "Print JSON.") var json = false
    @Flag(help: "Only tasks still in progress.") var active = false
    @Option(help: "Only this project's tasks.") var project: String?

    func run() async throws {
        try await reportingFailures {
            let database = try TaskStoreAccess.open(options.path)
            let tasks = try database.read { try $0.tasks(project: project, activeOnly: active, limit: 500) }
            if json {
                print(try TaskStoreAccess.json(["tasks": tasks]))
                return
            }
            var rows = [["ID", "PROJECT", "ISSUE", "STATE", "WAITING", "TITLE"]]
            for task in tasks {
                rows.append([
                    String(task.id), task.project, task.issue, task.state, task.waitingOn ?? "-",
                    String(task.title.prefix(50)),
                ])
            }
            print(TaskStoreAccess.table(rows), terminator: "")
        }
    }
}

/// `bosun task ID [--json]`, `bosun task create …`, `bosun task comment ID TEXT`.
struct TaskCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "task", abstract: "Show a task (stage, history, runs, gate results), or create or comment one.",
        subcommands: [TaskShowCommand.self, TaskCreateCommand.self, TaskCommentCommand.self],
        defaultSubcommand: TaskShowCommand.self)
}

struct TaskShowCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "show", abstract: "Show one task.")

    @OptionGroup var options: ConfigOption
    @Flag(help: "Print JSON.") var json = false
    @Argument(help: "The task's id.") var id: Int64

    func run() async throws {
        try await reportingFailures {
            let database = try TaskStoreAccess.open(options.path)
            let found = try database.read { transaction -> (TaskRecord, [TaskEventRecord], [JobRecord], [RunRecord])? in
                guard let task = try transaction.task(id: id) else { return nil }
                return (
                    task, try transaction.taskEvents(taskID: id), try transaction.jobs(taskID: id),
                    try transaction.runs(taskID: id)
                )
            }
            guard let (task, events, jobs, runs) = found else { throw CommandFailure(message: "no task \(id)") }
            if json {
                struct Detail: Encodable {
                    var task: TaskRecord
                    var events: [TaskEventRecord]
                    var jobs: [JobRecord]
                    var runs: [RunRecord]
                }
                print(try TaskStoreAccess.json(Detail(task: task, events: events, jobs: jobs, runs: runs)))
                return
            }
            print("task \(task.id): \(task.project)#\(task.issue) \(task.title)")
            print("state: \(task.state)\(task.waitingOn.map { " (waiting on \($0))" } ?? "")  branch: \(task.branch)")
            if let url = task.pullRequestURL { print("pull request: \(url)") }
            print("\nhistory:")
            var rows = [["WHEN", "FROM", "TO", "EVENT", "REASON"]]
            for event in events {
                rows.append([
                    TaskStoreAccess.time(event.atMs), event.fromState ?? "-", event.toState, event.event,
                    String(event.reason.prefix(70)),
                ])
            }
            print(TaskStoreAccess.table(rows), terminator: "")
            print("\njobs and runs:")
            rows = [["JOB", "KIND", "STAGE", "STATE", "ATTEMPT", "RUN", "RESULT", "REASON"]]
            for job in jobs {
                let jobRuns = runs.filter { $0.jobID == job.id }
                let last = jobRuns.last
                rows.append([
                    String(job.id), job.kind, job.stage, job.state, String(job.attempt),
                    last.map { String($0.id) } ?? "-",
                    last?.classification ?? "-", String((last?.reason ?? job.lastError ?? "").prefix(50)),
                ])
            }
            print(TaskStoreAccess.table(rows), terminator: "")
        }
    }
}

struct TaskCreateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "create",
        abstract: "Start a task: an issue of a forge project, or a title and body for the local tracker.")

    @OptionGroup var options: ConfigOption
    @Option(help: "The project.") var project: String
    @Option(help: "The tracker's issue number (forge projects).") var issue: String?
    @Option(help: "The title (local tracker).") var title: String?
    @Option(help: "The body (local tracker).") var body: String?
    @Option(help: "Start in this stage instead of the workflow's first.") var stage: String?

    func run() async throws {
        try await reportingFailures {
            let config = try ConfigLoader.load(path: options.path)
            guard let projectConfig = config.project(named: project) else {
                throw CommandFailure(message: "no project named \(project)")
            }
            if projectConfig.tracker != .local && issue == nil {
                throw CommandFailure(message: "project \(project) uses \(projectConfig.tracker.rawValue): give --issue")
            }
            if issue == nil && (title ?? "").isEmpty { throw CommandFailure(message: "a local task needs --title") }
            if let stage, projectConfig.resolvedWorkflow.state(stage) == nil {
                throw CommandFailure(message: "\(stage) is not a state of the project's workflow")
            }
            let database = try config.openDatabase()
            if let issue, let active = try database.read({ try $0.activeTask(project: project, issue: issue) }) {
                throw CommandFailure(message: "issue \(issue) already has an active task: \(active.id)")
            }
            var payload: [String: String] = ["author": "cli"]
            payload["issue"] = issue
            payload["title"] = title
            payload["body"] = body ?? ""
            payload["stage"] = stage
            let rowID = try TaskStoreAccess.storeDelivery(
                try config.openInbox(store: database), project: project, event: "task.create", payload: payload)
            await TaskStoreAccess.wakeGatekeeper(configPath: options.path)
            print("requested (delivery \(rowID)); the gatekeeper creates the task")
            if let taskID = try await TaskStoreAccess.taskCreated(byDelivery: rowID, in: database) {
                print("task \(taskID)")
            }
        }
    }
}

struct TaskCommentCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "comment", abstract: "Comment on a local task (`:approved:`, `:rejected: reason`, an answer).")

    @OptionGroup var options: ConfigOption
    @Argument(help: "The task's id.") var id: Int64
    @Argument(help: "The comment.") var text: String
    @Option(help: "Who comments.") var author = "cli"

    func run() async throws {
        try await reportingFailures {
            let config = try ConfigLoader.load(path: options.path)
            let database = try config.openDatabase()
            guard let task = try database.read({ try $0.task(id: id) }) else {
                throw CommandFailure(message: "no task \(id)")
            }
            guard task.active else { throw CommandFailure(message: "task \(id) is \(task.state)") }
            let rowID = try await TaskStoreAccess.comment(
                on: task, text: text, author: author, database: database, configPath: options.path)
            print("comment stored (delivery \(rowID))")
        }
    }
}

/// The CLI's direct access to the store for task commands: reads, and requests stored as inbox deliveries exactly
/// like the REST API's.
enum TaskStoreAccess {
    static func open(_ path: String) throws -> Database {
        try ConfigLoader.load(path: path).openDatabase()
    }

    /// The inbox file of the config at `path`; `store` is its main file, opened with `open`.
    static func openInbox(_ path: String, store: Database) throws -> Database {
        try ConfigLoader.load(path: path).openInbox(store: store)
    }

    /// Stores a request in the inbox file `inbox` as the REST API does; returns the delivery's row id.
    static func storeDelivery(
        _ inbox: Database, project: String, event: String, payload: [String: String], task: Int64? = nil
    ) throws -> Int64 {
        var object: [String: Any] = payload
        if let task { object["task"] = task }
        let body = Array(try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]))
        let id = "cli-\(UUID().uuidString.lowercased())"
        let delivery = NewDelivery(
            source: "api", project: project, event: event, deliveryID: id, bodySHA256: id, headers: "{}", body: body,
            receivedAtMs: Int64(Date().timeIntervalSince1970 * 1000))
        let outcome = try inbox.write { try $0.insertDelivery(delivery) }
        guard case .stored(let rowID) = outcome else { throw CommandFailure(message: "the request was not stored") }
        return rowID
    }

    /// Stores a comment on a local task (an answer, `:approved:`, `:rejected: why`) as the REST API does, and wakes the
    /// gatekeeper; returns the delivery's row id.
    static func comment(
        on task: TaskRecord, text: String, author: String, database: Database, configPath: String
    ) async throws -> Int64 {
        let rowID = try storeDelivery(
            try openInbox(configPath, store: database), project: task.project, event: "comment.create",
            payload: ["author": author, "body": text, "issue": task.issue], task: task.id)
        await wakeGatekeeper(configPath: configPath)
        return rowID
    }

    /// The id of the task a `task.create` delivery created, once the gatekeeper has applied it; nil after `timeout`.
    static func taskCreated(
        byDelivery rowID: Int64, in database: Database, timeout: Duration = .seconds(6)
    ) async throws -> Int64? {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            let row = try database.read {
                try $0.queryFirst("SELECT task_id FROM task_events WHERE delivery_id = ? LIMIT 1", .integer(rowID))
            }
            if let taskID = try row?.int64("task_id") { return taskID }
            try await Task.sleep(for: .milliseconds(100))
        }
        return nil
    }

    /// Tells the gatekeeper (through a running supervisor) that the inbox has something; best effort: it polls.
    static func wakeGatekeeper(configPath: String) async {
        _ = try? await ControlClient.withConnection(configPath: configPath) { connection in
            try await connection.send(InboxWake())
        }
    }

    static func json<T: Encodable>(_ value: T) throws -> String {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }

    static func time(_ ms: Int64) -> String {
        let formatter = DateFormatter()
        formatter.dateFormat = "MM-dd HH:mm:ss"
        return formatter.string(from: Date(timeIntervalSince1970: Double(ms) / 1000))
    }

    /// Left-aligned columns, two spaces apart.
    static func table(_ rows: [[String]]) -> String {
        guard let first = rows.first else { return "" }
        var widths = Array(repeating: 0, count: first.count)
        for row in rows {
            for (index, cell) in row.enumerated() where index < widths.count {
                widths[index] = max(widths[index], cell.count)
            }
        }
        return rows.map { row in
            row.enumerated().map { index, cell in
                index == row.count - 1 ? cell : cell.padding(toLength: widths[index], withPad: " ", startingAt: 0)
            }.joined(separator: "  ")
        }.joined(separator: "\n") + "\n"
    }
}
