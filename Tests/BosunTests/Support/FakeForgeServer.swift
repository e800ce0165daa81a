import Foundation
import Hummingbird
import Logging
import NIOCore
import Synchronization

@testable import Outbound

/// One request as the fake forge received it.
struct RecordedRequest: Sendable {
    let method: String
    /// The path as sent, still percent-encoded.
    let rawPath: String
    /// The path's segments, decoded, empty ones dropped.
    let segments: [String]
    /// The query, decoded.
    let query: [String: String]
    /// Header names lowercased.
    let headers: [String: String]
    let body: [UInt8]

    var json: JSONValue? { JSONValue.parse(body) }
    var text: String { String(decoding: body, as: UTF8.self) }
    /// `METHOD /raw/path`, for order assertions.
    var line: String { "\(method) \(rawPath)" }
}

/// A canned answer.
struct FakeReply: Sendable {
    var status: Int
    var headers: [(String, String)] = []
    var body: [UInt8] = []

    static func json(_ status: Int, _ value: JSONValue, headers: [(String, String)] = []) -> FakeReply {
        FakeReply(status: status, headers: [("Content-Type", "application/json")] + headers, body: value.encoded)
    }

    static func message(_ status: Int, _ text: String, headers: [(String, String)] = []) -> FakeReply {
        json(status, .object(["message": .string(text)]), headers: headers)
    }
}

/// A scripted deviation: the next `times` requests matching `method` and a path ending in `pathSuffix` get
/// `reply`. With `applyFirst` the request is handled normally first (its change is kept) and only the answer is
/// replaced, which is how a lost response looks to the client.
struct FakeFault: Sendable {
    var method: String
    var pathSuffix: String
    var reply: FakeReply
    var applyFirst = false
    var times = 1
}

/// A pull or merge request of the fake forge.
struct FakePull: Sendable {
    var number: Int
    var head: String
    var base: String
    var title: String
    var body: String
    var state: String
}

/// The fake forge's data: one repository (or GitLab project, or Plane project).
struct FakeForgeModel: Sendable {
    var labels: [(id: Int, name: String, color: String)] = []
    var issueLabels: [String: [String]] = [:]
    var comments: [String: [JSONValue]] = [:]
    var branches: [String: String] = ["main": "0a1b2c3d4e5f60718293a4b5c6d7e8f901234567"]
    var pulls: [FakePull] = []
    var issueStates: [String: String] = [:]
    var planeStates: [(id: String, name: String)] = [
        ("5f0e3c1a-0000-4000-8000-000000000001", "Backlog"), ("5f0e3c1a-0000-4000-8000-000000000002", "In Progress"),
        ("5f0e3c1a-0000-4000-8000-000000000003", "Done"),
    ]
    var planeItemStates: [String: String] = [:]
    var nextID = 1000

    mutating func newID() -> Int {
        nextID += 1
        return nextID
    }
}

/// A loopback HTTP server that answers like the documented GitHub, Gitea, GitLab and Plane REST APIs (or a chat
/// notifier), keeps a small model of one repository, and records every request.
final class FakeForgeServer: Sendable {
    enum Kind: Sendable { case github, gitea, gitlab, plane, notifier }

    let kind: Kind
    let token: String
    private let state: Mutex<(model: FakeForgeModel, requests: [RecordedRequest], faults: [FakeFault], base: String)>
    /// The rate limit every answer announces, counting down per request, when set.
    private let rateLimit = Mutex<(limit: Int, remaining: Int, resetEpochSeconds: Int64)?>(nil)

    init(kind: Kind, token: String) {
        self.kind = kind
        self.token = token
        state = Mutex((FakeForgeModel(), [], [], ""))
    }

    /// From now on every answer carries rate-limit headers as the forge documents them (`X-RateLimit-*`; GitLab's
    /// `RateLimit-*`), `remaining` going down by one per request.
    func announceRateLimit(limit: Int, remaining: Int, resetEpochSeconds: Int64) {
        rateLimit.withLock { $0 = (limit, remaining, resetEpochSeconds) }
    }

