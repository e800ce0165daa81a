import Config
import Dispatch
import Foundation
import Outbound
import Store
import Synchronization

/// Performs outbox effects against forges and notifiers, one attempt each (`Outbound` does the HTTP).
enum OutboundTransport {
    static let http = HTTPClient()
    /// One breaker per forge host: a host that keeps failing is left alone for a cool-down instead of being hit by
    /// every pending effect.
    static let breakers = Mutex<[String: HostBreaker]>([:])
    /// Every forge API call, counted per host until the sender stores the counts.
    static let forgeCalls = ForgeAPITally()

    /// One attempt at `effect`.
    static func attempt(_ entry: OutboxEntry, _ effect: OutboxEffect, _ config: BosunConfig) -> OutboxSender.Attempt {
        guard let project = config.project(named: entry.project) else {
            return .failed(reason: "project \(entry.project) is no longer configured")
        }
        let key = entry.idempotencyKey
        if effect.action == .notify {
            guard let index = effect.notifier, config.notify.indices.contains(index) else {
                return .failed(reason: "the notifier is no longer configured")
            }
            guard let target = notifierTarget(config.notify[index]) else {
                return .failed(reason: "notifier \(index) has no URL or token")
            }
            let title = effect.text.map { String($0.prefix(120)) } ?? "Bosun"
            return convert(
                Notifier(target: target, http: http).send(
                    Notification(title: title, text: effect.text ?? ""), idempotencyKey: key))
        }
        let target: ForgeTarget
        switch forgeTarget(project) {
        case .success(let value): target = value
        case .failure(let reason): return .failed(reason: reason.message)
        }
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        let host = target.host
        if let breaker = breakers.withLock({ $0[host] }), !breaker.allow(now: now) {
            let wait = (breaker.openUntilMilliseconds ?? now + 30_000) - now
            return .retry(afterMilliseconds: max(1000, wait), reason: "\(host) failed repeatedly; paused")
        }
        let result = perform(
            effect, project: project, client: ForgeClient(target: target, http: http, observer: forgeCalls.record),
            entry: entry)
        breakers.withLock { breakers in
            var breaker = breakers[host] ?? HostBreaker()
            switch result {
            case .done: breaker.record(success: true, now: now)
            case .retry: breaker.record(success: false, now: now)
            case .failed: break
            }
            breakers[host] = breaker
        }
        return result
    }

    private static func perform(
        _ effect: OutboxEffect, project: ProjectConfig, client: ForgeClient, entry: OutboxEntry
    ) -> OutboxSender.Attempt {
        let key = entry.idempotencyKey
        let attempt = entry.attempts + 1
        var steps: [ForgeEffect] = []
        switch (effect.action, project.tracker) {
        case (.setLabel, .plane):
            let state = (effect.label ?? "").split(separator: ":").last.map(String.init) ?? ""
            steps = [.planeSetState(issue: effect.issue, stateName: state)]
        case (.setLabel, _):
            guard let label = effect.label else { return .failed(reason: "set_label without a label") }
            steps = [
                .ensureLabel(name: label, color: effect.color ?? "ededed"),
                .addLabels(issue: effect.issue, labels: [label]),
            ]
            steps += (effect.remove ?? []).map { .removeLabel(issue: effect.issue, label: $0) }
        case (.comment, .plane):
            steps = [.planeComment(issue: effect.issue, body: effect.text ?? "")]
        case (.comment, _):
            steps = [.comment(issue: effect.issue, body: effect.text ?? "")]
        case (.openPullRequest, _):
            guard let head = effect.head, let base = effect.base else {
                return .failed(reason: "open_pr without branches")
            }
            steps = [
                .createBranch(name: head, fromBranch: base),
                .openPullRequest(title: effect.title ?? head, body: effect.text ?? "", head: head, base: base),
            ]
        case (.mergePullRequest, _):
            guard let number = effect.pullRequest else {
                return .retry(afterMilliseconds: 30_000, reason: "the pull request is not open yet")
            }
            steps = [.mergePullRequest(number: number)]
        case (.closeIssue, _):
            steps = [.closeIssue(issue: effect.issue)]
        case (.notify, _):
            return .failed(reason: "unreachable")
        }
        var detail: [String: String] = [:]
        for (index, step) in steps.enumerated() {
            switch client.perform(step, idempotencyKey: "\(key).\(index)", attempt: attempt) {
            case .done(let stepDetail):
                if case .openPullRequest = step {
                    detail["pr_number"] = stepDetail["number"]
                    detail["pr_url"] = stepDetail["url"]
                }
            case .retry(let after, let reason): return .retry(afterMilliseconds: after, reason: reason)
            case .failed(let reason): return .failed(reason: reason)
            }
        }
        return .done(result: detail)
    }

