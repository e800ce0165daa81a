import Config
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import ProcessRuntime
import Store
import Synchronization
import WebhookAuth

/// The web dashboard: server-rendered pages at `/` (overview), `/tasks/{id}` and `/runs/{id}` (with a live log
/// tail), behind the API token. A browser logs in with the token at `/login` or with a one-time link from
/// `POST /api/v1/login-links` (`bosun dashboard`), and gets a session cookie (`SessionCookie`). Reads reuse the
/// REST API's queries (`TasksAPI`).
final class Dashboard: Sendable {
    let config: CurrentConfig
    let api: TasksAPI
    let links: LoginLinks
    let logger: Logger
    private let throttle = Mutex(LoginThrottle())

    /// The largest login form read.
    static let maxFormBytes = 16 << 10
    /// The most of a log one live-tail request returns.
    static let maxLogChunkBytes = 256 << 10

    init(config: CurrentConfig, api: TasksAPI, logger: Logger) {
        self.config = config
        self.api = api
        self.links = LoginLinks(database: api.reader)
        self.logger = logger
    }

    func register(on router: Router<BasicRequestContext>) {
        router.get("/") { request, _ in
            await self.page(request) { try await self.overview() }
        }
        router.get("/tasks/{id}") { request, context in
            await self.page(request) { try self.task(context.parameters.get("id") ?? "") }
        }
        router.get("/runs/{id}") { request, context in
            await self.page(request) { try self.run(context.parameters.get("id") ?? "") }
        }
        router.get("/runs/{id}/log") { request, context in
            self.logChunk(request, runID: context.parameters.get("id") ?? "")
        }
        router.get("/login") { request, _ in
            self.loginForm(request)
        }
        router.post("/login") { request, _ in
            await self.login(request)
        }
        router.get("/login/{code}") { request, context in
            self.redeem(request, code: context.parameters.get("code") ?? "")
        }
        router.post("/logout") { request, _ in
            DashboardResponse.redirect(
                to: "/login", setCookie: SessionCookie.clearCookie(secure: Self.isHTTPS(request)))
        }
        router.get(RouterPath(DashboardAssets.stylesheetPath)) { _, _ in
            DashboardResponse.text(.ok, DashboardAssets.stylesheet, contentType: "text/css; charset=utf-8")
        }
        router.get(RouterPath(DashboardAssets.scriptPath)) { _, _ in
            DashboardResponse.text(.ok, DashboardAssets.script, contentType: "text/javascript; charset=utf-8")
        }
        router.post("/api/v1/login-links") { request, _ in
            try self.createLoginLink(request)
        }
    }

    // MARK: Access

    /// Who is asking.
    enum Access: Equatable {
        case granted
        /// No bearer token and no valid session; `staleCookie` if a session cookie came and was refused.
        case anonymous(staleCookie: Bool)
        /// An `Authorization` header with the wrong token.
        case wrongToken
        /// No API token is configured: nobody gets in.
        case closed
    }

    /// A bearer token (compared in constant time) or a valid session cookie grants access.
    func access(_ request: Request, nowMs: Int64) -> Access {
        guard let token = config.current.api.token else { return .closed }
        if request.headers[.authorization] != nil {
            return BearerToken.matches(request, token: token) ? .granted : .wrongToken
        }
        guard let cookie = request.cookies[SessionCookie.name] else { return .anonymous(staleCookie: false) }
        if let refusal = SessionCookie(token: token).verify(cookie.value, nowMs: nowMs) {
            logger.info(
                "dashboard session refused", metadata: ["reason": "\(refusal)", "peer": "\(RequestPeer.host)"])
            return .anonymous(staleCookie: true)
        }
        return .granted
    }

    /// Renders a page for a caller with access; sends anyone else to the login form.
    private func page(_ request: Request, _ render: () async throws -> Response) async -> Response {
        switch access(request, nowMs: Clock.nowMilliseconds) {
        case .granted:
            do {
                return try await render()
            } catch {
                logger.error("dashboard page failed", metadata: ["error": "\(error)", "path": "\(request.uri.path)"])
                return DashboardResponse.html(
                    .serviceUnavailable,
                    ProblemPage(title: "Store unavailable", message: "The page could not be read: \(error)").render())
            }
        case .anonymous(let stale):
            return DashboardResponse.redirect(
                to: "/login", setCookie: stale ? SessionCookie.clearCookie(secure: Self.isHTTPS(request)) : nil)
        case .wrongToken:
            return DashboardResponse.html(.unauthorized, LoginPage(message: "That is not the API token.").render())
        case .closed:
            return DashboardResponse.html(.unauthorized, LoginPage(tokenConfigured: false).render())
        }
    }

    // MARK: Logging in