    /// `http://127.0.0.1:PORT`.
    var origin: String { state.withLock { $0.base } }

    /// The API base a client should use for this kind.
    var apiBase: String {
        switch kind {
        case .github, .notifier: origin
        case .gitea, .plane: origin + "/api/v1"
        case .gitlab: origin + "/api/v4"
        }
    }

    var requests: [RecordedRequest] { state.withLock { $0.requests } }
    var model: FakeForgeModel { state.withLock { $0.model } }

    func edit(_ change: (inout FakeForgeModel) -> Void) { state.withLock { change(&$0.model) } }
    func inject(_ fault: FakeFault) { state.withLock { $0.faults.append(fault) } }

    /// Runs `body` with a fake forge listening on 127.0.0.1 at a free port, then stops it.
    static func with<T: Sendable>(
        _ kind: Kind, token: String = "tok-\(UUID().uuidString.prefix(8))",
        _ body: @Sendable (FakeForgeServer) async throws -> T
    ) async throws -> T {
        let forge = FakeForgeServer(kind: kind, token: token)
        let (ports, portSink) = AsyncStream<Int>.makeStream()
        var logger = Logger(label: "fake-forge")
        logger.logLevel = .critical
        let app = Application(
            responder: CallbackResponder<BasicRequestContext> { request, _ in
                var collected = try await request.body.collect(upTo: 8 * 1024 * 1024)
                let bytes = collected.readBytes(length: collected.readableBytes) ?? []
                return forge.respond(request, body: bytes)
            },
            configuration: ApplicationConfiguration(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { channel in portSink.yield(channel.localAddress?.port ?? 0) },
            logger: logger)
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await app.run() }
            var iterator = ports.makeAsyncIterator()
            guard let port = await iterator.next(), port > 0 else {
                group.cancelAll()
                throw FakeForgeError(message: "fake forge did not start")
            }
            forge.state.withLock { $0.base = "http://127.0.0.1:\(port)" }
            do {
                let result = try await body(forge)
                group.cancelAll()
                return result
            } catch {
                group.cancelAll()
                throw error
            }
        }
    }

    private func respond(_ request: Request, body: [UInt8]) -> Response {
        let rawPath = request.uri.path
        var query: [String: String] = [:]
        for pair in (request.uri.query ?? "").split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            query[URLEncoding.decode(String(parts[0]))] = parts.count > 1 ? URLEncoding.decode(String(parts[1])) : ""
        }
        var headers: [String: String] = [:]
        for field in request.headers {
            let name = field.name.canonicalName.lowercased()
            headers[name] = headers[name].map { "\($0), \(field.value)" } ?? field.value
        }
        let recorded = RecordedRequest(
            method: request.method.rawValue, rawPath: rawPath,
            segments: rawPath.split(separator: "/").map { URLEncoding.decode(String($0)) }, query: query,
            headers: headers, body: body)
        let reply: FakeReply = state.withLock { state in
            state.requests.append(recorded)
            if let index = state.faults.firstIndex(where: {
                $0.method == recorded.method && rawPath.hasSuffix($0.pathSuffix)
            }) {
                let fault = state.faults[index]
                state.faults[index].times -= 1
                if state.faults[index].times <= 0 { state.faults.remove(at: index) }
                if fault.applyFirst { _ = handle(recorded, model: &state.model, base: state.base) }
                return fault.reply
            }
            return handle(recorded, model: &state.model, base: state.base)
        }
        var headerPairs = reply.headers
        if let limit = rateLimit.withLock({ limit -> (limit: Int, remaining: Int, resetEpochSeconds: Int64)? in
            guard let current = limit else { return nil }
            limit = (current.limit, max(0, current.remaining - 1), current.resetEpochSeconds)
            return limit
        }) {
            let prefix = kind == .gitlab ? "RateLimit-" : "X-RateLimit-"
            headerPairs += [
                (prefix + "Limit", String(limit.limit)), (prefix + "Remaining", String(limit.remaining)),
                (prefix + "Reset", String(limit.resetEpochSeconds)),
            ]
        }
        var fields = HTTPFields()
        for (name, value) in headerPairs {
            if let fieldName = HTTPFields.Element.Name(name) {
                fields.append(HTTPFields.Element(name: fieldName, value: value))
            }
        }
        return Response(
            status: .init(code: reply.status), headers: fields,
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: reply.body)))
    }

    // MARK: Routing

    private func handle(_ request: RecordedRequest, model: inout FakeForgeModel, base: String) -> FakeReply {
        switch kind {
        case .github:
            guard request.headers["authorization"] == "Bearer \(token)" else { return .message(401, "Bad credentials") }
            return github(request, &model, base: base)
        case .gitea:
            guard request.headers["authorization"] == "token \(token)" else {
                return .message(401, "token is required")
            }
            return gitea(request, &model, base: base)
        case .gitlab:
            guard request.headers["private-token"] == token else { return .message(401, "401 Unauthorized") }
            return gitlab(request, &model, base: base)
        case .plane:
            guard request.headers["x-api-key"] == token else {
                return .json(401, .object(["detail": .string("Authentication credentials were not provided.")]))
            }
            return plane(request, &model, base: base)
        case .notifier:
            return notifier(request, &model)
        }
    }

    private func labelJSON(_ label: (id: Int, name: String, color: String)) -> JSONValue {
        .object(["id": .integer(Int64(label.id)), "name": .string(label.name), "color": .string(label.color)])
    }

    private func pullJSON(_ pull: FakePull, base: String, gitlab: Bool = false) -> JSONValue {
        if gitlab {
            return .object([
                "iid": .integer(Int64(pull.number)), "source_branch": .string(pull.head),
                "target_branch": .string(pull.base), "title": .string(pull.title), "description": .string(pull.body),
                "state": .string(pull.state),
                "web_url": .string("\(base)/group/project/-/merge_requests/\(pull.number)"),
            ])
        }
        return .object([
            "number": .integer(Int64(pull.number)), "head": .object(["ref": .string(pull.head)]),
            "base": .object(["ref": .string(pull.base)]), "title": .string(pull.title), "body": .string(pull.body),
            "state": .string(pull.state == "merged" ? "closed" : pull.state), "merged": .bool(pull.state == "merged"),
            "html_url": .string("\(base)/owner/repo/pull/\(pull.number)"),
        ])
    }

    // GitHub REST: /repos/{owner}/{repo}/...
    private func github(_ request: RecordedRequest, _ model: inout FakeForgeModel, base: String) -> FakeReply {
        let path = request.segments
        guard path.count >= 3, path[0] == "repos" else { return .message(404, "Not Found") }
        let rest = Array(path.dropFirst(3))
        let body = request.json
        switch (request.method, rest.count, rest.first) {
        case ("POST", 1, "labels"):
            guard let name = body?["name"]?.stringValue, let color = body?["color"]?.stringValue else {
                return .message(422, "Validation Failed")
            }
            if model.labels.contains(where: { $0.name == name }) {
                return .json(
                    422,
                    .object([
                        "message": .string("Validation Failed"),
                        "errors": .array([
                            .object([
                                "resource": .string("Label"), "code": .string("already_exists"),
                                "field": .string("name"),
                            ])
                        ]),
                    ]))
            }
            let label = (id: model.newID(), name: name, color: color)
            model.labels.append(label)
            return .json(201, labelJSON(label))
        case ("POST", 3, "issues") where rest[2] == "labels":
            let names = body?["labels"]?.arrayValue?.compactMap(\.stringValue) ?? []
            for name in names where !model.labels.contains(where: { $0.name == name }) {
                model.labels.append((model.newID(), name, "ededed"))
            }
            var current = model.issueLabels[rest[1], default: []]
            for name in names where !current.contains(name) { current.append(name) }
            model.issueLabels[rest[1]] = current
            return .json(200, .array(current.map { .object(["name": .string($0)]) }))
        case ("DELETE", 4, "issues") where rest[2] == "labels":
            guard let index = model.issueLabels[rest[1], default: []].firstIndex(of: rest[3]) else {
                return .message(404, "Label does not exist")
            }
            model.issueLabels[rest[1]]?.remove(at: index)
            return .json(200, .array(model.issueLabels[rest[1], default: []].map { .object(["name": .string($0)]) }))
        case ("GET", 3, "issues") where rest[2] == "comments":
            let all = model.comments[rest[1], default: []]
            let perPage = max(1, Int(request.query["per_page"] ?? "30") ?? 30)
            let page = max(1, Int(request.query["page"] ?? "1") ?? 1)
            let lastPage = max(1, (all.count + perPage - 1) / perPage)
            let slice = Array(all.dropFirst((page - 1) * perPage).prefix(perPage))
            var headers: [(String, String)] = []
            if lastPage > 1 {
                let link = "\(base)\(request.rawPath)?per_page=\(perPage)&page="
                headers.append(
                    ("Link", "<\(link)\(min(page + 1, lastPage))>; rel=\"next\", <\(link)\(lastPage)>; rel=\"last\""))
            }
            return .json(200, .array(slice), headers: headers)
        case ("POST", 3, "issues") where rest[2] == "comments":
            guard let text = body?["body"]?.stringValue else { return .message(422, "Validation Failed") }
            let id = model.newID()
            let comment = JSONValue.object([
                "id": .integer(Int64(id)), "body": .string(text),
                "html_url": .string("\(base)/owner/repo/issues/\(rest[1])#issuecomment-\(id)"),
            ])
            model.comments[rest[1], default: []].append(comment)
            return .json(201, comment)
        case ("GET", _, "git") where rest.count >= 4 && rest[1] == "ref" && rest[2] == "heads":
            let name = rest.dropFirst(3).joined(separator: "/")
            guard let sha = model.branches[name] else { return .message(404, "Not Found") }
            return .json(
                200,
                .object([
                    "ref": .string("refs/heads/\(name)"),
                    "object": .object(["sha": .string(sha), "type": .string("commit")]),
                ]))
        case ("POST", 2, "git") where rest[1] == "refs":
            guard let ref = body?["ref"]?.stringValue, ref.hasPrefix("refs/heads/"), let sha = body?["sha"]?.stringValue
            else { return .message(422, "Validation Failed") }
            let name = String(ref.dropFirst("refs/heads/".count))
            if model.branches[name] != nil { return .message(422, "Reference already exists") }
            model.branches[name] = sha
            return .json(201, .object(["ref": .string(ref), "object": .object(["sha": .string(sha)])]))
        case ("GET", 1, "pulls"):
            let head = request.query["head"]
            let open = model.pulls.filter { $0.state == "open" && (head == nil || "owner:\($0.head)" == head) }
            return .json(200, .array(open.map { pullJSON($0, base: base) }))
        case ("POST", 1, "pulls"):
            guard let title = body?["title"]?.stringValue, let head = body?["head"]?.stringValue,
                let baseBranch = body?["base"]?.stringValue
            else { return .message(422, "Validation Failed") }
            if model.pulls.contains(where: { $0.head == head && $0.state == "open" }) {
                return .json(
                    422,
                    .object([
                        "message": .string("Validation Failed"),
                        "errors": .array([
                            .object([
                                "resource": .string("PullRequest"), "code": .string("custom"),
                                "message": .string("A pull request already exists for owner:\(head)."),
                            ])
                        ]),
                    ]))
            }
            let pull = FakePull(
                number: model.pulls.count + 1, head: head, base: baseBranch, title: title,
                body: body?["body"]?.stringValue ?? "", state: "open")
            model.pulls.append(pull)
            return .json(201, pullJSON(pull, base: base))
        case ("PUT", 3, "pulls") where rest[2] == "merge":
            guard let index = model.pulls.firstIndex(where: { String($0.number) == rest[1] }) else {
                return .message(404, "Not Found")
            }
            guard model.pulls[index].state == "open" else { return .message(405, "Pull Request is not mergeable") }
            model.pulls[index].state = "merged"
            return .json(
                200,
                .object([
                    "sha": .string("9f8e7d6c"), "merged": .bool(true),
                    "message": .string("Pull Request successfully merged"),
                ]))
        case ("GET", 3, "pulls") where rest[2] == "merge":
            let merged = model.pulls.contains { String($0.number) == rest[1] && $0.state == "merged" }
            return merged ? FakeReply(status: 204) : .message(404, "Not Found")
        case ("PATCH", 2, "issues"):
            if let state = body?["state"]?.stringValue { model.issueStates[rest[1]] = state }
            return .json(
                200, .object(["number": .string(rest[1]), "state": .string(model.issueStates[rest[1]] ?? "open")]))
        default:
            return .message(404, "Not Found")
        }
    }

    // Gitea API v1: /api/v1/repos/{owner}/{repo}/...
    private func gitea(_ request: RecordedRequest, _ model: inout FakeForgeModel, base: String) -> FakeReply {
        let path = request.segments
        guard path.count >= 5, path[0] == "api", path[1] == "v1", path[2] == "repos" else {
            return .message(404, "not found")
        }
        let rest = Array(path.dropFirst(5))
        let body = request.json
        let limit = max(1, Int(request.query["limit"] ?? "30") ?? 30)
        let page = max(1, Int(request.query["page"] ?? "1") ?? 1)
        func paged(_ items: [JSONValue]) -> FakeReply {
            .json(200, .array(Array(items.dropFirst((page - 1) * limit).prefix(limit))))
        }
        switch (request.method, rest.count, rest.first) {
        case ("GET", 1, "labels"):
            return paged(model.labels.map(labelJSON))
        case ("POST", 1, "labels"):
            guard let name = body?["name"]?.stringValue, let color = body?["color"]?.stringValue else {
                return .message(422, "name and color required")
            }
            // Gitea does not refuse a duplicate name; it makes a second label.
            let label = (id: model.newID(), name: name, color: color)
            model.labels.append(label)
            return .json(201, labelJSON(label))
        case ("POST", 3, "issues") where rest[2] == "labels":
            let ids = body?["labels"]?.arrayValue?.compactMap { $0.scalarText.flatMap { Int($0) } } ?? []
            for id in ids {
                guard let label = model.labels.first(where: { $0.id == id }) else {
                    return .message(422, "label \(id) does not exist")
                }
                if !model.issueLabels[rest[1], default: []].contains(label.name) {
                    model.issueLabels[rest[1], default: []].append(label.name)
                }
            }
            return .json(200, .array(model.issueLabels[rest[1], default: []].map { .object(["name": .string($0)]) }))
        case ("DELETE", 4, "issues") where rest[2] == "labels":
            guard let label = model.labels.first(where: { String($0.id) == rest[3] }),
                let index = model.issueLabels[rest[1], default: []].firstIndex(of: label.name)
            else { return .message(404, "not found") }
            model.issueLabels[rest[1]]?.remove(at: index)
            return FakeReply(status: 204)
        case ("GET", 3, "issues") where rest[2] == "comments":
            return .json(200, .array(model.comments[rest[1], default: []]))
        case ("POST", 3, "issues") where rest[2] == "comments":
            guard let text = body?["body"]?.stringValue else { return .message(422, "body required") }
            let id = model.newID()
            let comment = JSONValue.object([
                "id": .integer(Int64(id)), "body": .string(text),
                "html_url": .string("\(base)/owner/repo/issues/\(rest[1])#issuecomment-\(id)"),
            ])
            model.comments[rest[1], default: []].append(comment)
            return .json(201, comment)
        case ("POST", 1, "branches"):
            guard let name = body?["new_branch_name"]?.stringValue, let old = body?["old_branch_name"]?.stringValue
            else {
                return .message(422, "new_branch_name required")
            }
            guard let sha = model.branches[old] else { return .message(404, "The old branch does not exist") }
            if model.branches[name] != nil { return .message(409, "The branch already exists.") }
            model.branches[name] = sha
            return .json(201, .object(["name": .string(name), "commit": .object(["id": .string(sha)])]))
        case ("GET", 1, "pulls"):
            let state = request.query["state"] ?? "open"
            let selected = model.pulls.filter { state == "all" || $0.state == state }
            return paged(selected.map { pullJSON($0, base: base) })
        case ("POST", 1, "pulls"):
            guard let title = body?["title"]?.stringValue, let head = body?["head"]?.stringValue,
                let baseBranch = body?["base"]?.stringValue
            else { return .message(422, "title, head and base required") }
            if model.pulls.contains(where: { $0.head == head && $0.base == baseBranch && $0.state == "open" }) {
                return .message(409, "pull request already exists for these targets")
            }
            let pull = FakePull(
                number: model.pulls.count + 1, head: head, base: baseBranch, title: title,
                body: body?["body"]?.stringValue ?? "", state: "open")
            model.pulls.append(pull)
            return .json(201, pullJSON(pull, base: base))
        case ("POST", 3, "pulls") where rest[2] == "merge":
            guard let index = model.pulls.firstIndex(where: { String($0.number) == rest[1] }) else {
                return .message(404, "not found")
            }
            guard model.pulls[index].state == "open" else { return .message(405, "The PR is already merged") }
            model.pulls[index].state = "merged"
            return FakeReply(status: 200)
        case ("GET", 3, "pulls") where rest[2] == "merge":
            let merged = model.pulls.contains { String($0.number) == rest[1] && $0.state == "merged" }
            return FakeReply(status: merged ? 204 : 404)
        case ("PATCH", 2, "issues"):
            if let state = body?["state"]?.stringValue { model.issueStates[rest[1]] = state }
            return .json(
                201, .object(["number": .string(rest[1]), "state": .string(model.issueStates[rest[1]] ?? "open")]))
        default:
            return .message(404, "not found")
        }
    }

    // GitLab v4: /api/v4/projects/:id/...
    private func gitlab(_ request: RecordedRequest, _ model: inout FakeForgeModel, base: String) -> FakeReply {
        let path = request.segments
        guard path.count >= 4, path[0] == "api", path[1] == "v4", path[2] == "projects" else {
            return .message(404, "404 Not Found")
        }
        let rest = Array(path.dropFirst(4))
        let body = request.json
        func labelNames(_ key: String) -> [String] {
            (body?[key]?.stringValue ?? "").split(separator: ",").map(String.init)
        }
        switch (request.method, rest.count, rest.first) {
        case ("POST", 1, "labels"):
            guard let name = body?["name"]?.stringValue, let color = body?["color"]?.stringValue else {
                return .json(400, .object(["error": .string("name is missing")]))
            }
            if model.labels.contains(where: { $0.name == name }) { return .message(409, "Label already exists") }
            let label = (id: model.newID(), name: name, color: color)
            model.labels.append(label)
            return .json(201, labelJSON(label))
        case ("PUT", 2, "issues"):
            var current = model.issueLabels[rest[1], default: []]
            for name in labelNames("add_labels") where !current.contains(name) { current.append(name) }
            current.removeAll { labelNames("remove_labels").contains($0) }
            model.issueLabels[rest[1]] = current
            if body?["state_event"]?.stringValue == "close" { model.issueStates[rest[1]] = "closed" }
            return .json(
                200,
                .object([
                    "iid": .string(rest[1]), "labels": .array(current.map(JSONValue.string)),
                    "state": .string(model.issueStates[rest[1]] ?? "opened"),
                ]))
        case ("GET", 3, "issues") where rest[2] == "notes":
            var notes = model.comments[rest[1], default: []]
            if request.query["sort"] == "desc" { notes.reverse() }
            let perPage = max(1, Int(request.query["per_page"] ?? "20") ?? 20)
            return .json(200, .array(Array(notes.prefix(perPage))))
        case ("POST", 3, "issues") where rest[2] == "notes":
            guard let text = body?["body"]?.stringValue else {
                return .json(400, .object(["error": .string("body is missing")]))
            }
            let note = JSONValue.object(["id": .integer(Int64(model.newID())), "body": .string(text)])
            model.comments[rest[1], default: []].append(note)
            return .json(201, note)
        case ("POST", 2, "repository") where rest[1] == "branches":
            guard let name = request.query["branch"], let ref = request.query["ref"] else {
                return .json(400, .object(["error": .string("branch is missing")]))
            }
            if model.branches[name] != nil { return .message(400, "Branch already exists") }
            guard let sha = model.branches[ref] else { return .message(400, "Invalid reference name: \(ref)") }
            model.branches[name] = sha
            return .json(201, .object(["name": .string(name), "commit": .object(["id": .string(sha)])]))
        case ("GET", 1, "merge_requests"):
            let source = request.query["source_branch"]
            let selected = model.pulls.filter {
                (request.query["state"] == nil || $0.state == request.query["state"])
                    && (source == nil || $0.head == source)
            }
            return .json(200, .array(selected.map { pullJSON($0, base: base, gitlab: true) }))
        case ("POST", 1, "merge_requests"):
            guard let source = body?["source_branch"]?.stringValue, let target = body?["target_branch"]?.stringValue,
                let title = body?["title"]?.stringValue
            else { return .json(400, .object(["error": .string("source_branch is missing")])) }
            if let open = model.pulls.first(where: { $0.head == source && $0.state == "opened" }) {
                return .json(
                    409,
                    .object([
                        "message": .array([
                            .string("Another open merge request already exists for this source branch: !\(open.number)")
                        ])
                    ]))
            }
            let pull = FakePull(
                number: model.pulls.count + 1, head: source, base: target, title: title,
                body: body?["description"]?.stringValue ?? "", state: "opened")
            model.pulls.append(pull)
            return .json(201, pullJSON(pull, base: base, gitlab: true))
        case ("PUT", 3, "merge_requests") where rest[2] == "merge":
            guard let index = model.pulls.firstIndex(where: { String($0.number) == rest[1] }) else {
                return .message(404, "404 Not found")
            }
            guard model.pulls[index].state == "opened" else { return .message(405, "405 Method Not Allowed") }
            model.pulls[index].state = "merged"
            return .json(
                200,
                .object(["iid": .string(rest[1]), "state": .string("merged"), "merge_commit_sha": .string("abc999")]))
        case ("GET", 2, "merge_requests"):
            guard let pull = model.pulls.first(where: { String($0.number) == rest[1] }) else {
                return .message(404, "404 Not found")
            }
            return .json(200, pullJSON(pull, base: base, gitlab: true))
        default:
            return .message(404, "404 Not Found")
        }
    }

    // Plane v1: /api/v1/workspaces/{slug}/projects/{project_id}/...
    private func plane(_ request: RecordedRequest, _ model: inout FakeForgeModel, base: String) -> FakeReply {
        let path = request.segments
        guard path.count >= 6, path[0] == "api", path[1] == "v1", path[2] == "workspaces", path[4] == "projects",
            request.rawPath.hasSuffix("/")
        else { return .json(404, .object(["detail": .string("Not found.")])) }
        let rest = Array(path.dropFirst(6))
        let body = request.json
        func page(_ items: [JSONValue]) -> FakeReply {
            .json(
                200,
                .object([
                    "results": .array(items), "total_count": .integer(Int64(items.count)),
                    "next_cursor": .string("100:1:0"), "next_page_results": .bool(false),
                ]))
        }
        switch (request.method, rest.count, rest.first) {
        case ("GET", 1, "states"):
            return page(model.planeStates.map { .object(["id": .string($0.id), "name": .string($0.name)]) })
        case ("PATCH", 2, "issues"):
            guard let stateID = body?["state"]?.stringValue, model.planeStates.contains(where: { $0.id == stateID })
            else {
                return .json(400, .object(["state": .array([.string("Invalid pk - object does not exist.")])]))
            }
            model.planeItemStates[rest[1]] = stateID
            return .json(200, .object(["id": .string(rest[1]), "state": .string(stateID)]))
        case ("GET", 3, "issues") where rest[2] == "comments":
            var comments = model.comments[rest[1], default: []]
            if let externalID = request.query["external_id"] {
                comments = comments.filter { $0["external_id"]?.stringValue == externalID }
            }
            if let source = request.query["external_source"] {
                comments = comments.filter { $0["external_source"]?.stringValue == source }
            }
            return page(comments)
        case ("POST", 3, "issues") where rest[2] == "comments":
            guard let html = body?["comment_html"]?.stringValue else {
                return .json(400, .object(["comment_html": .array([.string("This field is required.")])]))
            }
            let comment = JSONValue.object([
                "id": .string("c0ffee00-0000-4000-8000-\(String(model.newID()).leftPadded(12))"),
                "comment_html": .string(html), "external_id": body?["external_id"] ?? .null,
                "external_source": body?["external_source"] ?? .null,
            ])
            model.comments[rest[1], default: []].append(comment)
            return .json(201, comment)
        default:
            return .json(404, .object(["detail": .string("Not found.")]))
        }
    }

    // Telegram Bot API, Slack incoming webhooks, and a generic JSON webhook.
    private func notifier(_ request: RecordedRequest, _ model: inout FakeForgeModel) -> FakeReply {
        let path = request.segments
        if path.count == 2, path[0] == "bot\(token)", path[1] == "sendMessage" {
            guard let chat = request.json?["chat_id"], let text = request.json?["text"]?.stringValue, !text.isEmpty
            else {
                return .json(
                    400,
                    .object([
                        "ok": .bool(false), "error_code": .integer(400),
                        "description": .string("Bad Request: message text is empty"),
                    ]))
            }
            _ = chat
            return .json(
                200, .object(["ok": .bool(true), "result": .object(["message_id": .integer(Int64(model.newID()))])]))
        }
        if path.first == "services" {
            guard request.json?["text"]?.stringValue != nil else {
                return FakeReply(status: 400, body: Array("invalid_payload".utf8))
            }
            return FakeReply(status: 200, headers: [("Content-Type", "text/html")], body: Array("ok".utf8))
        }
        if path.first == "hook" { return .json(202, .object([:])) }
        return .message(404, "not found")
    }
}

struct FakeForgeError: Error, CustomStringConvertible {
    let message: String
    var description: String { message }
}

extension String {
    fileprivate func leftPadded(_ width: Int) -> String {
        String(repeating: "0", count: max(0, width - count)) + self
    }
}

/// Runs blocking work (libcurl) on its own thread and waits for it without blocking the concurrency pool.
func blocking<T: Sendable>(_ work: @escaping @Sendable () -> T) async -> T {
    await withCheckedContinuation { continuation in
        Thread { continuation.resume(returning: work()) }.start()
    }
}

/// A TCP listener on 127.0.0.1 that never accepts, so a client connects (the kernel's backlog) and then waits
/// forever for an answer: the shape of a wedged server.
final class SilentListener: Sendable {
    let descriptor: Int32
    let port: Int

    init() throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw FakeForgeError(message: "socket failed") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard bound == 0, listen(fd, 8) == 0 else {
            close(fd)
            throw FakeForgeError(message: "bind/listen failed")
        }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        descriptor = fd
        port = Int(UInt16(bigEndian: address.sin_port))
    }

    deinit { close(descriptor) }
}
