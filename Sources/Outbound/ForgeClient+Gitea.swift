/// Gitea / Forgejo API v1: `Authorization: token`. Issue labels are changed by label id, so names are resolved
/// through the repository's label list first (label names in that call only arrived in Gitea 1.22).
extension ForgeClient {
    /// Pages of 50 (Gitea's default maximum), at most this many pages read.
    private static let giteaPageLimit = 50
    private static let giteaMaxPages = 20

    private var giteaRepo: String { "/repos/\(URLEncoding.segment(target.owner))/\(URLEncoding.segment(target.repo))" }

    func performGitea(_ effect: ForgeEffect, key: String, attempt: Int) throws(AttemptHalt) -> AttemptResult {
        let repo = giteaRepo
        switch effect {
        case .ensureLabel(let name, let color):
            // Gitea accepts a second label of the same name, so look first: GET /repos/{o}/{r}/labels, then
            // POST /repos/{o}/{r}/labels {"name", "color": "#rrggbb"} → 201.
            guard let hex = NameRules.hexColor(color) else {
                return .failed(reason: "label colour must be 6 hex digits")
            }
            let label = try labelName(name)
            if let id = try giteaLabelIDs()[label] {
                return .done(detail: ["label": label, "label_id": id, "existed": "true"])
            }
            let reply = try call(
                "POST", "\(repo)/labels", json: .object(["name": .string(label), "color": .string("#\(hex)")]))
            var detail = ["label": label]
            detail["label_id"] = reply.json?["id"]?.scalarText
            return .done(detail: detail)

        case .addLabels(let issue, let labels):
            // POST /repos/{o}/{r}/issues/{index}/labels {"labels": [ids]} → 200.
            let names = try labels.map { (name) throws(AttemptHalt) in try labelName(name) }
            let issueNumber = try number(issue, "issue")
            guard !names.isEmpty else { return .done(detail: [:]) }
            let known = try giteaLabelIDs()
            let missing = names.filter { known[$0] == nil }
            guard missing.isEmpty else {
                return .failed(
                    reason:
                        "labels not defined in \(target.owner)/\(target.repo): \(missing.map(quoted).joined(separator: ", ")); ensure them first"
                )
            }
            let ids = names.compactMap { known[$0].flatMap { Int64($0) } }
            try call(
                "POST", "\(repo)/issues/\(issueNumber)/labels",
                json: .object(["labels": .array(ids.map(JSONValue.integer))]))
            return .done(detail: [:])

        case .removeLabel(let issue, let label):
            // DELETE /repos/{o}/{r}/issues/{index}/labels/{id} → 204; an unknown label cannot be on the issue.
            let issueNumber = try number(issue, "issue")
            guard let id = try giteaLabelIDs()[try labelName(label)] else { return .done(detail: ["absent": "true"]) }
            let path = "\(repo)/issues/\(issueNumber)/labels/\(URLEncoding.segment(id))"
            let response = try exchange("DELETE", path)
            if response.status == 404 { return .done(detail: ["absent": "true"]) }
            try expectSuccess(response, "DELETE \(path)")
            return .done(detail: [:])

        case .comment(let issue, let body):
            // GET (on retries) and POST /repos/{o}/{r}/issues/{index}/comments {"body"} → 201.
            let path = "\(repo)/issues/\(try number(issue, "issue"))/comments"
            if attempt > 1 {
                let list = try call("GET", path)
                if let found = containsMarker(try items(list, "GET \(path)"), field: "body", key: key) {
                    return .done(detail: Self.commentDetail(found, urlField: "html_url", existed: true))
                }
            }
            let reply = try call(
                "POST", path, json: .object(["body": .string(IdempotencyMarker.appended(to: body, key: key))]))
            return .done(detail: Self.commentDetail(reply.json, urlField: "html_url", existed: false))

        case .createBranch(let name, let fromBranch):
            // POST /repos/{o}/{r}/branches {"new_branch_name", "old_branch_name"} → 201; 409 when it exists.
            let newBranch = try branch(name)
            let path = "\(repo)/branches"
            let response = try exchange(
                "POST", path,
                json: .object([
                    "new_branch_name": .string(newBranch), "old_branch_name": .string(try branch(fromBranch)),
                ]))
            if response.status == 409 { return .done(detail: ["branch": newBranch, "existed": "true"]) }
            if response.status == 404 {
                return .failed(reason: "POST \(path): base branch \(quoted(fromBranch)) not found")
            }
            try expectSuccess(response, "POST \(path)")
            return .done(detail: ["branch": newBranch])

        case .openPullRequest(let title, let body, let head, let base):
            // Look for an open pull request from `head` (GET /repos/{o}/{r}/pulls?state=open), then
            // POST /repos/{o}/{r}/pulls {"title", "body", "head", "base"} → 201; 409 when one exists.
            let headBranch = try branch(head)
            _ = try branch(base)
            if let existing = try giteaOpenPullRequest(head: headBranch) { return existing }
            let path = "\(repo)/pulls"
            let response = try exchange(
                "POST", path,
                json: .object([
                    "title": .string(title), "body": .string(body), "head": .string(headBranch), "base": .string(base),
                ]))
            if response.status == 409 || response.status == 422,
                let existing = try giteaOpenPullRequest(head: headBranch)
            {
                return existing
            }
            let reply = try expectSuccess(response, "POST \(path)")
            return .done(
                detail: Self.pullDetail(reply.json, numberField: "number", urlField: "html_url", existed: false))

        case .mergePullRequest(let pull):
            // POST /repos/{o}/{r}/pulls/{index}/merge {"Do": "merge"} → 200; GET …/merge is 204 once merged.
            let path = "\(repo)/pulls/\(try number(pull, "pull request"))/merge"
            if attempt > 1, try exchange("GET", path).status == 204 {
                return .done(detail: ["number": pull, "existed": "true"])
            }
            let response = try exchange("POST", path, json: .object(["Do": .string("merge")]))
            if response.status == 405 || response.status == 409, try exchange("GET", path).status == 204 {
                return .done(detail: ["number": pull, "existed": "true"])
            }
            try expectSuccess(response, "POST \(path)")
            return .done(detail: ["number": pull])

        case .closeIssue(let issue):
            // PATCH /repos/{o}/{r}/issues/{index} {"state": "closed"} → 201.
            try call(
                "PATCH", "\(repo)/issues/\(try number(issue, "issue"))", json: .object(["state": .string("closed")]))
            return .done(detail: [:])

        case .planeSetState, .planeComment:
            return unsupported(effect)
        }
    }