    private func loginForm(_ request: Request) -> Response {
        switch access(request, nowMs: Clock.nowMilliseconds) {
        case .granted: return DashboardResponse.redirect(to: "/")
        case .closed: return DashboardResponse.html(.ok, LoginPage(tokenConfigured: false).render())
        case .anonymous, .wrongToken: return DashboardResponse.html(.ok, LoginPage().render())
        }
    }

    /// The form's body.
    struct LoginForm: Decodable {
        var token: String
    }

    /// `POST /login`: the token from the form, compared in constant time; failures are logged and limited per
    /// client address.
    private func login(_ request: Request) async -> Response {
        guard let token = config.current.api.token else {
            return DashboardResponse.html(.unauthorized, LoginPage(tokenConfigured: false).render())
        }
        let peer = RequestPeer.host
        if let refused = throttled(peer: peer) { return refused }
        guard let buffer = try? await request.body.collect(upTo: Self.maxFormBytes) else {
            return DashboardResponse.html(
                .contentTooLarge, LoginPage(message: "The form is larger than \(Self.maxFormBytes) bytes.").render())
        }
        let form = try? URLEncodedFormDecoder().decode(LoginForm.self, from: String(buffer: buffer))
        guard let form, WebhookAuthenticator.constantTimeEqual(Array(form.token.utf8), Array(token.value.utf8)) else {
            recordFailure(peer: peer, what: "dashboard login failed")
            return DashboardResponse.html(.unauthorized, LoginPage(message: "That is not the API token.").render())
        }
        return signIn(request, peer: peer, how: "token")
    }

    /// `GET /login/{code}`: spends a one-time link.
    private func redeem(_ request: Request, code: String) -> Response {
        guard config.current.api.token != nil else {
            return DashboardResponse.html(.unauthorized, LoginPage(tokenConfigured: false).render())
        }
        let peer = RequestPeer.host
        if let refused = throttled(peer: peer) { return refused }
        let redeemed: Bool
        do {
            redeemed = try links.redeem(code, nowMs: Clock.nowMilliseconds)
        } catch {
            logger.error("login link check failed", metadata: ["error": "\(error)"])
            return DashboardResponse.html(
                .serviceUnavailable,
                ProblemPage(title: "Store unavailable", message: "\(error)", signedIn: false).render())
        }
        guard redeemed else {
            recordFailure(peer: peer, what: "dashboard login link refused")
            return DashboardResponse.html(
                .unauthorized,
                LoginPage(message: "This login link is not valid: it expired, was used already, or never existed.")
                    .render())
        }
        return signIn(request, peer: peer, how: "link")
    }

    private func signIn(_ request: Request, peer: String, how: String) -> Response {
        guard let token = config.current.api.token else {
            return DashboardResponse.html(.unauthorized, LoginPage(tokenConfigured: false).render())
        }
        throttle.withLock { $0.recordSuccess(peer: peer) }
        logger.info("dashboard login", metadata: ["peer": "\(peer)", "with": "\(how)"])
        let value = SessionCookie(token: token).issue(nowMs: Clock.nowMilliseconds)
        return DashboardResponse.redirect(
            to: "/", setCookie: SessionCookie.setCookie(value, secure: Self.isHTTPS(request)))
    }

    private func throttled(peer: String) -> Response? {
        guard let wait = throttle.withLock({ $0.retryAfterSeconds(peer: peer, nowMs: Clock.nowMilliseconds) }) else {
            return nil
        }
        logger.warning("dashboard login refused: too many failures", metadata: ["peer": "\(peer)"])
        var response = DashboardResponse.html(
            .tooManyRequests, LoginPage(message: "Too many failed attempts; try again in \(wait) s.").render())
        response.headers[.retryAfter] = String(wait)
        return response
    }

    private func recordFailure(peer: String, what: String) {
        throttle.withLock { $0.recordFailure(peer: peer, nowMs: Clock.nowMilliseconds) }
        logger.warning("\(what)", metadata: ["peer": "\(peer)"])
    }

    /// `POST /api/v1/login-links` (bearer token): a path that logs a browser in once, within a minute.
    private func createLoginLink(_ request: Request) throws -> Response {
        try IngressApp.authorize(request, token: config.current.api.token)
        do {
            let code = try links.create(nowMs: Clock.nowMilliseconds)
            logger.info("dashboard login link created", metadata: ["peer": "\(RequestPeer.host)"])
            return JSONResponse.make(
                .created, json: "{\"expires_in_s\":\(LoginLinks.lifetimeMs / 1000),\"path\":\"/login/\(code)\"}")
        } catch {
            return JSONResponse.error(.serviceUnavailable, "store unavailable", "the link was not stored: \(error)")
        }
    }

