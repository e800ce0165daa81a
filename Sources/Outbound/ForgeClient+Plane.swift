import Foundation

/// Plane API v1: `X-API-Key`, paths under `/workspaces/{slug}/projects/{project_id}/`, trailing slashes, lists
/// paginated as `{"results": [...]}`. Plane has no labels, branches or pull requests of Bosun's kind here; those
/// effects fail as unsupported.
extension ForgeClient {
    /// The `external_source` Bosun's comments carry, so a retry can look its comment up by `external_id`.
    static let planeExternalSource = "bosun"

    private var planeProject: String {
        "/workspaces/\(URLEncoding.segment(target.workspaceSlug))/projects/\(URLEncoding.segment(target.projectID))"
    }

    func performPlane(_ effect: ForgeEffect, key: String, attempt: Int) throws(AttemptHalt) -> AttemptResult {
        switch effect {
        case .planeSetState(let issue, let stateName):
            // GET …/states/ to find the id by name, then PATCH …/issues/{id}/ {"state": id} → 200.
            let item = try planeItem(issue)
            let statesPath = "\(planeProject)/states/"
            let states = try items(try call("GET", statesPath, query: [("per_page", "100")]), "GET \(statesPath)")
            let match =
                states.first { $0["name"]?.stringValue == stateName }
                ?? states.first { $0["name"]?.stringValue?.lowercased() == stateName.lowercased() }
            guard let stateID = match?["id"]?.scalarText else {
                let known = states.compactMap { $0["name"]?.stringValue }.map(quoted).joined(separator: ", ")
                return .failed(reason: "Plane project has no state named \(quoted(stateName)) (states: \(known))")
            }
            try call("PATCH", "\(planeProject)/issues/\(item)/", json: .object(["state": .string(stateID)]))
            return .done(detail: ["state_id": stateID])

        case .planeComment(let issue, let body), .comment(let issue, let body):
            // On retries GET …/comments/?external_id=KEY&external_source=bosun; then POST …/comments/
            // {"comment_html", "external_id", "external_source"} → 201.
            let path = "\(planeProject)/issues/\(try planeItem(issue))/comments/"
            if attempt > 1 {
                let list = try call(
                    "GET", path,
                    query: [("external_id", key), ("external_source", Self.planeExternalSource), ("per_page", "100")])
                let comments = try items(list, "GET \(path)")
                let found =
                    comments.first {
                        $0["external_id"]?.stringValue == key
                            && $0["external_source"]?.stringValue == Self.planeExternalSource
                    } ?? containsMarker(comments, field: "comment_html", key: key)
                if let found { return .done(detail: Self.commentDetail(found, urlField: "url", existed: true)) }
            }
            let html = Self.planeHTML(body) + IdempotencyMarker.comment(key: key)
            let reply = try call(
                "POST", path,
                json: .object([
                    "comment_html": .string(html), "external_id": .string(key),
                    "external_source": .string(Self.planeExternalSource),
                ]))
            return .done(detail: Self.commentDetail(reply.json, urlField: "url", existed: false))

        case .ensureLabel, .addLabels, .removeLabel, .createBranch, .openPullRequest, .mergePullRequest, .closeIssue:
            return unsupported(effect)
        }
    }

    private func planeItem(_ text: String) throws(AttemptHalt) -> String {
        guard (1...64).contains(text.utf8.count),
            text.unicodeScalars.allSatisfy({ $0.properties.isASCIIHexDigit || $0 == "-" })
        else {
            throw .failed("Plane work item id must be a UUID, got \(quoted(text))")
        }
        return text
    }

    /// Plain text as Plane's comment HTML: escaped, one paragraph per blank-line-separated block, line breaks kept.
    static func planeHTML(_ text: String) -> String {
        var escaped = text.replacingOccurrences(of: "\r\n", with: "\n")
        for (raw, entity) in [("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"), ("\"", "&quot;"), ("'", "&#39;")] {
            escaped = escaped.replacingOccurrences(of: raw, with: entity)
        }
        let blocks = escaped.components(separatedBy: "\n\n").map { $0.trimmingSpaces() }.filter { !$0.isEmpty }
        return (blocks.isEmpty ? [""] : blocks).map { "<p>\($0.replacingOccurrences(of: "\n", with: "<br>"))</p>" }
            .joined()
    }
}
