import Config
import Forge
import Foundation
import Store
import Workflow

/// What one tracker event means for a project: start a task, feed an input to an existing one, or nothing (and
/// why). Pure: the caller looked up the task the event is about.
enum RouterDecision: Equatable {
    case create(issue: IssueInfo, reason: String)
    case input(WorkflowInput, reason: String)
    case ignore(String)
}

/// Decides what tracker events mean: triggers, the authors' allow-list, approval tokens, Bosun's own events.
struct TaskRouter {
    let project: ProjectConfig

    /// The approval and rejection tokens a comment may carry.
    static let approvedToken = ":approved:"
    static let rejectedToken = ":rejected:"

    func route(_ event: TrackerEvent, activeTask: TaskRecord?) -> RouterDecision {
        if BosunMarker.isOwn(event, botUser: project.botUser) { return .ignore("Bosun's own event") }
        let allowed = isAllowed(event.actor)
        guard let task = activeTask else {
            return routeNew(event, allowed: allowed)
        }
        let workflow = project.resolvedWorkflow
        switch event.kind {
        case .issueClosed:
            return .input(.issueClosed, reason: "closed by \(event.actor)")
        case .issueLabeled:
            guard let label = event.label, let state = workflow.state(withLabel: label) else {
                return .ignore("label \(event.label ?? "") is not a state label")
            }
            guard allowed else { return .ignore("\(event.actor) is not in the authors list") }
            guard state.name != task.state else { return .ignore("the task is already in \(state.name)") }
            return .input(.move(to: state.name), reason: "label \(label) added by \(event.actor)")
        case .commentCreated:
            guard allowed else { return .ignore("\(event.actor) is not in the authors list") }
            return .input(Self.commentInput(event.text ?? ""), reason: "comment by \(event.actor)")
        case .reviewApproved, .reviewChangesRequested:
            guard allowed else { return .ignore("\(event.actor) is not in the authors list") }
            return .input(
                .pullRequestReview(approved: event.kind == .reviewApproved, text: event.text ?? ""),
                reason: "PR review by \(event.actor)")
        case .pullRequestMerged:
            return .input(.pullRequestMerged, reason: "PR merged by \(event.actor)")
        case .commitStatus, .checkRunCompleted:
            switch event.conclusion {
            case "success", "neutral", "skipped":
                return .input(.checks(passed: true, detail: event.checkName ?? "checks"), reason: "CI passed")
            case "failure", "error", "cancelled", "timed_out", "action_required":
                return .input(
                    .checks(passed: false, detail: "\(event.checkName ?? "checks"): \(event.conclusion ?? "")"),
                    reason: "CI failed")
            default:
                return .ignore("CI still running")
            }
        case .issueOpened, .issueAssigned, .issueReopened, .issueUnlabeled:
            return .ignore("the issue already has an active task (\(task.id))")
        case .pullRequestOpened, .pullRequestSynchronized, .pullRequestClosed, .push, .ping:
            return .ignore("\(event.kind.rawValue) needs no decision")
        }
    }

    private func routeNew(_ event: TrackerEvent, allowed: Bool) -> RouterDecision {
        guard let issue = event.issue else { return .ignore("\(event.kind.rawValue) is not about an issue") }
        let triggered: Bool
        switch (project.trigger.kind, event.kind) {
        case (.label, .issueLabeled): triggered = event.label == project.trigger.label
        case (.label, .issueOpened), (.label, .issueReopened): triggered = issue.labels.contains(project.trigger.label)
        case (.assign, .issueAssigned): triggered = event.assignee != nil && event.assignee == project.botUser
        case (.all, .issueOpened): triggered = true
        default: triggered = false
        }
        guard triggered else { return .ignore("\(event.kind.rawValue) does not trigger a task") }
        guard allowed else { return .ignore("\(event.actor) is not in the authors list and cannot start work") }
        return .create(issue: issue, reason: "\(event.kind.rawValue) by \(event.actor)")
    }

    private func isAllowed(_ actor: String) -> Bool {
        project.authors.contains(actor)
    }

    /// `:approved:` approves, `:rejected: reason` rejects (the rest of its line is the reason); anything else is an
    /// answer.
    static func commentInput(_ text: String) -> WorkflowInput {
        for line in text.split(separator: "\n") {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.hasPrefix(rejectedToken) {
                let reason = trimmed.dropFirst(rejectedToken.count).trimmingCharacters(in: .whitespaces)
                return .approval(approved: false, reason: reason.isEmpty ? "no reason given" : reason)
            }
            if trimmed.hasPrefix(approvedToken) { return .approval(approved: true, reason: "") }
        }
        return .comment(text: text)
    }
}
