/// GitLab deliveries (`X-Gitlab-Event`), per docs.gitlab.com "Webhook events".
///
/// | event | condition | kind |
/// |---|---|---|
/// | `Issue Hook` (also `Confidential Issue Hook`) | action open / close / reopen | `issue_opened` / `_closed` / `_reopened` |
/// | | action update, `changes.labels` adds a label | `issue_labeled` (the first added label) |
/// | | action update, `changes.labels` only removes | `issue_unlabeled` (the first removed label) |
/// | | action update, `changes.assignees` adds someone | `issue_assigned` (the first added username) |
/// | `Note Hook` (also `Confidential Note Hook`) | a new, non-system note on an issue or merge request | `comment_created` |
/// | `Merge Request Hook` | open, reopen / update with `oldrev` (new commits) / close / merge | `pr_*` |
/// | | approved, approval | `review_approved` |
/// | `Push Hook` | a branch that was not deleted | `push` |
/// | `Pipeline Hook` | any status | `commit_status`, check name `pipeline` |
///
/// Not mapped (nil): other updates, `unapproved` / `unapproval` (Bosun has no "approval withdrawn" kind), work
/// items other than issues, comments on commits and snippets, edited notes, tag pushes, job and other hooks.
/// GitLab has no "changes requested" review state in its merge request payloads, so `review_changes_requested`
/// never comes from GitLab; a human asks for changes with a comment.
///
/// Issue events name the author only by id: `issue.author` is the acting user's username when that user is the
/// author (always so for `open`), else empty. Pipeline statuses become the common vocabulary: `failed` → `failure`,
/// `canceled` → `cancelled`, `manual` → `action_required`, `created` / `waiting_for_resource` / `preparing` /
/// `pending` / `running` / `scheduled` / `canceling` → `pending`; `success` and `skipped` stay.
enum GitLabNormalizer {
    static func normalize(event: String, body: [UInt8]) throws(NormalizationError) -> TrackerEvent? {
        switch event {
        case "Issue Hook", "Confidential Issue Hook":
            return try issue(try JSONValue.parseObject(body))
        case "Note Hook", "Confidential Note Hook":
            return try note(try JSONValue.parseObject(body))
        case "Merge Request Hook":
            return try mergeRequest(try JSONValue.parseObject(body))
        case "Push Hook":
            return try push(try JSONValue.parseObject(body))
        case "Pipeline Hook":
            return try pipeline(try JSONValue.parseObject(body))
        default:
            return nil
        }
    }

    private static func issue(_ payload: JSONObject) throws(NormalizationError) -> TrackerEvent? {
        if let kind = try payload.optionalString("object_kind"), kind != "issue" { return nil }
        let attributes = try payload.object("object_attributes")
        let user = try payload.object("user")
        let actor = try user.string("username")
        let issue = try issueInfo(
            attributes, labels: payload.has("labels") ? payload : attributes, actor: user)
        switch try attributes.string("action") {
        case "open": return TrackerEvent(kind: .issueOpened, actor: actor, issue: issue)
        case "close": return TrackerEvent(kind: .issueClosed, actor: actor, issue: issue)
        case "reopen": return TrackerEvent(kind: .issueReopened, actor: actor, issue: issue)
        case "update":
            guard let changes = try payload.optionalObject("changes") else { return nil }
            if let labels = try changes.optionalObject("labels") {
                let before = try titles(labels, "previous")
                let after = try titles(labels, "current")
                if let added = after.first(where: { !before.contains($0) }) {
                    return TrackerEvent(kind: .issueLabeled, actor: actor, issue: issue, label: added)
                }
                if let removed = before.first(where: { !after.contains($0) }) {
                    return TrackerEvent(kind: .issueUnlabeled, actor: actor, issue: issue, label: removed)
                }
            }
            if let assignees = try changes.optionalObject("assignees") {
                let before = try usernames(assignees, "previous")
                if let added = try usernames(assignees, "current").first(where: { !before.contains($0) }) {
                    return TrackerEvent(kind: .issueAssigned, actor: actor, issue: issue, assignee: added)
                }
            }
            return nil
        default:
            return nil
        }
    }

    private static func note(_ payload: JSONObject) throws(NormalizationError) -> TrackerEvent? {
        let attributes = try payload.object("object_attributes")
        // `action` exists since GitLab 16.11; older notes are always new ones.
        if let action = try attributes.optionalString("action"), action != "create" { return nil }
        if try attributes.optionalBool("system") == true { return nil }
        let user = try payload.object("user")
        var event = TrackerEvent(
            kind: .commentCreated, actor: try user.string("username"), text: try attributes.string("note"))
        switch try attributes.string("noteable_type") {
        case "Issue":
            event.issue = try issueInfo(try payload.object("issue"), labels: nil, actor: user)
        case "MergeRequest":
            event.pullRequest = try pullRequestInfo(try payload.object("merge_request"), merged: false)
        default:
            return nil
        }
        return event
    }

