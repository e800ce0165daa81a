/// A forge or tracker delivery reduced to what the workflow engine needs: what happened, to which issue or pull
/// request, and who did it. One delivery yields at most one event; deliveries Bosun does not use yield none.
public struct TrackerEvent: Sendable, Equatable, Codable {
    /// What happened.
    public enum Kind: String, Sendable, Equatable, Codable, CaseIterable {
        case issueOpened = "issue_opened"
        case issueLabeled = "issue_labeled"
        case issueUnlabeled = "issue_unlabeled"
        case issueAssigned = "issue_assigned"
        case issueClosed = "issue_closed"
        case issueReopened = "issue_reopened"
        case commentCreated = "comment_created"
        case pullRequestOpened = "pr_opened"
        case pullRequestSynchronized = "pr_synchronized"
        case pullRequestClosed = "pr_closed"
        case pullRequestMerged = "pr_merged"
        case reviewApproved = "review_approved"
        case reviewChangesRequested = "review_changes_requested"
        case push
        case commitStatus = "commit_status"
        case checkRunCompleted = "check_run_completed"
        case ping
    }

    public var kind: Kind
    /// The login (or Plane display name / id) of whoever caused the event.
    public var actor: String
    /// The issue the event is about: issue events, comments on issues, and Plane work items.
    public var issue: IssueInfo?
    /// The pull (merge) request the event is about.
    public var pullRequest: PullRequestInfo?
    /// The label added or removed (`issue_labeled`, `issue_unlabeled`).
    public var label: String?
    /// The user assigned (`issue_assigned`).
    public var assignee: String?
    /// The comment's text (`comment_created`) or the review's body (`review_*`).
    public var text: String?
    /// The commit (`push`: the new head; `commit_status`, `check_run_completed`: the commit checked).
    public var commitSHA: String?
    /// `push`: the branch pushed, without `refs/heads/`.
    public var branch: String?
    /// `commit_status`, `check_run_completed`: `success`, `failure`, `pending`, `error`, `cancelled`, `neutral`,
    /// `skipped`, `timed_out`, `action_required`, as the forge reported it (lowercased).
    public var conclusion: String?
    /// `commit_status`, `check_run_completed`: the status context or check name.
    public var checkName: String?

    public init(
        kind: Kind, actor: String, issue: IssueInfo? = nil, pullRequest: PullRequestInfo? = nil,
        label: String? = nil, assignee: String? = nil, text: String? = nil, commitSHA: String? = nil,
        branch: String? = nil, conclusion: String? = nil, checkName: String? = nil
    ) {
        self.kind = kind
        self.actor = actor
        self.issue = issue
        self.pullRequest = pullRequest
        self.label = label
        self.assignee = assignee
        self.text = text
        self.commitSHA = commitSHA
        self.branch = branch
        self.conclusion = conclusion
        self.checkName = checkName
    }
}

/// An issue (or Plane work item) as a delivery describes it.
public struct IssueInfo: Sendable, Equatable, Codable {
    /// The issue's number as the tracker shows it (`42`; Plane: the sequence id). A string: Plane ids are not
    /// numbers and the local tracker names its own.
    public var number: String
    public var title: String
    public var body: String
    /// The labels on the issue after the event.
    public var labels: [String]
    /// Who opened the issue.
    public var author: String
    /// The issue's web address, when the delivery carries one.
    public var url: String?

    public init(number: String, title: String, body: String, labels: [String], author: String, url: String? = nil) {
        self.number = number
        self.title = title
        self.body = body
        self.labels = labels
        self.author = author
        self.url = url
    }
}

/// A pull (merge) request as a delivery describes it.
public struct PullRequestInfo: Sendable, Equatable, Codable {
    public var number: String
    /// The source branch, without `refs/heads/`.
    public var headBranch: String
    public var headSHA: String?
    public var url: String?
    public var merged: Bool

    public init(number: String, headBranch: String, headSHA: String? = nil, url: String? = nil, merged: Bool = false) {
        self.number = number
        self.headBranch = headBranch
        self.headSHA = headSHA
        self.url = url
        self.merged = merged
    }
}
