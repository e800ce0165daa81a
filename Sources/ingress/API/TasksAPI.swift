import Config
import Foundation
import HTTPTypes
import Hummingbird
import IPC
import NIOCore
import ProcessRuntime
import Store
import WebhookAuth

/// The REST API under `/api/v1`: start a task by hand, comment on one, read tasks, the service's state and run
/// logs. Every route needs the bearer token. Writes go through the inbox like webhooks (`source = api`), so the
/// gatekeeper applies them in arrival order with everything else.
struct TasksAPI: Sendable {
    let config: CurrentConfig
    /// The main file: tasks, jobs, runs, how far the inbox is applied.
    let reader: Database
    /// The inbox file, for its depth.
    let inboxReader: Database
    let inbox: InboxWriter
    /// The supervisor's status, fetched at most once a second whatever the request rate (shared with `/metrics`).
    let health: HealthCache

    /// Largest accepted API request body.
    static let maxBodyBytes = 1 << 20

    func register(on router: Router<BasicRequestContext>) {
        let api = router.group("/api/v1")
        api.post("/tasks") { request, _ in
            try authorize(request)
            return await createTask(request)
        }
        api.get("/tasks") { request, _ in
            try authorize(request)
            return try listTasks(request)
        }
        api.get("/tasks/{id}") { request, context in
            try authorize(request)
            return try showTask(context.parameters.get("id") ?? "")
        }
        api.post("/tasks/{id}/comments") { request, context in
            try authorize(request)
            return await comment(request, taskID: context.parameters.get("id") ?? "")
        }
        api.get("/state") { request, _ in
            try authorize(request)
            return await state()
        }
        api.get("/runs/{id}/log") { request, context in
            try authorize(request)
            return try runLog(context.parameters.get("id") ?? "", tail: request.uri.queryParameters.get("tail"))
        }
    }

    private func authorize(_ request: Request) throws {
        try IngressApp.authorize(request, token: config.current.api.token)
    }

    // MARK: Writes

    /// The body of `POST /api/v1/tasks`.
    struct CreateTask: Codable {
        var project: String
        var issue: String?
        var title: String?
        var body: String?
        var stage: String?
        var labels: [String]?
        var author: String?
    }