    private static func mergeRequest(_ payload: JSONObject) throws(NormalizationError) -> TrackerEvent? {
        let attributes = try payload.object("object_attributes")
        let actor = try payload.object("user").string("username")
        let action = try attributes.string("action")
        let kind: TrackerEvent.Kind
        switch action {
        case "open", "reopen": kind = .pullRequestOpened
        case "update":
            guard attributes.has("oldrev") else { return nil }
            kind = .pullRequestSynchronized
        case "close": kind = .pullRequestClosed
        case "merge": kind = .pullRequestMerged
        case "approved", "approval": kind = .reviewApproved
        default: return nil
        }
        let state = try attributes.optionalString("state")
        let merged = action == "merge" || state == "merged"
        return TrackerEvent(kind: kind, actor: actor, pullRequest: try pullRequestInfo(attributes, merged: merged))
    }

    private static func push(_ payload: JSONObject) throws(NormalizationError) -> TrackerEvent? {
        guard let branch = branchName(ofRef: try payload.string("ref")) else { return nil }
        let after = try payload.string("after")
        if isNullCommit(after) { return nil }
        return TrackerEvent(
            kind: .push, actor: try payload.string("user_username"), commitSHA: after, branch: branch)
    }

    private static func pipeline(_ payload: JSONObject) throws(NormalizationError) -> TrackerEvent? {
        let attributes = try payload.object("object_attributes")
        var event = TrackerEvent(
            kind: .commitStatus, actor: try payload.optionalObject("user")?.optionalString("username") ?? "",
            commitSHA: try attributes.string("sha"), conclusion: conclusion(try attributes.string("status")),
            checkName: "pipeline")
        if try attributes.optionalBool("tag") != true { event.branch = try attributes.optionalString("ref") }
        if let mergeRequest = try payload.optionalObject("merge_request") {
            event.pullRequest = PullRequestInfo(
                number: String(try mergeRequest.int("iid")), headBranch: try mergeRequest.string("source_branch"),
                url: try mergeRequest.optionalString("url"))
        }
        return event
    }

    /// A GitLab pipeline status in the common vocabulary of `TrackerEvent.conclusion`.
    static func conclusion(_ status: String) -> String {
        switch status.lowercased() {
        case "failed": "failure"
        case "canceled": "cancelled"
        case "manual": "action_required"
        case "created", "waiting_for_resource", "preparing", "pending", "running", "scheduled", "canceling":
            "pending"
        case let other: other
        }
    }

    /// An issue from `object_attributes` (Issue Hook) or `issue` (Note Hook). Labels come from `labels.labels`
    /// when given (the Issue Hook's top-level list), else from the issue object itself.
    private static func issueInfo(
        _ issue: JSONObject, labels: JSONObject?, actor: JSONObject
    )
        throws(NormalizationError) -> IssueInfo
    {
        var author = ""
        if let authorID = try issue.optionalInt("author_id"), try actor.optionalInt("id") == authorID {
            author = try actor.string("username")
        }
        var names: [String] = []
        for label in try (labels ?? issue).objects("labels") { names.append(try label.string("title")) }
        return IssueInfo(
            number: String(try issue.int("iid")), title: try issue.string("title"),
            body: try issue.optionalString("description") ?? "", labels: names, author: author,
            url: try issue.optionalString("url"))
    }

    /// A merge request from `object_attributes` (Merge Request Hook) or `merge_request` (Note Hook).
    private static func pullRequestInfo(
        _ mergeRequest: JSONObject, merged: Bool
    ) throws(NormalizationError)
        -> PullRequestInfo
    {
        PullRequestInfo(
            number: String(try mergeRequest.int("iid")), headBranch: try mergeRequest.string("source_branch"),
            headSHA: try mergeRequest.optionalObject("last_commit")?.optionalString("id"),
            url: try mergeRequest.optionalString("url"), merged: merged)
    }

    private static func titles(_ change: JSONObject, _ key: String) throws(NormalizationError) -> [String] {
        var result: [String] = []
        for label in try change.objects(key) { result.append(try label.string("title")) }
        return result
    }

    private static func usernames(_ change: JSONObject, _ key: String) throws(NormalizationError) -> [String] {
        var result: [String] = []
        for user in try change.objects(key) { result.append(try user.string("username")) }
        return result
    }
}
