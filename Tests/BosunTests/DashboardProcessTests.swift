import Config
import Foundation
import LinuxProcess
import Store
import Testing

@testable import BosunIngress

#if canImport(Glibc)
import Glibc
#endif

/// `workerConfig`'s project with the architect played by `talkative.sh` (a run that prints a line a second for two
/// minutes), and the API token from `./api-token` unless `token` is false.
func dashboardConfig(origin: String, token: Bool = true) -> String {
    workerConfig(
        origin: origin,
        extra: """
            roles:
              architect: { agent: talkative }
              \(["analyst", "developer", "reviewer", "tester", "deployer"].map { "\($0): { agent: fake }" }
                .joined(separator: "\n  "))
            \(token ? "api: { token_file: ./api-token }" : "")
            """,
        moreAgents: """
              talkative:
                argv: [\(fixtures)/agents/talkative.sh, "120"]
                probe: [/bin/sh, -c, "exit 0"]
            """)
}

/// Starts Bosun with `dashboardConfig` (agents in `sleep-1` mode, the API token set), runs `body` with a client for
/// its dashboard, and kills the agents' runs after it.
func withDashboard(_ body: (BosunInstance, DashboardClient) async throws -> Void) async throws {
    let scratch = TemporaryDirectory("bosun-origin")
    let origin = try await makeOrigin(in: scratch)
    try await withBosun(
        extraConfig: dashboardConfig(origin: origin), environment: ["BOSUN_TEST_MODE": "sleep-1"],
        files: ["api-token": "\(DashboardClient.token)\n"]
    ) { bosun in
        defer { killAgents(of: bosun) }
        try await body(bosun, DashboardClient(port: try await bosun.port()))
    }
}

/// The dashboard over real HTTP, one connection per request.
struct DashboardClient {
    static let token = "t0ken-for-tests"
    static let bearer = [("Authorization", "Bearer \(token)")]

    let port: Int

    func send(
        _ method: String, _ path: String, headers: [(String, String)] = [], body: String = ""
    ) async throws -> HTTPTestClient.Reply {
        let port = port
        return try await onThread {
            try HTTPTestClient(port: port).send(method, path, headers: headers, body: Array(body.utf8))
        }
    }

    func get(
        _ path: String, cookie: String? = nil, headers: [(String, String)] = []
    ) async throws
        -> HTTPTestClient.Reply
    {
        try await send("GET", path, headers: headers + (cookie.map { [("Cookie", "bosun_session=\($0)")] } ?? []))
    }

    func postLogin(_ token: String) async throws -> HTTPTestClient.Reply {
        let encoded = token.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? token
        return try await send(
            "POST", "/login", headers: [("Content-Type", "application/x-www-form-urlencoded")], body: "token=\(encoded)"
        )
    }

    /// `POST /api/v1/tasks` with the bearer token; returns the new task's id.
    func createTask(_ json: [String: String]) async throws -> Int64 {
        let body = String(decoding: try JSONSerialization.data(withJSONObject: json), as: UTF8.self)
        let reply = try await send(
            "POST", "/api/v1/tasks", headers: Self.bearer + [("Content-Type", "application/json")], body: body)
        let object = try JSONSerialization.jsonObject(with: Data(reply.body.utf8)) as? [String: String]
        guard reply.status == 202, let id = object?["task"].flatMap({ Int64($0) }) else {
            throw TestFailure("task not created: \(reply.status) \(reply.body)")
        }
        return id
    }

    /// `POST /api/v1/login-links`; returns the link's path.
    func loginLink() async throws -> String {
        let reply = try await send("POST", "/api/v1/login-links", headers: Self.bearer)
        let object = try JSONSerialization.jsonObject(with: Data(reply.body.utf8)) as? [String: Any]
        guard reply.status == 201, let path = object?["path"] as? String else {
            throw TestFailure("no login link: \(reply.status) \(reply.body)")
        }
        return path
    }
}

/// The session cookie's value in a `Set-Cookie` answer.
func sessionCookie(_ reply: HTTPTestClient.Reply) throws -> String {
    guard let header = reply.headers["set-cookie"], header.hasPrefix("bosun_session="),
        let value = header.dropFirst("bosun_session=".count).split(separator: ";").first
    else { throw TestFailure("no session cookie in \(reply.headers)") }
    return String(value)
}