    private func createTask(_ request: Request) async -> Response {
        let body: [UInt8]
        switch await readBody(request) {
        case .success(let bytes): body = bytes
        case .failure(let refusal): return refusal.response
        }
        guard let create = try? Self.decoder.decode(CreateTask.self, from: Data(body)) else {
            return JSONResponse.error(
                .badRequest, "invalid request",
                "expected a JSON object with project and either issue (a tracker's issue number) or title and body")
        }
        let current = config.current
        guard let project = current.project(named: create.project) else {
            return JSONResponse.error(.notFound, "unknown project", "no project named \(create.project)")
        }
        if let stage = create.stage, project.resolvedWorkflow.state(stage) == nil {
            let states = project.resolvedWorkflow.states.map(\.name).joined(separator: ", ")
            return JSONResponse.error(.badRequest, "unknown stage", "\(stage) is not a state; states: \(states)")
        }
        if let issue = create.issue {
            guard !issue.isEmpty, issue.count <= 64, issue.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" })
            else {
                return JSONResponse.error(.badRequest, "invalid issue", "issue must be letters, digits and -")
            }
            if let active = try? reader.read({ try $0.activeTask(project: project.name, issue: issue) }) {
                return JSONResponse.make(
                    .conflict,
                    json: JSONText.object([
                        "error": "conflict", "detail": "issue \(issue) already has an active task",
                        "task": String(active.id),
                    ]))
            }
        } else if project.tracker != .local {
            return JSONResponse.error(
                .badRequest, "issue required", "project \(project.name) uses \(project.tracker.rawValue): give issue")
        }
        if create.issue == nil && (create.title ?? "").trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
            return JSONResponse.error(.badRequest, "title required", "a local task needs a title")
        }
        let payload = APIDeliveryBody(
            issue: create.issue, title: create.title, body: create.body, author: create.author ?? "api",
            labels: create.labels, stage: create.stage, task: nil)
        return await store(payload, event: "task.create", project: project.name, waitForTask: true)
    }

    /// The body of `POST /api/v1/tasks/{id}/comments`.
    struct CreateComment: Codable {
        var body: String
        var author: String?
    }

    private func comment(_ request: Request, taskID: String) async -> Response {
        guard let id = Int64(taskID), let task = try? reader.read({ try $0.task(id: id) }) else {
            return JSONResponse.error(.notFound, "unknown task", "no task \(taskID)")
        }
        let body: [UInt8]
        switch await readBody(request) {
        case .success(let bytes): body = bytes
        case .failure(let refusal): return refusal.response
        }
        guard let comment = try? Self.decoder.decode(CreateComment.self, from: Data(body)), !comment.body.isEmpty else {
            return JSONResponse.error(.badRequest, "invalid request", "expected a JSON object with a non-empty body")
        }
        guard task.active else {
            return JSONResponse.error(.conflict, "task finished", "task \(id) is \(task.state)")
        }
        let payload = APIDeliveryBody(
            issue: task.issue, title: nil, body: comment.body, author: comment.author ?? "api", labels: nil, stage: nil,
            task: id)
        return await store(payload, event: "comment.create", project: task.project, waitForTask: false)
    }

    private func store(
        _ payload: APIDeliveryBody, event: String, project: String, waitForTask: Bool
    ) async
        -> Response
    {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        guard let body = try? encoder.encode(payload) else {
            return JSONResponse.error(.internalServerError, "encoding failed", "the request could not be stored")
        }
        let bytes = Array(body)
        let deliveryID = "api-\(UUID().uuidString.lowercased())"
        let delivery = NewDelivery(
            source: "api", project: project, event: event, deliveryID: deliveryID,
            bodySHA256: WebhookAuthenticator.sha256Hex(bytes), headers: "{}", body: bytes,
            receivedAtMs: Clock.nowMilliseconds)
        switch await inbox.store(delivery) {
        case .success(.stored(let rowID)):
            var answer = ["status": "accepted", "delivery": deliveryID]
            if waitForTask, let task = await taskCreated(byDelivery: rowID) { answer["task"] = String(task) }
            return JSONResponse.make(.accepted, answer)
        case .success(.duplicate):
            return JSONResponse.make(.ok, ["status": "duplicate", "delivery": deliveryID])
        case .failure(let error):
            var headers = HTTPFields()
            headers[.retryAfter] = "5"
            return JSONResponse.error(
                .serviceUnavailable, "store unavailable", "the request was not stored: \(error.message)",
                headers: headers)
        }
    }

    /// The task the gatekeeper made from a delivery, if it does within two seconds (it may be down: then the
    /// caller has the delivery id and the task appears later).
    private func taskCreated(byDelivery rowID: Int64) async -> Int64? {
        for _ in 0..<40 {
            let row = try? reader.read {
                try $0.queryFirst("SELECT task_id FROM task_events WHERE delivery_id = ? LIMIT 1", .integer(rowID))
            }
            if let found = row, let id = try? found.int64("task_id") { return id }
            try? await Task.sleep(for: .milliseconds(50))
        }
        return nil
    }

    private func readBody(_ request: Request) async -> Result<[UInt8], ResponseError> {
        do {
            let buffer = try await request.body.collect(upTo: Self.maxBodyBytes)
            return .success(Array(buffer.readableBytesView))
        } catch {
            return .failure(
                ResponseError(
                    JSONResponse.error(
                        .contentTooLarge, "too large", "API requests are at most \(Self.maxBodyBytes) bytes")))
        }
    }

    struct ResponseError: Error {
        let response: Response
        init(_ response: Response) { self.response = response }
    }

    // MARK: Reads

    private func listTasks(_ request: Request) throws -> Response {
        let project = request.uri.queryParameters.get("project")
        let active = request.uri.queryParameters.get("active") == "true"
        let tasks = try reader.read { try $0.tasks(project: project, activeOnly: active, limit: 500) }
        return try Self.json(.ok, ["tasks": tasks])
    }

    /// One task with its history, jobs, runs and effects.
    struct TaskDetail: Encodable {
        var task: TaskRecord
        var events: [TaskEventRecord]
        var jobs: [JobRecord]
        var runs: [RunRecord]
        var effects: [OutboxEntry]
    }

    private func showTask(_ id: String) throws -> Response {
        guard let detail = try taskDetail(id) else {
            return JSONResponse.error(.notFound, "unknown task", "no task \(id)")
        }
        return try Self.json(.ok, detail)
    }

    /// The task whose id is `id` (as it came in a path) with its history, or nil if there is none.
    func taskDetail(_ id: String) throws -> TaskDetail? {
        guard let taskID = Int64(id) else { return nil }
        return try reader.read { transaction -> TaskDetail? in
            guard let task = try transaction.task(id: taskID) else { return nil }
            return TaskDetail(
                task: task, events: try transaction.taskEvents(taskID: taskID),
                jobs: try transaction.jobs(taskID: taskID),
                runs: try transaction.runs(taskID: taskID), effects: try transaction.effects(taskID: taskID))
        }
    }

    /// `GET /api/v1/state`.
    struct ServiceState: Encodable {
        var supervisor: SupervisorStatus?
        var processes: [ProcessStatus]?
        var breaker: BreakerStatus?
        var jobs: [String: Int]
        var retrying: Int
        var tasks: [String: Int]
        var runningRuns: [RunRecord]
        var inbox: InboxState
        var outbox: [String: Int]
        var preflight: [String: String]
    }

    struct InboxState: Encodable {
        var unprocessed: Int
        var lagS: Double
    }

    private func state() async -> Response {
        do {
            return try Self.json(.ok, try await serviceState())
        } catch {
            return JSONResponse.error(.serviceUnavailable, "store unavailable", "\(error)")
        }
    }

    /// What `/api/v1/state` reports: the supervisor's view of the processes and the breaker (at most a second old;
    /// nil fields if it does not answer within 2 s) and the store's counts.
    func serviceState() async throws -> ServiceState {
        let status = await health.supervisorStatus()
        let now = Clock.nowMilliseconds
        let depth = try inboxReader.inboxDepth(appliedIn: reader)
        return try reader.read { transaction in
            var preflight: [String: String] = [:]
            for row in try transaction.query(
                "SELECT name, value FROM operator_flags WHERE name LIKE 'preflight.%'")
            {
                let name = try row.string("name") ?? ""
                preflight[String(name.dropFirst("preflight.".count))] = try row.string("value") ?? ""
            }
            return ServiceState(
                supervisor: status?.supervisor, processes: status?.processes, breaker: status?.breaker,
                jobs: try transaction.jobCountsByState(),
                retrying: try transaction.retryingJobCount(nowMs: now), tasks: try transaction.taskCountsByState(),
                runningRuns: try transaction.liveRuns(),
                inbox: InboxState(
                    unprocessed: depth.unprocessed,
                    lagS: Double(max(0, now - (depth.oldestReceivedAtMs ?? now))) / 1000),
                outbox: try transaction.outboxCountsByState(), preflight: preflight)
        }
    }

    private func runLog(_ id: String, tail: String?) throws -> Response {
        guard let runID = Int64(id), let run = try reader.read({ try $0.run(id: runID) }) else {
            return JSONResponse.error(.notFound, "unknown run", "no run \(id)")
        }
        var lines: Int?
        if let tail {
            guard let count = Int(tail), count > 0, count <= 100_000 else {
                return JSONResponse.error(.badRequest, "invalid tail", "tail must be a number of lines, 1 to 100000")
            }
            lines = count
        }
        guard let text = LogFile.tail(path: run.logPath, lines: lines, maxBytes: 4 << 20) else {
            return JSONResponse.error(.notFound, "no log", "run \(id) has no log yet")
        }
        var headers = HTTPFields()
        headers[.contentType] = "text/plain; charset=utf-8"
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    // MARK: JSON

    static let decoder: JSONDecoder = {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return decoder
    }()

    static func json<T: Encodable>(_ status: HTTPResponse.Status, _ value: T) throws -> Response {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.sortedKeys]
        encoder.dateEncodingStrategy = .iso8601
        let data = try encoder.encode(value)
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}

