/// Plane deliveries (`X-Plane-Event`), both payload generations.
///
/// Webhooks v2 (dot-notation events, `data` plus `previous_attributes`):
/// - `workitem.created` → `issue_opened`, actor `data.created_by_id`.
/// - `workitem.updated` → `issue_labeled` / `issue_unlabeled` when `previous_attributes.label_ids` shows a label
///   added / removed, else `issue_assigned` when `previous_attributes.assignee_ids` shows someone added; any other
///   update → nil. Actor `data.updated_by_id`.
/// - `workitem.comment.created` → `comment_created`, text `comment_stripped` (else `comment_html`), actor
///   `comment.actor_id`.
/// - everything else (links, deletions, projects, cycles, modules) → nil.
///
/// v1 (`issue`, `issue_comment` with `action` create[d] / update[d] / delete[d], and `activity` naming the field
/// that changed and the actor): created → `issue_opened`; updated with `activity.field` labels / label_ids →
/// labeled / unlabeled; assignees / assignee_ids → assigned; comments created → `comment_created`. Actor:
/// `activity.actor.display_name`, else its id.
///
/// Plane identifies people and labels by UUID. v2 payloads carry only ids, so `actor`, `label` and `issue.labels`
/// are ids unless the payload also lists label objects with names (then names are used). Python's `"None"` strings
/// are read as null. `issue.number` is the sequence id; a delivery without one (comments) carries the work item id
/// there instead, and `issue.id` is always the work item id.
enum PlaneNormalizer {
    static func normalize(event: String, body: [UInt8]) throws(NormalizationError) -> TrackerEvent? {
        switch event {
        case "workitem.created":
            let data = try JSONValue.parseObject(body).object("data")
            return TrackerEvent(
                kind: .issueOpened, actor: try string(data, "created_by_id") ?? "", issue: try issue(data))
        case "workitem.updated":
            return try workItemUpdated(try JSONValue.parseObject(body))
        case "workitem.comment.created":
            return try workItemComment(try JSONValue.parseObject(body))
        case "issue":
            return try v1Issue(try JSONValue.parseObject(body))
        case "issue_comment":
            return try v1Comment(try JSONValue.parseObject(body))
        default:
            return nil
        }
    }

    private static func workItemUpdated(_ payload: JSONObject) throws(NormalizationError) -> TrackerEvent? {
        let data = try payload.object("data")
        guard let previous = try payload.optionalObject("previous_attributes") else { return nil }
        let actor = try string(data, "updated_by_id") ?? ""
        if previous.has("label_ids") {
            let before = try previous.strings("label_ids")
            let after = try data.strings("label_ids")
            let names = try labelNames(data)
            if let added = after.first(where: { !before.contains($0) }) {
                return TrackerEvent(
                    kind: .issueLabeled, actor: actor, issue: try issue(data), label: names[added] ?? added)
            }
            if let removed = before.first(where: { !after.contains($0) }) {
                return TrackerEvent(
                    kind: .issueUnlabeled, actor: actor, issue: try issue(data), label: names[removed] ?? removed)
            }
        }
        if previous.has("assignee_ids") {
            let before = try previous.strings("assignee_ids")
            if let added = try data.strings("assignee_ids").first(where: { !before.contains($0) }) {
                return TrackerEvent(kind: .issueAssigned, actor: actor, issue: try issue(data), assignee: added)
            }
        }
        return nil
    }

    private static func workItemComment(_ payload: JSONObject) throws(NormalizationError) -> TrackerEvent? {
        let data = try payload.object("data")
        let comment = try data.object("comment")
        let text = try requiredString(comment, "comment_stripped", "comment_html")
        return TrackerEvent(
            kind: .commentCreated, actor: try string(comment, "actor_id") ?? "", issue: try issue(data, title: false),
            text: text)
    }

