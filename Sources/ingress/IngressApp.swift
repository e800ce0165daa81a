import Config
import Foundation
import HTTPTypes
import Hummingbird
import IPC
import Logging
import NIOCore
import ProcessRuntime
import Store
import WebhookAuth

/// The ingress's HTTP surface: health, readiness, metrics and the webhook endpoints.
struct IngressApp: Sendable {
    let config: CurrentConfig
    let inbox: InboxWriter
    /// The inbox depth, the supervisor's status and the store's figures, fetched at most once a second or two
    /// whatever the scrape rate.
    let health: HealthCache
    let bodies: BodyBudget
    let metrics: IngressMetrics
    let logger: Logger
    /// The REST API under `/api/v1`.
    var api: TasksAPI?
    /// The web dashboard at `/`.
    var dashboard: Dashboard?

    func router() -> Router<BasicRequestContext> {
        let router = Router()
        router.get("/healthz") { request, _ in
            try authorizeHealth(request)
            return JSONResponse.make(.ok, ["status": "ok"])
        }
        router.get("/readyz") { request, _ in
            try authorizeHealth(request)
            return await readiness()
        }
        router.get("/metrics") { request, _ in
            try authorizeHealth(request)
            return await metricsResponse()
        }
        api?.register(on: router)
        dashboard?.register(on: router)
        router.post("/webhooks/{forge}/{project}") { request, context in
            await webhook(
                request, forgeName: context.parameters.get("forge") ?? "",
                projectName: context.parameters.get("project") ?? "")
        }
        return router
    }

    // MARK: Webhooks

    private func webhook(_ request: Request, forgeName: String, projectName: String) async -> Response {
        guard let forge = Forge(rawValue: forgeName) else {
            return JSONResponse.error(
                .notFound, "unknown forge", "no webhook endpoint for \(forgeName); use github, gitea, gitlab or plane")
        }
        let current = config.current
        if case .failure(let refusal) = WebhookIntake.project(named: projectName, config: current) {
            metrics.recordDelivery(source: forge.rawValue, outcome: Self.outcome(of: refusal.status, refusal.object))
            return JSONResponse.make(refusal.status, refusal.object, headers: [.connection: "close"])
        }
        let limit = current.ingress.maxBodyBytes
        let reservation = min(request.headers[.contentLength].flatMap(Int.init) ?? limit, limit)
        guard bodies.reserve(reservation) else {
            metrics.recordDelivery(source: forge.rawValue, outcome: "overloaded")
            return JSONResponse.error(
                .serviceUnavailable, "overloaded", "too many request bodies in memory; retry later",
                headers: [.connection: "close", .retryAfter: "5"])
        }
        defer { bodies.release(reservation) }
        let body: [UInt8]
        switch await BodyReader.read(request, limits: current.ingress) {
        case .success(let bytes): body = bytes
        case .failure(let refusal):
            metrics.recordDelivery(source: forge.rawValue, outcome: refusal.outcome)
            return refusal.response
        }
        let decision = WebhookIntake.decide(
            forge: forge, projectName: projectName, headers: request.headers, body: body, config: current,
            receivedAtMs: Clock.nowMilliseconds)
        switch decision {
        case .respond(let status, let object):
            metrics.recordDelivery(source: forge.rawValue, outcome: Self.outcome(of: status, object))
            return JSONResponse.make(status, object)
        case .store(let delivery):
            switch await inbox.store(delivery) {
            case .success(.stored):
                metrics.recordDelivery(source: forge.rawValue, outcome: "accepted")
                return JSONResponse.make(.accepted, ["status": "accepted", "delivery": delivery.deliveryID])
            case .success(.duplicate):
                metrics.recordDelivery(source: forge.rawValue, outcome: "duplicate")
                return JSONResponse.make(.ok, ["status": "duplicate", "delivery": delivery.deliveryID])
            case .failure(let error):
                metrics.recordDelivery(source: forge.rawValue, outcome: "failed")
                var headers = HTTPFields()
                headers[.retryAfter] = "5"
                return JSONResponse.error(
                    .serviceUnavailable, "store unavailable", "the delivery was not stored: \(error.message)",
                    headers: headers)
            }
        }
    }

    private static func outcome(of status: HTTPResponse.Status, _ object: [String: String]) -> String {
        switch status.code {
        case 200: object["event"] == nil ? "ok" : "ping"
        case 202: "ignored"
        case 401: "unauthorized"
        case 403: "refused"
        case 404: "unknown_project"
        default: "invalid"
        }
    }

    // MARK: Health

    /// The store is writable through the inbox's own writer; the gatekeeper's state and the inbox's lag are
    /// reported, not required: intake goes on without the gatekeeper.
    private func readiness() async -> Response {
        let writable = await inbox.probe(timeout: .seconds(2))
        let depth = await health.inboxDepth()
        let gatekeeper = await health.gatekeeper()
        let nowMs = Clock.nowMilliseconds
        let lag = depth?.oldestReceivedAtMs.map { Double(max(0, nowMs - $0)) / 1000 } ?? 0
        let report = Readiness(
            status: writable.isSuccess ? "ready" : "unready",
            store: writable.isSuccess ? "writable" : "not writable: \(writable.failureMessage ?? "")",
            gatekeeper: gatekeeper ?? "unknown", unprocessed: depth?.unprocessed ?? 0, lagS: lag)
        return JSONResponse.make(writable.isSuccess ? .ok : .serviceUnavailable, json: report.json)
    }

    /// The body of `/readyz`.
    struct Readiness {
        var status: String
        var store: String
        var gatekeeper: String
        var unprocessed: Int
        var lagS: Double

        var json: String {
            "{\"gatekeeper\":\(JSONText.string(gatekeeper)),\"inbox\":{\"lag_s\":\(lagS),\"unprocessed\":\(unprocessed)},"
                + "\"status\":\(JSONText.string(status)),\"store\":\(JSONText.string(store))}"
        }
    }

    // MARK: Authorization

    private func authorizeHealth(_ request: Request) throws {
        let current = config.current
        if current.api.openHealth { return }
        try Self.authorize(request, token: current.api.token)
    }

    /// Requires `Authorization: Bearer <api token>`, compared in constant time.
    static func authorize(_ request: Request, token: Secret?) throws {
        guard let token else {
            throw HTTPError(.unauthorized, message: "no API token is configured (api.token_file or api.token_env)")
        }
        guard BearerToken.matches(request, token: token) else {
            throw HTTPError(.unauthorized, message: "a valid bearer token is required")
        }
    }
}

extension Result {
    fileprivate var isSuccess: Bool {
        if case .success = self { return true }
        return false
    }

    fileprivate var failureMessage: String? {
        if case .failure(let error) = self { return "\(error)" }
        return nil
    }
}
