/// One effect the gatekeeper queued for the outside world, as stored in the outbox's `effect` column. The sender
/// turns it into forge API calls (or local records, or notifications) when it is due.
struct OutboxEffect: Codable, Equatable, Sendable {
    enum Action: String, Codable, Sendable {
        case setLabel = "set_label"
        case comment
        case openPullRequest = "open_pr"
        case mergePullRequest = "merge_pr"
        case closeIssue = "close_issue"
        case notify
    }

    var action: Action
    var issue: String
    /// `set_label`: the label to add, its colour, and the labels to take off.
    var label: String?
    var color: String?
    var remove: [String]?
    /// `comment`, `notify`: the text. `open_pr`: the body.
    var text: String?
    /// `open_pr`: the title, the head and base branches.
    var title: String?
    var head: String?
    var base: String?
    /// `notify`: the index of the notifier in the config.
    var notifier: Int?
    /// `merge_pr`: the pull request's number, filled in from the task when the effect is sent.
    var pullRequest: String?
}
