/// Gitea and Forgejo deliveries (`X-Gitea-Event` / `X-Forgejo-Event`, with `X-Gitea-Event-Type` beside it).
///
/// Payloads follow GitHub's shapes, with these differences:
/// - Reviews arrive as their own events: `pull_request_approved` → `review_approved`, `pull_request_rejected` →
///   `review_changes_requested` (text: `review.content`); `pull_request_comment` (a review of type comment) → nil,
///   like GitHub's commented reviews. A `pull_request_comment` delivery that carries `issue` and `comment` (a plain
///   comment on a pull request) is a `comment_created`.
/// - `issue_comment` on a pull request (`issue.pull_request` set, `is_pull`, or event type `pull_request_comment`)
///   is a `comment_created` with `pullRequest` set (no head branch: the payload has none).
/// - `pull_request` says `synchronized`; a merge is `closed` with `pull_request.merged: true`.
/// - Issue label changes are `label_updated` / `label_cleared` and do not name the label: they become
///   `issue_labeled` / `issue_unlabeled` with `label` nil, and `issue.labels` holds the labels after the change.
/// - `assigned`: the assignee is `issue.assignee` (Gitea's first assignee), else the last of `issue.assignees`.
/// - `status` carries GitHub's commit status fields.
enum GiteaNormalizer {
    static func normalize(
        event: String, eventType: String?, body: [UInt8]
    ) throws(NormalizationError)
        -> TrackerEvent?
    {
        switch event {
        case "issues":
            return try issues(try JSONValue.parseObject(body))
        case "issue_comment":
            let payload = try JSONValue.parseObject(body)
            let onPullRequest =
                try payload.optionalBool("is_pull") == true || eventType == "pull_request_comment"
            return try GitHubNormalizer.issueComment(payload, onPullRequest: onPullRequest)
        case "pull_request":
            return try GitHubNormalizer.pullRequest(try JSONValue.parseObject(body))
        case "pull_request_approved", "pull_request_review_approved":
            return try review(.reviewApproved, try JSONValue.parseObject(body))
        case "pull_request_rejected", "pull_request_review_rejected":
            return try review(.reviewChangesRequested, try JSONValue.parseObject(body))
        case "pull_request_comment":
            let payload = try JSONValue.parseObject(body)
            guard payload.has("comment"), payload.has("issue") else { return nil }
            return try GitHubNormalizer.issueComment(payload, onPullRequest: true)
        case "push":
            return try GitHubNormalizer.push(try JSONValue.parseObject(body))
        case "status":
            return try GitHubNormalizer.status(try JSONValue.parseObject(body))
        default:
            return nil
        }
    }

    private static func issues(_ payload: JSONObject) throws(NormalizationError) -> TrackerEvent? {
        let kind: TrackerEvent.Kind
        switch try payload.string("action") {
        case "label_updated": kind = .issueLabeled
        case "label_cleared": kind = .issueUnlabeled
        case "assigned":
            let issueObject = try payload.object("issue")
            var assignee: String?
            if let first = try issueObject.optionalObject("assignee") {
                assignee = try GitHubNormalizer.login(first)
            } else if let last = try issueObject.objects("assignees").last {
                assignee = try GitHubNormalizer.login(last)
            }
            return TrackerEvent(
                kind: .issueAssigned, actor: try GitHubNormalizer.actor(payload),
                issue: try GitHubNormalizer.issue(issueObject), assignee: assignee)
        default:
            return try GitHubNormalizer.issues(payload)
        }
        return TrackerEvent(
            kind: kind, actor: try GitHubNormalizer.actor(payload),
            issue: try GitHubNormalizer.issue(try payload.object("issue")))
    }

    private static func review(
        _ kind: TrackerEvent.Kind, _ payload: JSONObject
    ) throws(NormalizationError)
        -> TrackerEvent
    {
        TrackerEvent(
            kind: kind, actor: try GitHubNormalizer.actor(payload),
            pullRequest: try GitHubNormalizer.pullRequestInfo(payload),
            text: try payload.optionalObject("review")?.optionalString("content"))
    }
}
