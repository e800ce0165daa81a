/// GitHub REST API (2022-11-28): `Authorization: Bearer`, `Accept: application/vnd.github+json`.
extension ForgeClient {
    private var githubRepo: String { "/repos/\(URLEncoding.segment(target.owner))/\(URLEncoding.segment(target.repo))" }

    func performGitHub(_ effect: ForgeEffect, key: String, attempt: Int) throws(AttemptHalt) -> AttemptResult {
        let repo = githubRepo
        switch effect {
        case .ensureLabel(let name, let color):
            // POST /repos/{owner}/{repo}/labels → 201; 422 with code `already_exists` when it is there.
            guard let hex = NameRules.hexColor(color) else {
                return .failed(reason: "label colour must be 6 hex digits")
            }
            let path = "\(repo)/labels"
            let response = try exchange(
                "POST", path, json: .object(["name": .string(try labelName(name)), "color": .string(hex)]))
            if response.status == 422, Self.githubAlreadyExists(response) {
                return .done(detail: ["label": name, "existed": "true"])
            }
            try expectSuccess(response, "POST \(path)")
            return .done(detail: ["label": name])

        case .addLabels(let issue, let labels):
            // POST /repos/{owner}/{repo}/issues/{n}/labels {"labels": [...]} → 200 (missing labels are created).
            let names = try labels.map { (name) throws(AttemptHalt) in try labelName(name) }
            guard !names.isEmpty else { return .done(detail: [:]) }
            try call(
                "POST", "\(repo)/issues/\(try number(issue, "issue"))/labels",
                json: .object(["labels": .array(names.map(JSONValue.string))]))
            return .done(detail: [:])

        case .removeLabel(let issue, let label):
            // DELETE /repos/{owner}/{repo}/issues/{n}/labels/{name} → 200; 404 when the label is not on the issue.
            let path =
                "\(repo)/issues/\(try number(issue, "issue"))/labels/\(URLEncoding.segment(try labelName(label)))"
            let response = try exchange("DELETE", path)
            if response.status == 404 { return .done(detail: ["absent": "true"]) }
            try expectSuccess(response, "DELETE \(path)")
            return .done(detail: [:])

        case .comment(let issue, let body):
            let path = "\(repo)/issues/\(try number(issue, "issue"))/comments"
            if attempt > 1, let found = try githubFindComment(path: path, key: key) {
                return .done(detail: Self.commentDetail(found, urlField: "html_url", existed: true))
            }
            let reply = try call(
                "POST", path, json: .object(["body": .string(IdempotencyMarker.appended(to: body, key: key))]))
            return .done(detail: Self.commentDetail(reply.json, urlField: "html_url", existed: false))

        case .createBranch(let name, let fromBranch):
            // GET /repos/{owner}/{repo}/git/ref/heads/{from} for the sha, then POST /repos/{owner}/{repo}/git/refs;
            // 422 "Reference already exists" means done.
            let newBranch = try branch(name)
            let refPath = "\(repo)/git/ref/heads/\(URLEncoding.refPath(try branch(fromBranch)))"
            let base = try exchange("GET", refPath)
            if base.status == 404 {
                return .failed(reason: "GET \(refPath): base branch \(quoted(fromBranch)) not found")
            }
            guard let sha = try expectSuccess(base, "GET \(refPath)").json?["object"]?["sha"]?.stringValue else {
                return .failed(reason: "GET \(refPath): no object.sha in the response")
            }
            let path = "\(repo)/git/refs"
            let response = try exchange(
                "POST", path, json: .object(["ref": .string("refs/heads/\(newBranch)"), "sha": .string(sha)]))
            if response.status == 422, Self.githubAlreadyExists(response) {
                return .done(detail: ["branch": newBranch, "existed": "true"])
            }
            try expectSuccess(response, "POST \(path)")
            return .done(detail: ["branch": newBranch, "sha": sha])

        case .openPullRequest(let title, let body, let head, let base):
            // GET /repos/{owner}/{repo}/pulls?state=open&head={owner}:{head} first; then POST /repos/{o}/{r}/pulls.
            let headBranch = try branch(head)
            _ = try branch(base)
            if let existing = try githubOpenPullRequest(head: headBranch) { return existing }
            let path = "\(repo)/pulls"
            let response = try exchange(
                "POST", path,
                json: .object([
                    "title": .string(title), "body": .string(body), "head": .string(headBranch), "base": .string(base),
                ]))
            if response.status == 422, let existing = try githubOpenPullRequest(head: headBranch) { return existing }
            let reply = try expectSuccess(response, "POST \(path)")
            return .done(
                detail: Self.pullDetail(reply.json, numberField: "number", urlField: "html_url", existed: false))

        case .mergePullRequest(let pull):
            // PUT /repos/{owner}/{repo}/pulls/{n}/merge → 200; on 405/409 GET …/merge says 204 if already merged.
            let path = "\(repo)/pulls/\(try number(pull, "pull request"))/merge"
            let response = try exchange("PUT", path, json: .object([:]))
            if response.status == 405 || response.status == 409 || response.status == 422 {
                let check = try exchange("GET", path)
                if check.status == 204 { return .done(detail: ["number": pull, "existed": "true"]) }
            }
            let reply = try expectSuccess(response, "PUT \(path)")
            var detail = ["number": pull]
            detail["sha"] = reply.json?["sha"]?.stringValue
            return .done(detail: detail)

        case .closeIssue(let issue):
            // PATCH /repos/{owner}/{repo}/issues/{n} {"state": "closed"} → 200, also when already closed.
            try call(
                "PATCH", "\(repo)/issues/\(try number(issue, "issue"))", json: .object(["state": .string("closed")]))
            return .done(detail: [:])

        case .planeSetState, .planeComment:
            return unsupported(effect)
        }
    }

