import Foundation
import Store
import Testing

/// Runs blocking work on its own thread and returns its result.
func onThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread { continuation.resume(with: Result { try body() }) }.start()
    }
}

extension ProcessLevel {
    @Suite("REST API")
    struct APITests {
        @Test("tasks are started, read, commented and refused through /api/v1, behind the bearer token")
        func api() async throws {
            let scratch = TemporaryDirectory("bosun-origin")
            let origin = try await makeOrigin(in: scratch)
            let config = workerConfig(
                origin: origin, extra: "api: { token_file: ./api-token, open_health: true }",
                moreProjects: """
                      - name: forge
                        tracker: github
                        repo: { url: https://github.com/acme/forge.git }
                        webhook: { insecure: true }
                        authors: [alice]
                    """)
            try await withBosun(
                extraConfig: config, environment: ["BOSUN_TEST_MODE": "sleep-1"],
                files: ["api-token": "t0ken-for-tests\n"]
            ) { bosun in
                let port = try await bosun.port()
                let auth = [("Authorization", "Bearer t0ken-for-tests")]
                func call(
                    _ method: String, _ path: String, _ body: String = "", headers: [(String, String)]? = nil
                )
                    async throws -> HTTPTestClient.Reply
                {
                    let sent = headers ?? auth
                    return try await onThread {
                        try HTTPTestClient(port: port).send(
                            method, path, headers: sent + [("Content-Type", "application/json")], body: Array(body.utf8)
                        )
                    }
                }
                #expect(try await call("GET", "/api/v1/tasks", headers: []).status == 401)
                let wrong = try await call("GET", "/api/v1/tasks", headers: [("Authorization", "Bearer nope")])
                #expect(wrong.status == 401)
                #expect(wrong.body.contains("\"error\""))
                #expect(try await call("GET", "/healthz", headers: []).status == 200)

                let created = try await call(
                    "POST", "/api/v1/tasks", #"{"project":"demo","title":"From the API","body":"Do it."}"#)
                #expect(created.status == 202, "\(created.body)")
                let object = try JSONSerialization.jsonObject(with: Data(created.body.utf8)) as? [String: String]
                let taskID = try #require(object?["task"].flatMap { Int64($0) }, "\(created.body)")

                #expect(try await call("POST", "/api/v1/tasks", #"{"project":"nope","title":"x"}"#).status == 404)
                #expect(try await call("POST", "/api/v1/tasks", #"{"project":"demo""#).status == 400)
                #expect(try await call("POST", "/api/v1/tasks", #"{"project":"demo"}"#).status == 400)
                #expect(
                    try await call("POST", "/api/v1/tasks", #"{"project":"demo","title":"x","stage":"nowhere"}"#).status
                        == 400)
                #expect(try await call("POST", "/api/v1/tasks", #"{"project":"forge"}"#).status == 400)
                #expect(try await call("POST", "/api/v1/tasks", #"{"project":"forge","issue":"../1"}"#).status == 400)
                let huge = "{\"project\":\"demo\",\"title\":\"" + String(repeating: "x", count: 2 << 20) + "\"}"
                #expect(try await call("POST", "/api/v1/tasks", huge).status == 413)

                let first = try await call("POST", "/api/v1/tasks", #"{"project":"forge","issue":"5"}"#)
                #expect(first.status == 202, "\(first.body)")
                let forgeTask = try #require(
                    (try JSONSerialization.jsonObject(with: Data(first.body.utf8)) as? [String: String])?["task"])
                let again = try await call("POST", "/api/v1/tasks", #"{"project":"forge","issue":"5"}"#)
                #expect(again.status == 409)
                #expect(again.body.contains("\"task\":\"\(forgeTask)\""))

                let list = try await call("GET", "/api/v1/tasks")
                #expect(list.status == 200)
                #expect(list.body.contains("From the API"))
                #expect(try await call("GET", "/api/v1/tasks/999999").status == 404)

                let database = try Database(path: bosun.directory.file("state/bosun.db"))
                try await eventually(timeout: .seconds(60), "the analysis run finished") {
                    try database.read { try $0.task(id: taskID) }?.waitingOn == "approval"
                }
                let detail = try await call("GET", "/api/v1/tasks/\(taskID)")
                #expect(detail.status == 200)
                #expect(detail.body.contains("\"to_state\":\"analysis\""))
                #expect(detail.body.contains("\"runs\":[{"))
                let run = try #require(try database.read { try $0.runs(taskID: taskID) }.first)
                let log = try await call("GET", "/api/v1/runs/\(run.id)/log?tail=1")
                #expect(log.status == 200)
                #expect(log.body.contains("\"type\":\"result\""))
                #expect(try await call("GET", "/api/v1/runs/\(run.id)/log?tail=zero").status == 400)
                #expect(try await call("GET", "/api/v1/runs/424242/log").status == 404)

                let state = try await call("GET", "/api/v1/state")
                #expect(state.status == 200)
                for key in [
                    "\"processes\"", "\"breaker\"", "\"jobs\"", "\"inbox\"", "\"running_runs\"", "\"preflight\"",
                ] {
                    #expect(state.body.contains(key), "\(key) in \(state.body)")
                }

                let approve = try await call(
                    "POST", "/api/v1/tasks/\(taskID)/comments", #"{"body":":approved:","author":"alice"}"#)
                #expect(approve.status == 202)
                try await eventually(timeout: .seconds(30), "the task past analysis") {
                    try database.read { try $0.task(id: taskID) }?.state == "architecture"
                }
            }
        }
    }
}
