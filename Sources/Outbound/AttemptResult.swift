import Workflow

/// The outcome of one attempt at one side effect, for the gatekeeper to store on the outbox row.
public enum AttemptResult: Sendable, Equatable, Codable {
    /// The effect holds now (performed by this attempt or found already done); `detail` carries what callers need
    /// later, e.g. `number` and `url` of a pull request.
    case done(detail: [String: String])
    /// A transient failure: try again, not before `afterMilliseconds` when the server said so (`Retry-After`, a
    /// rate-limit reset), else after the caller's backoff.
    case retry(afterMilliseconds: Int64?, reason: String)
    /// A permanent failure: retrying the same request cannot help. `reason` says why, with the forge's message.
    case failed(reason: String)

    /// How long to wait before the next attempt, after `failures` consecutive transient failures: the backoff's
    /// jittered delay, never earlier than the server's hint. Nil when no retry is due (done or failed).
    public func retryDelayMilliseconds(backoff: Backoff, failures: Int, jitter: Double) -> Int64? {
        guard case .retry(let hint, _) = self else { return nil }
        return backoff.delay(afterFailures: failures, jitter: jitter, notBeforeMilliseconds: hint)
    }

    /// Whether this outcome says the host is unwell (a transient failure), for a `HostBreaker`. A permanent
    /// failure is the forge answering clearly, so the host counts as healthy.
    public var isHostFailure: Bool {
        if case .retry = self { return true }
        return false
    }
}