    /// The repository's labels, name → id, read page by page.
    private func giteaLabelIDs() throws(AttemptHalt) -> [String: String] {
        let path = "\(giteaRepo)/labels"
        var result: [String: String] = [:]
        for page in 1...Self.giteaMaxPages {
            let reply = try call("GET", path, query: [("page", String(page)), ("limit", String(Self.giteaPageLimit))])
            let labels = try items(reply, "GET \(path)")
            for label in labels {
                if let name = label["name"]?.stringValue, let id = label["id"]?.scalarText, result[name] == nil {
                    result[name] = id
                }
            }
            if labels.count < Self.giteaPageLimit { break }
        }
        return result
    }

    private func giteaOpenPullRequest(head: String) throws(AttemptHalt) -> AttemptResult? {
        let path = "\(giteaRepo)/pulls"
        for page in 1...Self.giteaMaxPages {
            let reply = try call(
                "GET", path, query: [("state", "open"), ("page", String(page)), ("limit", String(Self.giteaPageLimit))])
            let pulls = try items(reply, "GET \(path)")
            if let pull = pulls.first(where: { $0["head"]?["ref"]?.stringValue == head }) {
                return .done(detail: Self.pullDetail(pull, numberField: "number", urlField: "html_url", existed: true))
            }
            if pulls.count < Self.giteaPageLimit { break }
        }
        return nil
    }
}
