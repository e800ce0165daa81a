/// Turns a stored webhook delivery into the one `TrackerEvent` it means for Bosun, or into none.
///
/// Pure: bytes and headers in, a value out. Deliveries of events Bosun does not act on (CI suites, review requests,
/// dismissed reviews, edits, link and project events) yield `nil`, as do unknown event names. A body that is not the
/// JSON the forge documents for a used event is a `NormalizationError`, never a crash. Per-forge mappings, and what
/// each forge cannot express, are described on `GitHubNormalizer`, `GiteaNormalizer`, `GitLabNormalizer` and
/// `PlaneNormalizer`.
public enum DeliveryNormalizer {
    /// Normalizes one delivery.
    /// - Parameters:
    ///   - source: `github`, `gitea` (or `forgejo`), `gitlab` or `plane`.
    ///   - event: the event header's value as stored (`X-GitHub-Event`, `X-Gitea-Event`/`X-Forgejo-Event`,
    ///     `X-Gitlab-Event`, `X-Plane-Event`).
    ///   - headers: the delivery's headers, names lowercased (Gitea's `x-gitea-event-type` is read from here).
    ///   - body: the raw JSON body.
    public static func normalize(
        source: String, event: String, headers: [String: String], body: [UInt8]
    ) throws(NormalizationError) -> TrackerEvent? {
        try normalize(source: source, event: event, header: { headers[$0] }, body: body)
    }

    /// Normalizes one delivery as the inbox stores it: `headersJSON` is the JSON object of its lowercased headers,
    /// parsed only for the forges that read a header besides the event's.
    public static func normalize(
        source: String, event: String, headersJSON: String, body: [UInt8]
    ) throws(NormalizationError) -> TrackerEvent? {
        var headers: JSONFields??  // parsed at the first lookup, once
        return try normalize(
            source: source, event: event,
            header: { name in
                if headers == nil {
                    guard case .object(let fields)? = try? JSONParser.parse(Array(headersJSON.utf8)) else {
                        headers = .some(nil)
                        return nil
                    }
                    headers = fields
                }
                guard case .string(let value)? = headers??[name] else { return nil }
                return value
            }, body: body)
    }

    private static func normalize(
        source: String, event: String, header: (String) -> String?, body: [UInt8]
    ) throws(NormalizationError) -> TrackerEvent? {
        do throws(NormalizationError) {
            switch source.lowercased() {
            case "github":
                return try GitHubNormalizer.normalize(event: event, body: body)
            case "gitea", "forgejo":
                let eventType = header("x-gitea-event-type") ?? header("x-forgejo-event-type")
                return try GiteaNormalizer.normalize(event: event, eventType: eventType, body: body)
            case "gitlab":
                return try GitLabNormalizer.normalize(event: event, body: body)
            case "plane":
                return try PlaneNormalizer.normalize(event: event, body: body)
            default:
                throw NormalizationError(.unknownSource, "expected github, gitea, forgejo, gitlab or plane")
            }
        } catch {
            throw NormalizationError(error.code, "\(source) '\(event)' delivery: \(error.message)", cause: error.cause)
        }
    }
}

/// The source branch name of a `refs/heads/…` ref; nil for tags and other refs.
func branchName(ofRef ref: String) -> String? {
    let prefix = "refs/heads/"
    guard ref.hasPrefix(prefix), ref.count > prefix.count else { return nil }
    return String(ref.dropFirst(prefix.count))
}

/// True for the all-zero object id git uses for "no commit" (a deleted branch's new head).
func isNullCommit(_ sha: String) -> Bool { !sha.isEmpty && sha.allSatisfy { $0 == "0" } }