    private static func convert(_ result: AttemptResult) -> OutboxSender.Attempt {
        switch result {
        case .done(let detail): .done(result: detail)
        case .retry(let after, let reason): .retry(afterMilliseconds: after, reason: reason)
        case .failed(let reason): .failed(reason: reason)
        }
    }

    struct TargetError: Error {
        var message: String
    }

    /// Where a project's forge API is and who the repository is, from its config.
    static func forgeTarget(_ project: ProjectConfig) -> Result<ForgeTarget, TargetError> {
        guard let token = project.token?.value else {
            return .failure(TargetError(message: "project \(project.name) has no token (token_file or token_env)"))
        }
        if project.tracker == .plane {
            guard let base = project.planeAPIURL, let workspace = project.planeWorkspace,
                let id = project.planeProjectID
            else {
                return .failure(TargetError(message: "project \(project.name) needs plane.api_url and plane.workspace"))
            }
            return .success(.plane(baseURL: base, workspaceSlug: workspace, projectID: id, token: token))
        }
        guard let url = URL(string: project.repository.url), let host = url.host, let scheme = url.scheme else {
            return .failure(TargetError(message: "project \(project.name): cannot read the forge from repo.url"))
        }
        var parts = url.path.split(separator: "/").map(String.init)
        if let last = parts.last, last.hasSuffix(".git") { parts[parts.count - 1] = String(last.dropLast(4)) }
        guard parts.count >= 2 else {
            return .failure(TargetError(message: "project \(project.name): repo.url has no owner/repository"))
        }
        let root = "\(scheme)://\(host)\(url.port.map { ":\($0)" } ?? "")"
        switch project.tracker {
        case .github:
            let base = project.repository.apiURL ?? (host == "github.com" ? "https://api.github.com" : root + "/api/v3")
            return .success(.github(baseURL: base, owner: parts[0], repo: parts[1], token: token))
        case .gitea:
            return .success(
                .gitea(
                    baseURL: project.repository.apiURL ?? root + "/api/v1", owner: parts[0], repo: parts[1],
                    token: token))
        case .gitlab:
            let path = parts.joined(separator: "/")
            return .success(
                .gitlab(baseURL: project.repository.apiURL ?? root + "/api/v4", projectID: path, token: token))
        case .local, .plane:
            return .failure(TargetError(message: "project \(project.name) has no forge"))
        }
    }

    private static func notifierTarget(_ notifier: NotifierConfig) -> NotifierTarget? {
        switch notifier.kind {
        case .telegram:
            guard let token = notifier.token?.value, let chat = notifier.chatID else { return nil }
            return .telegram(botToken: token, chatID: chat)
        case .slack:
            return notifier.url.map { .slack(webhookURL: $0.value) }
        case .webhook:
            return notifier.url.map { .webhook(url: $0.value) }
        }
    }

    /// Runs blocking work (libcurl, SQLite) on a Dispatch thread instead of the cooperative pool.
    static func onBlockingThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async {
                continuation.resume(with: Result { try body() })
            }
        }
    }
}
