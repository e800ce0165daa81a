import Foundation

/// One side effect on a forge or tracker. Codable so the gatekeeper can store it as JSON in the outbox; each case
/// is safe to attempt more than once (see `ForgeClient` for how each one recognises that it is already done).
public enum ForgeEffect: Codable, Sendable, Equatable {
    /// Create the repository label if it is missing; `color` is six hex digits, without `#`.
    case ensureLabel(name: String, color: String)
    /// Add labels to an issue (GitHub creates unknown labels; Gitea needs them to exist; GitLab creates them).
    case addLabels(issue: String, labels: [String])
    /// Remove a label from an issue; a label that is not there counts as removed.
    case removeLabel(issue: String, label: String)
    /// Post a comment on an issue (Plane targets: a work-item comment), at most once per idempotency key.
    case comment(issue: String, body: String)
    /// Create a branch from another branch's head; an existing branch counts as created.
    case createBranch(name: String, fromBranch: String)
    /// Open a pull (merge) request from `head` into `base`; an open one for `head` counts as opened.
    case openPullRequest(title: String, body: String, head: String, base: String)
    /// Merge a pull (merge) request; an already merged one counts as merged.
    case mergePullRequest(number: String)
    /// Close an issue.
    case closeIssue(issue: String)
    /// Plane: move a work item to the project state with this name.
    case planeSetState(issue: String, stateName: String)
    /// Plane: post a comment on a work item, at most once per idempotency key.
    case planeComment(issue: String, body: String)

    /// A short name for logs and metrics, e.g. `open_pull_request`.
    public var kind: String {
        switch self {
        case .ensureLabel: "ensure_label"
        case .addLabels: "add_labels"
        case .removeLabel: "remove_label"
        case .comment: "comment"
        case .createBranch: "create_branch"
        case .openPullRequest: "open_pull_request"
        case .mergePullRequest: "merge_pull_request"
        case .closeIssue: "close_issue"
        case .planeSetState: "plane_set_state"
        case .planeComment: "plane_comment"
        }
    }
}

/// Where effects go: which forge, its API base, the repository or project, and the token.
public struct ForgeTarget: Sendable, Equatable, CustomStringConvertible {
    /// The forge or tracker's API dialect.
    public enum Kind: String, Sendable, Equatable, Codable, CaseIterable {
        case github, gitea, gitlab, plane
    }

    /// The API dialect.
    public var kind: Kind
    /// The API base without a trailing slash, e.g. `https://api.github.com`, `https://gitea.example/api/v1`,
    /// `https://gitlab.example/api/v4`, `https://plane.example/api/v1`.
    public var baseURL: String
    /// GitHub, Gitea: the repository's owner.
    public var owner: String
    /// GitHub, Gitea: the repository's name.
    public var repo: String
    /// GitLab: the numeric project id or the full path (`group/project`, encoded here); Plane: the project UUID.
    public var projectID: String
    /// Plane: the workspace slug.
    public var workspaceSlug: String
    /// The API token; never part of `description`, an error or a log line.
    public var token: String

    /// A target with every field given; prefer the per-forge constructors.
    public init(
        kind: Kind, baseURL: String, owner: String = "", repo: String = "", projectID: String = "",
        workspaceSlug: String = "", token: String
    ) {
        self.kind = kind
        var base = baseURL
        while base.hasSuffix("/") { base.removeLast() }
        self.baseURL = base
        self.owner = owner
        self.repo = repo
        self.projectID = projectID
        self.workspaceSlug = workspaceSlug
        self.token = token
    }

    /// A GitHub repository (github.com by default; GitHub Enterprise uses `https://HOST/api/v3`).
    public static func github(
        baseURL: String = "https://api.github.com", owner: String, repo: String, token: String
    ) -> ForgeTarget {
        ForgeTarget(kind: .github, baseURL: baseURL, owner: owner, repo: repo, token: token)
    }

    /// A Gitea or Forgejo repository; `baseURL` ends in `/api/v1`.
    public static func gitea(baseURL: String, owner: String, repo: String, token: String) -> ForgeTarget {
        ForgeTarget(kind: .gitea, baseURL: baseURL, owner: owner, repo: repo, token: token)
    }

    /// A GitLab project; `baseURL` ends in `/api/v4`.
    public static func gitlab(baseURL: String, projectID: String, token: String) -> ForgeTarget {
        ForgeTarget(kind: .gitlab, baseURL: baseURL, projectID: projectID, token: token)
    }

    /// A Plane project; `baseURL` ends in `/api/v1`.
    public static func plane(baseURL: String, workspaceSlug: String, projectID: String, token: String) -> ForgeTarget {
        ForgeTarget(kind: .plane, baseURL: baseURL, projectID: projectID, workspaceSlug: workspaceSlug, token: token)
    }

    /// The host (and port) of the API, the key for a `HostBreaker`.
    public var host: String {
        var rest = Substring(baseURL)
        if let scheme = rest.range(of: "://") { rest = rest[scheme.upperBound...] }
        let authority = rest.prefix { $0 != "/" && $0 != "?" && $0 != "#" }
        return String(authority.split(separator: "@").last ?? authority).lowercased()
    }

    /// The kind and where it points, without the token.
    public var description: String {
        switch kind {
        case .github, .gitea: "\(kind.rawValue) \(host) \(owner)/\(repo)"
        case .gitlab: "gitlab \(host) project \(projectID)"
        case .plane: "plane \(host) \(workspaceSlug)/\(projectID)"
        }
    }
}