    private static func v1Issue(_ payload: JSONObject) throws(NormalizationError) -> TrackerEvent? {
        let action = try payload.string("action")
        guard ["create", "created", "update", "updated"].contains(action) else { return nil }
        let data = try payload.object("data")
        let activity = try payload.optionalObject("activity")
        let actor = try v1Actor(activity, fallback: data, "created_by")
        if action.hasPrefix("create") {
            return TrackerEvent(kind: .issueOpened, actor: actor, issue: try issue(data))
        }
        guard let activity, let field = try activity.optionalString("field") else { return nil }
        switch field {
        case "labels", "label_ids":
            let names = try labelNames(data)
            let (added, removed) = try change(activity)
            if let added {
                return TrackerEvent(
                    kind: .issueLabeled, actor: actor, issue: try issue(data), label: names[added] ?? added)
            }
            if let removed {
                return TrackerEvent(
                    kind: .issueUnlabeled, actor: actor, issue: try issue(data), label: names[removed] ?? removed)
            }
            return nil
        case "assignees", "assignee_ids":
            guard let added = try change(activity).added else { return nil }
            return TrackerEvent(kind: .issueAssigned, actor: actor, issue: try issue(data), assignee: added)
        default:
            return nil
        }
    }

    private static func v1Comment(_ payload: JSONObject) throws(NormalizationError) -> TrackerEvent? {
        guard ["create", "created"].contains(try payload.string("action")) else { return nil }
        let data = try payload.object("data")
        let text = try requiredString(data, "comment_stripped", "comment_html")
        let workItem = try data.string("issue")
        let actor = try v1Actor(try payload.optionalObject("activity"), fallback: data, "actor")
        return TrackerEvent(
            kind: .commentCreated, actor: actor,
            issue: IssueInfo(number: workItem, title: "", body: "", labels: [], author: "", id: workItem), text: text)
    }

    /// A work item from a payload's `data`. `title: false` accepts a missing name (comment deliveries).
    private static func issue(_ data: JSONObject, title: Bool = true) throws(NormalizationError) -> IssueInfo {
        let id = try data.string("id")
        let number = try data.optionalInt("sequence_id").map { String($0) } ?? id
        var labels: [String] = []
        if data.has("labels") {
            for value in try data.optionalArray("labels") ?? [] {
                switch value {
                case .string(let id): labels.append(id)
                case .object(let fields): labels.append(try JSONObject(fields, path: "data.labels").string("name"))
                default:
                    throw NormalizationError(.wrongType, "data.labels: expected names or label objects")
                }
            }
        } else {
            labels = try data.strings("label_ids")
        }
        let name = title ? try data.string("name") : (try string(data, "name") ?? "")
        return IssueInfo(
            number: number, title: name,
            body: try string(data, "description_stripped", "description_html") ?? "",
            labels: labels, author: try string(data, "created_by_id", "created_by") ?? "", id: id)
    }

    /// Label id → name, from `data.labels` when it lists label objects.
    private static func labelNames(_ data: JSONObject) throws(NormalizationError) -> [String: String] {
        guard case .array(let values)? = data.fields["labels"] else { return [:] }
        var names: [String: String] = [:]
        for case .object(let fields) in values {
            let label = JSONObject(fields, path: "data.labels")
            if let id = try label.optionalString("id"), let name = try label.optionalString("name") { names[id] = name }
        }
        return names
    }

    /// What a v1 `activity` added and removed: id lists (API updates) or one name in `new_value` / `old_value`.
    private static func change(_ activity: JSONObject) throws(NormalizationError) -> (added: String?, removed: String?)
    {
        if activity.has("new_value"), case .array = activity.fields["new_value"] {
            let before = try activity.strings("old_value")
            let after = try activity.strings("new_value")
            return (after.first { !before.contains($0) }, before.first { !after.contains($0) })
        }
        let added = try string(activity, "new_value")
        return (added, added == nil ? try string(activity, "old_value") : nil)
    }

    /// `activity.actor`'s display name or id, else the id in `data[key]`, else empty.
    private static func v1Actor(
        _ activity: JSONObject?, fallback data: JSONObject, _ key: String
    )
        throws(NormalizationError) -> String
    {
        if let actor = try activity?.optionalObject("actor"), let name = try string(actor, "display_name", "id") {
            return name
        }
        return try string(data, key) ?? ""
    }

    /// The first of `keys` that holds a string, with Plane's Python `"None"` and the empty string read as absent.
    private static func string(_ object: JSONObject, _ keys: String...) throws(NormalizationError) -> String? {
        for key in keys {
            if let value = try object.optionalString(key), value != "None", !value.isEmpty { return value }
        }
        return nil
    }

    /// Like `string`, but one of `keys` must be there.
    private static func requiredString(_ object: JSONObject, _ keys: String...) throws(NormalizationError) -> String {
        for key in keys {
            if let value = try object.optionalString(key), value != "None" { return value }
        }
        throw NormalizationError(.missingField, "\(object.fieldPath(keys[0])): missing")
    }
}