    /// GitHub lists comments oldest first: read the first page, and the last one when there are more, where the
    /// newest comments are.
    private func githubFindComment(path: String, key: String) throws(AttemptHalt) -> JSONValue? {
        let first = try call("GET", path, query: [("per_page", "100")])
        if let found = containsMarker(try items(first, "GET \(path)"), field: "body", key: key) { return found }
        guard let last = linkURL(first.response.headers["link"], rel: "last") else { return nil }
        let lastReply = try expectSuccess(exchange("GET", url: last, label: "GET \(path) (last page)"), "GET \(path)")
        return containsMarker(try items(lastReply, "GET \(path)"), field: "body", key: key)
    }

    private func githubOpenPullRequest(head: String) throws(AttemptHalt) -> AttemptResult? {
        let path = "\(githubRepo)/pulls"
        let reply = try call(
            "GET", path, query: [("state", "open"), ("head", "\(target.owner):\(head)"), ("per_page", "100")])
        guard let pull = try items(reply, "GET \(path)").first(where: { $0["head"]?["ref"]?.stringValue == head })
        else {
            return nil
        }
        return .done(detail: Self.pullDetail(pull, numberField: "number", urlField: "html_url", existed: true))
    }

    /// GitHub's 422 validation failure with `errors[].code == "already_exists"`, or a message saying so.
    static func githubAlreadyExists(_ response: HTTPResponse) -> Bool {
        let json = JSONValue.parse(response.body)
        if json?["errors"]?.arrayValue?.contains(where: { $0["code"]?.stringValue == "already_exists" }) == true {
            return true
        }
        return ResponseClassifier.forgeMessage(response.body)?.lowercased().contains("already exists") == true
    }

    /// `id` and the URL of a comment, plus `existed` when a retry found it.
    static func commentDetail(_ json: JSONValue?, urlField: String, existed: Bool) -> [String: String] {
        var detail: [String: String] = [:]
        detail["comment_id"] = json?["id"]?.scalarText
        detail["url"] = json?[urlField]?.stringValue
        if existed { detail["existed"] = "true" }
        return detail
    }

    /// `number` and `url` of a pull or merge request, plus `existed` when it was there already.
    static func pullDetail(_ json: JSONValue?, numberField: String, urlField: String, existed: Bool) -> [String: String]
    {
        var detail: [String: String] = [:]
        detail["number"] = json?[numberField]?.scalarText
        detail["url"] = json?[urlField]?.stringValue
        if existed { detail["existed"] = "true" }
        return detail
    }
}
