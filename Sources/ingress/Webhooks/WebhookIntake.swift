import Config
import Foundation
import HTTPTypes
import Store
import WebhookAuth

/// What the intake answers without storing anything, or what it stores.
enum IntakeDecision: Sendable {
    /// Answer now with this status and JSON body; nothing is stored.
    case respond(HTTPResponse.Status, [String: String])
    /// Store this delivery, then answer 202 (or 200 if it was a duplicate).
    case store(NewDelivery)
}

/// The webhook intake's rules, from a request to a decision; no I/O. Order matters and is the contract:
/// unknown project (404), no secret (403), signature (401) on the raw bytes before any parsing, missing event or
/// delivery id (400), ping (200), malformed JSON (400), then for Plane the project mapping (202 ignored).
enum WebhookIntake {
    /// A refusal: the status and the JSON body that say why.
    struct Refusal: Error {
        var status: HTTPResponse.Status
        var object: [String: String]
    }

    /// The project a webhook is for, or the refusal that needs no body: an unknown project, a project without a
    /// secret. Checked before the body is read, so that nobody can make ingress buffer bodies for a project it would
    /// refuse anyway.
    static func project(named projectName: String, config: BosunConfig) -> Result<ProjectConfig, Refusal> {
        guard let project = config.projects.first(where: { $0.name == projectName }) else {
            return .failure(
                Refusal(status: .notFound, object: error("unknown project", "no project named \(projectName)")))
        }
        guard project.webhook.secret != nil || project.webhook.insecure else {
            return .failure(
                Refusal(
                    status: .forbidden,
                    object: error(
                        "webhooks refused",
                        "project \(project.name) has no webhook secret; set webhook.secret_file or webhook.secret_env "
                            + "(or webhook.insecure: true to accept unsigned webhooks)")))
        }
        return .success(project)
    }

    static func decide(
        forge: Forge, projectName: String, headers: HTTPFields, body: [UInt8], config: BosunConfig,
        receivedAtMs: Int64
    ) -> IntakeDecision {
        let project: ProjectConfig
        switch self.project(named: projectName, config: config) {
        case .success(let found): project = found
        case .failure(let refusal): return .respond(refusal.status, refusal.object)
        }
        if let secret = project.webhook.secret {
            if let failure = WebhookAuthenticator.verify(forge, headers: headers, body: body, secret: secret) {
                return .respond(.unauthorized, error("invalid signature", failure.detail))
            }
        }
        guard let (_, event) = headers.first(of: forge.eventHeaders) else {
            return .respond(.badRequest, error("missing event", "no \(forge.eventHeaders[0]) header"))
        }
        if forge.isPing(event: event) {
            return .respond(.ok, ["status": "ok", "event": event])
        }
        guard let (_, deliveryID) = headers.first(of: forge.deliveryHeaders) else {
            return .respond(.badRequest, error("missing delivery id", "no \(forge.deliveryHeaders[0]) header"))
        }
        guard deliveryID.utf8.count <= 200 else {
            return .respond(.badRequest, error("invalid delivery id", "longer than 200 bytes"))
        }
        guard JSONValidator.isValid(body) else {
            return .respond(.badRequest, error("malformed JSON", "the body is not one well-formed JSON value"))
        }
        var delivery = NewDelivery(
            source: forge.rawValue, project: project.name, event: event, deliveryID: deliveryID,
            bodySHA256: WebhookAuthenticator.sha256Hex(body),
            headers: keptHeaders(forge, headers), body: body, receivedAtMs: receivedAtMs)
        if forge == .plane {
            guard let payload = PlanePayload(body) else {
                return .respond(.badRequest, error("malformed JSON", "the body is not a JSON object"))
            }
            if let planeProject = payload.projectID {
                guard let mapped = config.projects.first(where: { $0.planeProjectID == planeProject }) else {
                    return .respond(.accepted, ["status": "ignored", "reason": "unknown project"])
                }
                // A Plane hook is workspace-wide, but its secret vouches only for projects that share it: a payload
                // signed for one project must not write into another one's inbox.
                guard
                    mapped.name == project.name
                        || (project.webhook.secret != nil && mapped.webhook.secret == project.webhook.secret)
                else {
                    return .respond(
                        .accepted, ["status": "ignored", "reason": "project not covered by this webhook's secret"])
                }
                delivery.project = mapped.name
            }
            delivery.dedupeKey = payload.eventID
            delivery.bodyDedupeWindowMs = Int64(config.ingress.planeDedupeWindowSeconds) * 1000
        }
        return .store(delivery)
    }

    /// `{"error": …, "detail": …}`
    static func error(_ error: String, _ detail: String) -> [String: String] {
        ["error": error, "detail": detail]
    }

    /// The headers worth keeping, as a JSON object with lowercase names; a repeated header's values joined with
    /// ", " as `HTTPFields` combines them. One pass over the request's fields.
    static func keptHeaders(_ forge: Forge, _ headers: HTTPFields) -> String {
        let wanted = keptNames[forge] ?? []
        var kept: [String: String] = [:]
        for field in headers {
            let name = field.name.canonicalName
            guard wanted.contains(name) else { continue }
            if let earlier = kept[name] {
                kept[name] = earlier + ", " + field.value
            } else {
                kept[name] = field.value
            }
        }
        return JSONText.object(kept)
    }

    /// Per forge, the lowercase names `keptHeaders` keeps: its event, delivery and kept headers.
    private static let keptNames: [Forge: Set<String>] = Dictionary(
        uniqueKeysWithValues: Forge.allCases.map { forge in
            (forge, Set((forge.eventHeaders + forge.deliveryHeaders + forge.keptHeaders).map { $0.lowercased() }))
        })
}

/// The few fields of a Plane webhook the intake reads (after the signature and JSON checks).
struct PlanePayload {
    /// The Plane project the payload is about: `data.project_id` (v2), `data.project` (v1), or the project itself
    /// for a project event. Nil for events that do not name one (a comment names only its work item).
    var projectID: String?
    /// v2's `event_id`, the same across Plane's retries (each retry gets a new delivery id).
    var eventID: String?

    /// Nil if the body is not a JSON object Foundation can read.
    init?(_ body: [UInt8]) {
        guard let object = try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any] else { return nil }
        let data = object["data"] as? [String: Any]
        let isProjectEvent =
            (object["event"] as? String) == "project" || (object["entity_type"] as? String) == "project"
        projectID =
            data?["project_id"] as? String ?? data?["project"] as? String
            ?? (isProjectEvent ? data?["id"] as? String : nil)
        eventID = (object["event_id"] as? String).flatMap { $0.isEmpty ? nil : $0 }
        if projectID?.isEmpty == true { projectID = nil }
    }
}
