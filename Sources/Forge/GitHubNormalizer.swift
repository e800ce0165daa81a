/// GitHub deliveries (`X-GitHub-Event`).
///
/// | event | action / condition | kind |
/// |---|---|---|
/// | `issues` | opened, labeled, unlabeled, assigned, closed, reopened | the matching `issue_*` |
/// | `issue_comment` | created | `comment_created`; on a pull request `pullRequest` is set too (no head branch) |
/// | `pull_request` | opened, reopened / synchronize / closed (merged → `pr_merged`, else `pr_closed`) | `pr_*` |
/// | `pull_request_review` | submitted, state approved / changes_requested | `review_*` (commented → nil) |
/// | `pull_request_review_comment` | created | `comment_created` with `pullRequest` |
/// | `push` | a branch ref that was not deleted | `push` (tags and deletions → nil) |
/// | `status` | any | `commit_status` (`state` → conclusion, `context` → check name) |
/// | `check_run` | completed | `check_run_completed` |
/// | `ping` | — | `ping` |
///
/// Everything else (`workflow_run`, `check_suite`, review requests, dismissed reviews, edits) → nil.
enum GitHubNormalizer {
    /// Top-level members no mapping reads; the largest part of most payloads (`repository` alone is about half of
    /// an `issues` body), checked for syntax but not built.
    static let unread: Set<String> = ["repository", "organization", "enterprise", "installation"]

    static func normalize(event: String, body: [UInt8]) throws(NormalizationError) -> TrackerEvent? {
        func parse(_ body: [UInt8]) throws(NormalizationError) -> JSONObject {
            try JSONValue.parseObject(body, skipping: unread)
        }
        switch event {
        case "ping":
            let payload = try parse(body)
            let sender = try payload.optionalObject("sender")
            return TrackerEvent(kind: .ping, actor: try sender?.optionalString("login") ?? "")
        case "issues":
            return try issues(try parse(body))
        case "issue_comment":
            return try issueComment(try parse(body))
        case "pull_request":
            return try pullRequest(try parse(body))
        case "pull_request_review":
            return try review(try parse(body))
        case "pull_request_review_comment":
            return try reviewComment(try parse(body))
        case "push":
            return try push(try parse(body))
        case "status":
            return try status(try parse(body))
        case "check_run":
            return try checkRun(try parse(body))
        default:
            return nil
        }
    }

    /// `issues`; Gitea's `issues` event shares the shape (its label actions are handled by `GiteaNormalizer`).
    static func issues(_ payload: JSONObject) throws(NormalizationError) -> TrackerEvent? {
        let kind: TrackerEvent.Kind
        switch try payload.string("action") {
        case "opened": kind = .issueOpened
        case "labeled": kind = .issueLabeled
        case "unlabeled": kind = .issueUnlabeled
        case "assigned": kind = .issueAssigned
        case "closed": kind = .issueClosed
        case "reopened": kind = .issueReopened
        default: return nil
        }
        var event = TrackerEvent(kind: kind, actor: try actor(payload), issue: try issue(try payload.object("issue")))
        switch kind {
        case .issueLabeled, .issueUnlabeled: event.label = try payload.object("label").string("name")
        case .issueAssigned: event.assignee = try login(try payload.object("assignee"))
        default: break
        }
        return event
    }

    /// `issue_comment` (GitHub and Gitea): a comment on an issue, or on a pull request seen as an issue.
    static func issueComment(
        _ payload: JSONObject, onPullRequest: Bool = false
    ) throws(NormalizationError)
        -> TrackerEvent?
    {
        guard try payload.string("action") == "created" else { return nil }
        let issueObject = try payload.object("issue")
        let comment = try payload.object("comment")
        let issue = try issue(issueObject)
        var event = TrackerEvent(
            kind: .commentCreated, actor: try actor(payload), issue: issue, text: try comment.string("body"))
        if let link = try issueObject.optionalObject("pull_request") {
            event.pullRequest = PullRequestInfo(
                number: issue.number, headBranch: "", url: try link.optionalString("html_url") ?? issue.url,
                merged: try link.optionalBool("merged") ?? false)
        } else if onPullRequest {
            event.pullRequest = PullRequestInfo(number: issue.number, headBranch: "", url: issue.url)
        }
        return event
    }