    /// A proxy in front said the client used HTTPS: the cookie gets `Secure`.
    private static func isHTTPS(_ request: Request) -> Bool {
        request.headers[HTTPField.Name("X-Forwarded-Proto")!]?.lowercased() == "https"
    }

    // MARK: Pages

    private func overview() async throws -> Response {
        let state = try await api.serviceState()
        let (active, recent, applied) = try api.reader.read { transaction in
            (
                try transaction.tasks(activeOnly: true, limit: 500), try transaction.tasks(limit: 50),
                try transaction.inboxCursor()
            )
        }
        let deliveries = try api.inboxReader.read { try $0.recentDeliveries(limit: 20) }
        let finished = recent.filter { !$0.active }
        let page = OverviewPage(
            state: state, tasks: active + finished,
            deliveries: deliveries.map {
                OverviewPage.Delivery(
                    id: $0.id, source: $0.source, project: $0.project, event: $0.event, receivedAtMs: $0.receivedAtMs,
                    applied: $0.id <= applied)
            }, stages: stages(), nowMs: Clock.nowMilliseconds)
        return DashboardResponse.html(.ok, page.render())
    }

    /// Every state of the configured projects' workflows, in declaration order, each once.
    private func stages() -> [(name: String, kind: String)] {
        var stages: [(name: String, kind: String)] = []
        for project in config.current.projects {
            for state in project.resolvedWorkflow.states where !stages.contains(where: { $0.name == state.name }) {
                stages.append((state.name, state.kind.rawValue))
            }
        }
        return stages
    }

    private func task(_ id: String) throws -> Response {
        guard let detail = try api.taskDetail(id) else {
            return DashboardResponse.html(
                .notFound, ProblemPage(title: "Unknown task", message: "No task \(id).").render())
        }
        var kinds: [String: String] = [:]
        for state in config.current.project(named: detail.task.project)?.resolvedWorkflow.states ?? [] {
            kinds[state.name] = state.kind.rawValue
        }
        return DashboardResponse.html(
            .ok, TaskPage(detail: detail, stateKinds: kinds, nowMs: Clock.nowMilliseconds).render())
    }

    private func run(_ id: String) throws -> Response {
        guard let (run, job) = try findRun(id) else {
            return DashboardResponse.html(
                .notFound, ProblemPage(title: "Unknown run", message: "No run \(id).").render())
        }
        let log = LogFile.chunk(path: run.logPath, from: nil, maxBytes: RunPage.initialLogBytes)
        return DashboardResponse.html(.ok, RunPage(run: run, job: job, log: log, nowMs: Clock.nowMilliseconds).render())
    }

    private func findRun(_ id: String) throws -> (RunRecord, JobRecord?)? {
        guard let runID = Int64(id) else { return nil }
        return try api.reader.read { transaction -> (RunRecord, JobRecord?)? in
            guard let run = try transaction.run(id: runID) else { return nil }
            return (run, try transaction.job(id: run.jobID))
        }
    }

    /// `GET /runs/{id}/log?from=OFFSET`: the log's whole lines after `from` (the live tail's request), with
    /// `X-Log-End` (where to ask from next) and `X-Run-Live` (whether to ask again).
    private func logChunk(_ request: Request, runID: String) -> Response {
        guard access(request, nowMs: Clock.nowMilliseconds) == .granted else {
            return DashboardResponse.text(.unauthorized, "log in first\n")
        }
        var from: UInt64?
        if let text = request.uri.queryParameters.get("from") {
            guard let offset = UInt64(text), offset <= 1 << 53 else {
                return DashboardResponse.text(.badRequest, "from must be a byte offset\n")
            }
            from = offset
        }
        let found: (RunRecord, JobRecord?)?
        do {
            found = try findRun(runID)
        } catch {
            return DashboardResponse.text(.serviceUnavailable, "store unavailable: \(error)\n")
        }
        guard let (run, _) = found else { return DashboardResponse.text(.notFound, "no run \(runID)\n") }
        let chunk =
            LogFile.chunk(path: run.logPath, from: from, maxBytes: Self.maxLogChunkBytes)
            ?? LogChunk(text: "", start: from ?? 0, end: from ?? 0)
        var extra = HTTPFields()
        extra[HTTPField.Name("X-Log-End")!] = String(chunk.end)
        extra[HTTPField.Name("X-Run-Live")!] = RunPage.isLive(run) ? "true" : "false"
        return DashboardResponse.text(.ok, chunk.text, extra: extra)
    }
}

/// `Authorization: Bearer <token>`, compared in constant time.
enum BearerToken {
    static func matches(_ request: Request, token: Secret) -> Bool {
        guard let header = request.headers[.authorization], header.hasPrefix("Bearer ") else { return false }
        return WebhookAuthenticator.constantTimeEqual(Array(header.utf8.dropFirst(7)), Array(token.value.utf8))
    }
}