/// The strict headers every dashboard answer carries.
func expectStrictHeaders(_ reply: HTTPTestClient.Reply, sourceLocation: SourceLocation = #_sourceLocation) {
    let policy = reply.headers["content-security-policy"] ?? ""
    for directive in ["default-src 'none'", "script-src 'self'", "style-src 'self'", "frame-ancestors 'none'"] {
        #expect(policy.contains(directive), "CSP \(policy)", sourceLocation: sourceLocation)
    }
    #expect(!policy.contains("unsafe-inline"), sourceLocation: sourceLocation)
    #expect(reply.headers["x-content-type-options"] == "nosniff", sourceLocation: sourceLocation)
    #expect(reply.headers["x-frame-options"] == "DENY", sourceLocation: sourceLocation)
    #expect(reply.headers["cache-control"] == "no-store", sourceLocation: sourceLocation)
}

/// Kills the agents of an instance's runs: they live in their own sessions, in worktrees under its state directory.
func killAgents(of bosun: BosunInstance) {
    let worktrees = bosun.directory.file("state/worktrees")
    for process in ProcessTable.all() {
        guard let cwd = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(process.pid)/cwd"),
            cwd.hasPrefix(worktrees)
        else { continue }
        kill(process.pid, SIGKILL)
    }
}

/// The title a hostile tracker might send: markup, quotes, an ampersand and non-ASCII text.
let hostileTitle = "<script>document.title='pwned'</script> & \"quotes\" ünïcødé 🚀"