    /// `pull_request` (GitHub and Gitea; Gitea says `synchronized`).
    static func pullRequest(_ payload: JSONObject) throws(NormalizationError) -> TrackerEvent? {
        let action = try payload.string("action")
        let pullRequest = try pullRequestInfo(payload)
        let kind: TrackerEvent.Kind
        switch action {
        case "opened", "reopened": kind = .pullRequestOpened
        case "synchronize", "synchronized": kind = .pullRequestSynchronized
        case "closed": kind = pullRequest.merged ? .pullRequestMerged : .pullRequestClosed
        default: return nil
        }
        return TrackerEvent(kind: kind, actor: try actor(payload), pullRequest: pullRequest)
    }

    private static func review(_ payload: JSONObject) throws(NormalizationError) -> TrackerEvent? {
        guard try payload.string("action") == "submitted" else { return nil }
        let review = try payload.object("review")
        let kind: TrackerEvent.Kind
        switch try review.string("state").lowercased() {
        case "approved": kind = .reviewApproved
        case "changes_requested": kind = .reviewChangesRequested
        default: return nil
        }
        return TrackerEvent(
            kind: kind, actor: try actor(payload), pullRequest: try pullRequestInfo(payload),
            text: try review.optionalString("body"))
    }

    private static func reviewComment(_ payload: JSONObject) throws(NormalizationError) -> TrackerEvent? {
        guard try payload.string("action") == "created" else { return nil }
        return TrackerEvent(
            kind: .commentCreated, actor: try actor(payload), pullRequest: try pullRequestInfo(payload),
            text: try payload.object("comment").string("body"))
    }

    /// `push` (GitHub and Gitea): a branch's new head. Tags and deleted branches yield nil.
    static func push(_ payload: JSONObject) throws(NormalizationError) -> TrackerEvent? {
        guard let branch = branchName(ofRef: try payload.string("ref")) else { return nil }
        let after = try payload.string("after")
        if try payload.optionalBool("deleted") == true || isNullCommit(after) { return nil }
        return TrackerEvent(kind: .push, actor: try actor(payload), commitSHA: after, branch: branch)
    }

    /// `status` (GitHub and Gitea's commit status event, same fields).
    static func status(_ payload: JSONObject) throws(NormalizationError) -> TrackerEvent? {
        TrackerEvent(
            kind: .commitStatus, actor: try actor(payload), commitSHA: try payload.string("sha"),
            conclusion: try payload.string("state").lowercased(), checkName: try payload.string("context"))
    }

    private static func checkRun(_ payload: JSONObject) throws(NormalizationError) -> TrackerEvent? {
        guard try payload.string("action") == "completed" else { return nil }
        let run = try payload.object("check_run")
        var event = TrackerEvent(
            kind: .checkRunCompleted, actor: try actor(payload), commitSHA: try run.string("head_sha"),
            branch: try run.optionalObject("check_suite")?.optionalString("head_branch"),
            conclusion: try run.string("conclusion").lowercased(), checkName: try run.string("name"))
        if let first = try run.objects("pull_requests").first {
            let head = try first.object("head")
            event.pullRequest = PullRequestInfo(
                number: String(try first.int("number")), headBranch: try head.string("ref"),
                headSHA: try head.optionalString("sha"))
        }
        return event
    }

    // MARK: Shapes GitHub and Gitea share

    /// Who caused the delivery: `sender.login` (Gitea also sends `username`).
    static func actor(_ payload: JSONObject) throws(NormalizationError) -> String {
        try login(try payload.object("sender"))
    }

    /// A user object's login: `login`, else Gitea's `username`.
    static func login(_ user: JSONObject) throws(NormalizationError) -> String {
        if let login = try user.optionalString("login"), !login.isEmpty { return login }
        if let username = try user.optionalString("username") { return username }
        return try user.string("login")
    }

    /// An `issue` object.
    static func issue(_ issue: JSONObject) throws(NormalizationError) -> IssueInfo {
        var labels: [String] = []
        for label in try issue.objects("labels") { labels.append(try label.string("name")) }
        return IssueInfo(
            number: String(try issue.int("number")), title: try issue.string("title"),
            body: try issue.optionalString("body") ?? "", labels: labels, author: try login(try issue.object("user")),
            url: try issue.optionalString("html_url"))
    }

    /// The payload's `pull_request`; its number falls back to the payload's `number` (Gitea may send null).
    static func pullRequestInfo(_ payload: JSONObject) throws(NormalizationError) -> PullRequestInfo {
        let pullRequest = try payload.object("pull_request")
        let number: Int64
        if let own = try pullRequest.optionalInt("number") { number = own } else { number = try payload.int("number") }
        let head = try pullRequest.object("head")
        return PullRequestInfo(
            number: String(number), headBranch: try head.string("ref"), headSHA: try head.optionalString("sha"),
            url: try pullRequest.optionalString("html_url"), merged: try pullRequest.optionalBool("merged") ?? false)
    }
}
