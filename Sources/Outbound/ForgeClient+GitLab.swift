/// GitLab REST API v4: `PRIVATE-TOKEN`. The project is its numeric id or its full path, URL-encoded as one segment.
extension ForgeClient {
    private var gitlabProject: String {
        // Accept a path given already encoded (`group%2Fproject`) as well as a plain one.
        "/projects/\(URLEncoding.segment(URLEncoding.decode(target.projectID)))"
    }

    func performGitLab(_ effect: ForgeEffect, key: String, attempt: Int) throws(AttemptHalt) -> AttemptResult {
        let project = gitlabProject
        switch effect {
        case .ensureLabel(let name, let color):
            // POST /projects/:id/labels {"name", "color": "#rrggbb"} → 201; 409 "Label already exists".
            guard let hex = NameRules.hexColor(color) else {
                return .failed(reason: "label colour must be 6 hex digits")
            }
            let path = "\(project)/labels"
            let response = try exchange(
                "POST", path, json: .object(["name": .string(try labelName(name)), "color": .string("#\(hex)")]))
            if response.status == 409 { return .done(detail: ["label": name, "existed": "true"]) }
            let reply = try expectSuccess(response, "POST \(path)")
            var detail = ["label": name]
            detail["label_id"] = reply.json?["id"]?.scalarText
            return .done(detail: detail)

        case .addLabels(let issue, let labels):
            // PUT /projects/:id/issues/:iid {"add_labels": "a,b"}: a comma-separated list, so no commas in names.
            let names = try gitlabLabelList(labels)
            let issueNumber = try number(issue, "issue")
            guard !names.isEmpty else { return .done(detail: [:]) }
            try call("PUT", "\(project)/issues/\(issueNumber)", json: .object(["add_labels": .string(names)]))
            return .done(detail: [:])

        case .removeLabel(let issue, let label):
            // PUT /projects/:id/issues/:iid {"remove_labels": "a"} → 200 also when the label was not there.
            let names = try gitlabLabelList([label])
            try call(
                "PUT", "\(project)/issues/\(try number(issue, "issue"))",
                json: .object(["remove_labels": .string(names)]))
            return .done(detail: [:])

        case .comment(let issue, let body):
            // GET (newest first, on retries) and POST /projects/:id/issues/:iid/notes {"body"} → 201.
            let path = "\(project)/issues/\(try number(issue, "issue"))/notes"
            if attempt > 1 {
                let list = try call(
                    "GET", path, query: [("sort", "desc"), ("order_by", "created_at"), ("per_page", "100")])
                if let found = containsMarker(try items(list, "GET \(path)"), field: "body", key: key) {
                    return .done(detail: Self.commentDetail(found, urlField: "web_url", existed: true))
                }
            }
            let reply = try call(
                "POST", path, json: .object(["body": .string(IdempotencyMarker.appended(to: body, key: key))]))
            return .done(detail: Self.commentDetail(reply.json, urlField: "web_url", existed: false))

        case .createBranch(let name, let fromBranch):
            // POST /projects/:id/repository/branches?branch=…&ref=… → 201; 400 "Branch already exists".
            let newBranch = try branch(name)
            let path = "\(project)/repository/branches"
            let response = try exchange("POST", path, query: [("branch", newBranch), ("ref", try branch(fromBranch))])
            if response.status == 400 || response.status == 409,
                ResponseClassifier.forgeMessage(response.body)?.lowercased().contains("already exists") == true
            {
                return .done(detail: ["branch": newBranch, "existed": "true"])
            }
            let reply = try expectSuccess(response, "POST \(path)")
            var detail = ["branch": newBranch]
            detail["sha"] = reply.json?["commit"]?["id"]?.stringValue
            return .done(detail: detail)

        case .openPullRequest(let title, let body, let head, let base):
            // GET /projects/:id/merge_requests?state=opened&source_branch=… first, then POST /projects/:id/merge_requests
            // {"source_branch", "target_branch", "title", "description"} → 201; 409 when one is open.
            let source = try branch(head)
            let targetBranch = try branch(base)
            if let existing = try gitlabOpenMergeRequest(source: source) { return existing }
            let path = "\(project)/merge_requests"
            let response = try exchange(
                "POST", path,
                json: .object([
                    "source_branch": .string(source), "target_branch": .string(targetBranch), "title": .string(title),
                    "description": .string(body),
                ]))
            if response.status == 409, let existing = try gitlabOpenMergeRequest(source: source) { return existing }
            let reply = try expectSuccess(response, "POST \(path)")
            return .done(detail: Self.pullDetail(reply.json, numberField: "iid", urlField: "web_url", existed: false))

        case .mergePullRequest(let pull):
            // PUT /projects/:id/merge_requests/:iid/merge → 200; when refused, GET the MR: state "merged" is done.
            let iid = try number(pull, "merge request")
            let path = "\(project)/merge_requests/\(iid)/merge"
            let response = try exchange("PUT", path)
            if [405, 406, 409, 422].contains(response.status) {
                let state = try call("GET", "\(project)/merge_requests/\(iid)").json?["state"]?.stringValue
                if state == "merged" { return .done(detail: ["number": iid, "existed": "true"]) }
            }
            let reply = try expectSuccess(response, "PUT \(path)")
            var detail = ["number": iid]
            detail["sha"] = reply.json?["merge_commit_sha"]?.stringValue
            return .done(detail: detail)

        case .closeIssue(let issue):
            // PUT /projects/:id/issues/:iid {"state_event": "close"} → 200.
            try call(
                "PUT", "\(project)/issues/\(try number(issue, "issue"))",
                json: .object(["state_event": .string("close")]))
            return .done(detail: [:])

        case .planeSetState, .planeComment:
            return unsupported(effect)
        }
    }

    private func gitlabLabelList(_ labels: [String]) throws(AttemptHalt) -> String {
        let names = try labels.map { (name) throws(AttemptHalt) in try labelName(name) }
        if let bad = names.first(where: { $0.contains(",") }) {
            throw .failed("GitLab takes labels as a comma-separated list; label \(quoted(bad)) contains a comma")
        }
        return names.joined(separator: ",")
    }

    private func gitlabOpenMergeRequest(source: String) throws(AttemptHalt) -> AttemptResult? {
        let path = "\(gitlabProject)/merge_requests"
        let reply = try call("GET", path, query: [("state", "opened"), ("source_branch", source), ("per_page", "100")])
        guard let request = try items(reply, "GET \(path)").first(where: { $0["source_branch"]?.stringValue == source })
        else {
            return nil
        }
        return .done(detail: Self.pullDetail(request, numberField: "iid", urlField: "web_url", existed: true))
    }
}