extension ProcessLevel {
    @Suite("Dashboard over HTTP")
    struct DashboardHTTPTests {
        @Test("logins, cookies, one-time links, 404s, hostile ids and the live log tail, over real HTTP")
        func dashboard() async throws {
            try await withDashboard { bosun, client in
                let port = client.port

                // No credentials: to the login form, which carries the strict headers.
                let anonymous = try await client.get("/")
                #expect(anonymous.status == 303)
                #expect(anonymous.headers["location"] == "/login")
                expectStrictHeaders(anonymous)
                let form = try await client.get("/login")
                #expect(form.status == 200)
                #expect(form.headers["content-type"] == "text/html; charset=utf-8")
                #expect(form.body.contains("<form method=\"post\" action=\"/login\""))
                expectStrictHeaders(form)

                // The bearer token works as it does for the API; a wrong one gets 401 and the form.
                let overview = try await client.get("/", headers: DashboardClient.bearer)
                #expect(overview.status == 200)
                for name in ["ingress", "worker", "gatekeeper"] {
                    #expect(overview.body.contains("<span class=\"process-name\">\(name)</span>"))
                }
                #expect(overview.body.contains("id=\"breaker-state\""))
                expectStrictHeaders(overview)
                let wrongBearer = try await client.get("/", headers: [("Authorization", "Bearer nope")])
                #expect(wrongBearer.status == 401)
                #expect(wrongBearer.body.contains("action=\"/login\""))

                // The login form: a wrong token is refused, the right one gets a cookie.
                let wrong = try await client.postLogin("not-the-token")
                #expect(wrong.status == 401)
                #expect(wrong.body.contains("That is not the API token."))
                #expect(wrong.body.contains("action=\"/login\""))
                let good = try await client.postLogin(DashboardClient.token)
                #expect(good.status == 303)
                #expect(good.headers["location"] == "/")
                let setCookie = good.headers["set-cookie"] ?? ""
                for attribute in ["HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=43200"] {
                    #expect(setCookie.contains(attribute), "\(setCookie)")
                }
                let cookie = try sessionCookie(good)
                #expect(try await client.get("/", cookie: cookie).status == 200)
                #expect(try await client.get("/login", cookie: cookie).headers["location"] == "/")

                // Bad cookies go back to the form, and are removed.
                let parts = cookie.split(separator: ".").map(String.init)
                let expires = try #require(Int64(parts[1]))
                var flipped = Array(parts[2])
                flipped[0] = flipped[0] == "A" ? "B" : "A"
                let token = Secret(value: DashboardClient.token, source: "test")
                let badCookies = [
                    "v1.\(expires).\(String(flipped))", "v1.\(expires + 60).\(parts[2])",
                    SessionCookie(token: token).issue(nowMs: Clock.nowMilliseconds - 13 * 3_600_000),
                    SessionCookie(token: Secret(value: "another-token", source: "test")).issue(
                        nowMs: Clock.nowMilliseconds),
                    "garbage", "v1.1.%3Cscript%3E",
                ]
                for bad in badCookies {
                    let reply = try await client.get("/", cookie: bad)
                    #expect(reply.status == 303, "\(bad)")
                    #expect(reply.headers["location"] == "/login")
                    #expect(reply.headers["set-cookie"]?.contains("Max-Age=0") == true)
                }
                let logout = try await client.send("POST", "/logout", headers: [("Cookie", "bosun_session=\(cookie)")])
                #expect(logout.status == 303)
                #expect(logout.headers["set-cookie"]?.hasPrefix("bosun_session=; Path=/; Max-Age=0") == true)

                // One-time links: bearer only, usable once, not after they expire, and `bosun dashboard` makes one.
                #expect(try await client.send("POST", "/api/v1/login-links").status == 401)
                let link = try await client.loginLink()
                #expect(link.hasPrefix("/login/"))
                let redeemed = try await client.get(link)
                #expect(redeemed.status == 303)
                #expect(redeemed.headers["location"] == "/")
                #expect(try await client.get("/", cookie: try sessionCookie(redeemed)).status == 200)
                let printed = try await bosun.cli(["dashboard"])
                #expect(printed.status == .exited(code: 0), "\(printed.output)")
                let url = try #require(printed.output.split(separator: "\n").last.map(String.init))
                #expect(url.hasPrefix("http://127.0.0.1:\(port)/login/"), "\(url)")
                #expect(try await client.get(String(url.dropFirst("http://127.0.0.1:\(port)".count))).status == 303)

                let again = try await client.get(link)
                #expect(again.status == 401)
                #expect(again.headers["set-cookie"] == nil)
                #expect(again.body.contains("This login link is not valid"))
                let stale = try await client.loginLink()
                let database = try Database(path: bosun.directory.file("state/bosun.db"))
                try database.write { transaction in
                    try transaction.execute(
                        "UPDATE login_links SET expires_at_ms = ? WHERE code_sha256 = ?",
                        .integer(Clock.nowMilliseconds - 1), .text(LoginLinks.digest(String(stale.dropFirst(7)))))
                }
                #expect(try await client.get(stale).status == 401, "expired")
                for hostile in [
                    "/login/abc", "/login/%3Cscript%3Ealert(1)%3C%2Fscript%3E",
                    "/login/" + String(repeating: "A", count: 43),
                ] {
                    let reply = try await client.get(hostile)
                    #expect(reply.status == 401)
                    #expect(!reply.body.contains("<script>alert"))
                }
                // That makes five failures from this address: now even the right token waits.
                let throttled = try await client.postLogin(DashboardClient.token)
                #expect(throttled.status == 429)
                #expect(Int(throttled.headers["retry-after"] ?? "") ?? 0 > 0)
                #expect(throttled.headers["set-cookie"] == nil)
                try await eventually(timeout: .seconds(10), "the failures in the ingress log") {
                    let log =
                        (try? String(contentsOfFile: bosun.directory.file("state/logs/ingress.log"), encoding: .utf8))
                        ?? ""
                    return log.contains("dashboard login failed") && log.contains("127.0.0.1")
                        && log.contains("too many failures")
                }

                // Tasks: a hostile title is text; unknown and hostile ids are 404 pages that echo nothing raw.
                let hostileTask = try await client.createTask([
                    "project": "demo", "title": hostileTitle, "body": hostileTitle,
                ])
                let slowTask = try await client.createTask([
                    "project": "demo", "title": "Design it", "stage": "architecture",
                ])
                let taskPage = try await client.get("/tasks/\(hostileTask)", cookie: cookie)
                #expect(taskPage.status == 200)
                #expect(taskPage.body.contains(HTML.escape(hostileTitle)))
                #expect(
                    HTML.escape(hostileTitle).hasPrefix("&lt;script&gt;document.title=&#39;pwned&#39;&lt;/script&gt;"))
                #expect(!taskPage.body.contains("<script>document.title"))
                #expect(taskPage.body.contains("id=\"timeline\""))
                expectStrictHeaders(taskPage)
                for path in [
                    "/tasks/999999", "/tasks/abc", "/tasks/%3Cscript%3Ealert(1)%3C%2Fscript%3E", "/tasks/1%27%22%3E",
                    "/tasks/-1", "/tasks/99999999999999999999999", "/runs/424242",
                    "/runs/x%3Cscript%3Ealert(1)%3C%2Fscript%3E",
                ] {
                    let reply = try await client.get(path, cookie: cookie)
                    #expect(reply.status == 404, "\(path)")
                    #expect(!reply.body.contains("<script>alert"), "\(path)")
                    #expect(!reply.body.contains("'\"><"), "\(path)")
                    expectStrictHeaders(reply)
                }
                #expect(try await client.get("/runs/424242/log", cookie: cookie).status == 404)

                // The live tail: the architect's run prints a line a second; the log endpoint serves what is new.
                var run: RunRecord?
                try await eventually(timeout: .seconds(30), "the architect's run is running") {
                    run = try database.read { try $0.runs(taskID: slowTask) }.first { $0.state == "running" }
                    return run != nil
                }
                let runID = try #require(run?.id)
                #expect(try await client.get("/runs/\(runID)/log").status == 401)
                #expect(try await client.get("/runs/\(runID)/log?from=abc", cookie: cookie).status == 400)
                var offset = "0"
                try await eventually(timeout: .seconds(15), "the first lines") {
                    let reply = try await client.get("/runs/\(runID)/log?from=0", cookie: cookie)
                    offset = reply.headers["x-log-end"] ?? "0"
                    return reply.status == 200 && reply.body.hasPrefix("working: step 1\n")
                        && reply.headers["x-run-live"] == "true"
                }
                try await eventually(timeout: .seconds(15), "new lines after offset \(offset)") {
                    let reply = try await client.get("/runs/\(runID)/log?from=\(offset)", cookie: cookie)
                    return reply.status == 200 && reply.body.hasPrefix("working: step ")
                        && !reply.body.contains("step 1\n") && Int(reply.headers["x-log-end"] ?? "") ?? 0 > Int(offset)!
                }
                let runPage = try await client.get("/runs/\(runID)", cookie: cookie)
                #expect(runPage.status == 200)
                #expect(runPage.body.contains("data-live=\"true\""))
                #expect(runPage.body.contains("working: step 1\n"))
                #expect(runPage.body.contains("<a href=\"/tasks/\(slowTask)\">"))

                // The assets need no login, and are what the policy allows.
                let style = try await client.get("/static/dashboard.css")
                #expect(style.status == 200)
                #expect(style.headers["content-type"] == "text/css; charset=utf-8")
                #expect(
                    try await client.get("/static/log-tail.js").headers["content-type"]
                        == "text/javascript; charset=utf-8")
            }
        }

        @Test("without an API token the dashboard is closed, and `bosun dashboard` says why")
        func closedWithoutToken() async throws {
            let scratch = TemporaryDirectory("bosun-origin")
            let origin = try await makeOrigin(in: scratch)
            try await withBosun(extraConfig: dashboardConfig(origin: origin, token: false)) { bosun in
                let client = DashboardClient(port: try await bosun.port())
                let closed = try await client.get("/")
                #expect(closed.status == 401)
                #expect(closed.body.contains("No API token is configured"))
                let form = try await client.get("/login")
                #expect(form.body.contains("No API token is configured"))
                #expect(!form.body.contains("<form method=\"post\" action=\"/login\""))
                #expect(try await client.postLogin("anything").status == 401)
                #expect(try await client.get("/login/" + String(repeating: "A", count: 43)).status == 401)
                #expect(try await client.get("/", headers: DashboardClient.bearer).status == 401)
                let printed = try await bosun.cli(["dashboard"])
                #expect(printed.status == .exited(code: 1))
                #expect(printed.output.contains("the dashboard needs an API token"))
            }
        }
    }
}