/// The delivery body the API stores for the gatekeeper (its `APIDelivery`): the contract between the two.
struct APIDeliveryBody: Codable {
    var issue: String?
    var title: String?
    var body: String?
    var author: String?
    var labels: [String]?
    var stage: String?
    var task: Int64?
}

/// Reading the end of a log file without loading all of it.
enum LogFile {
    /// The last `lines` lines (all when nil) of the file, reading at most its last `maxBytes`.
    static func tail(path: String, lines: Int?, maxBytes: Int) -> String? {
        guard let handle = FileHandle(forReadingAtPath: path) else { return nil }
        defer { try? handle.close() }
        guard let size = try? handle.seekToEnd() else { return nil }
        let start = size > UInt64(maxBytes) ? size - UInt64(maxBytes) : 0
        try? handle.seek(toOffset: start)
        let data = (try? handle.readToEnd()) ?? Data()
        var text = String(decoding: data, as: UTF8.self)
        if start > 0, let newline = text.firstIndex(of: "\n") { text = String(text[text.index(after: newline)...]) }
        guard let lines else { return text }
        let all = text.split(separator: "\n", omittingEmptySubsequences: false)
        let trimmed = all.last == "" ? all.dropLast() : all[...]
        return trimmed.suffix(lines).joined(separator: "\n") + (trimmed.isEmpty ? "" : "\n")
    }
}
