import HTTPTypes

/// The webhook senders Bosun takes, each with its own header conventions.
public enum Forge: String, CaseIterable, Sendable {
    case github
    case gitea
    case gitlab
    case plane

    /// Where the event name is.
    public var eventHeaders: [String] {
        switch self {
        case .github: ["X-GitHub-Event"]
        case .gitea: ["X-Gitea-Event", "X-Forgejo-Event", "X-Gogs-Event"]
        case .gitlab: ["X-Gitlab-Event"]
        case .plane: ["X-Plane-Event"]
        }
    }

    /// Where the delivery id is, in order of preference. GitLab's `Idempotency-Key` stays the same across its
    /// retries, `X-Gitlab-Event-UUID` is the older per-event id.
    public var deliveryHeaders: [String] {
        switch self {
        case .github: ["X-GitHub-Delivery"]
        case .gitea: ["X-Gitea-Delivery", "X-Forgejo-Delivery", "X-GitHub-Delivery"]
        case .gitlab: ["Idempotency-Key", "X-Gitlab-Event-UUID"]
        case .plane: ["X-Plane-Delivery"]
        }
    }

    /// Headers kept with a stored delivery (besides the event and delivery ones): what the gatekeeper or an
    /// operator may want later. Signatures are not kept.
    public var keptHeaders: [String] {
        let common = ["Content-Type", "User-Agent"]
        switch self {
        case .github:
            return common + [
                "X-GitHub-Hook-ID", "X-GitHub-Hook-Installation-Target-ID",
                "X-GitHub-Hook-Installation-Target-Type",
            ]
        case .gitea: return common + ["X-Gitea-Event-Type", "X-Forgejo-Event-Type", "X-Gitea-Hook-ID"]
        case .gitlab: return common + ["X-Gitlab-Instance", "X-Gitlab-Webhook-UUID", "X-Gitlab-Event-UUID"]
        case .plane: return common
        }
    }

    /// True for a delivery that only tests the hook: answered 200, never stored.
    public func isPing(event: String) -> Bool {
        self == .github && event == "ping"
    }
}

extension HTTPFields {
    /// The first of `names` that is present with a non-empty value.
    public func first(of names: [String]) -> (name: String, value: String)? {
        for name in names {
            if let field = HTTPField.Name(name), let value = self[field], !value.isEmpty {
                return (name, value)
            }
        }
        return nil
    }
}
