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

    /// What happened.
    public var kind: Kind
    /// The login (or Plane display name / id) of whoever caused the event.
    public var actor: String
    /// The issue the event is about: issue events, comments on issues, and Plane work items. For a comment on a
    /// GitHub or Gitea pull request, the pull request as the forge's issue API sees it (`pullRequest` is set too).
    public var issue: IssueInfo?
    /// The pull (merge) request the event is about.
    public var pullRequest: PullRequestInfo?
    /// The label added or removed (`issue_labeled`, `issue_unlabeled`). Nil from Gitea, whose label events do not
    /// say which label changed (`issue.labels` holds the labels after the change).
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
    /// `skipped`, `timed_out`, `action_required`, as the forge reported it (lowercased; GitLab's pipeline statuses
    /// are mapped onto these words).
    public var conclusion: String?
    /// `commit_status`, `check_run_completed`: the status context or check name.
    public var checkName: String?

    /// Makes an event; everything but the kind and the actor is optional.
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
    /// The title (Plane: the work item's name).
    public var title: String
    /// The description as the tracker stores it (Markdown, or Plane's stripped text); empty when there is none.
    public var body: String
    /// The labels on the issue after the event, as names (Plane v2: label ids); empty when the delivery does not
    /// list them (Plane comments).
    public var labels: [String]
    /// Who opened the issue; empty when the delivery does not name them (GitLab events by someone else, Plane
    /// comments).
    public var author: String
    /// The issue's web address, when the delivery carries one.
    public var url: String?
    /// The tracker's own identifier when it is not the number: Plane's work item UUID.
    public var id: String?

    /// Makes an issue description.
    public init(
        number: String, title: String, body: String, labels: [String], author: String, url: String? = nil,
        id: String? = nil
    ) {
        self.number = number
        self.title = title
        self.body = body
        self.labels = labels
        self.author = author
        self.url = url
        self.id = id
    }
}

/// A pull (merge) request as a delivery describes it.
public struct PullRequestInfo: Sendable, Equatable, Codable {
    /// The pull (merge) request's number (GitLab: its iid).
    public var number: String
    /// The source branch, without `refs/heads/`; empty when the delivery does not carry it (a comment on a GitHub or
    /// Gitea pull request).
    public var headBranch: String
    /// The head commit, when the delivery names it.
    public var headSHA: String?
    /// The pull request's web address, when the delivery carries one.
    public var url: String?
    /// True once merged (`pr_merged`).
    public var merged: Bool

    /// Makes a pull request description.
    public init(number: String, headBranch: String, headSHA: String? = nil, url: String? = nil, merged: Bool = false) {
        self.number = number
        self.headBranch = headBranch
        self.headSHA = headSHA
        self.url = url
        self.merged = merged
    }
}
