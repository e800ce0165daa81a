import Config
import Foundation
import Logging
import Store
import Workflow

/// Sends due outbox entries, one attempt each, and records the result: done, failed for good, or pending until
/// the next try (exponential backoff with jitter, or the remote's advertised time when later). Event processing
/// never waits for this: it only ever writes rows.
final class OutboxSender: Sendable {
    /// One attempt's result.
    enum Attempt: Equatable {
        case done(result: [String: String])
        case retry(afterMilliseconds: Int64?, reason: String)
        case failed(reason: String)
    }

    /// Performs one attempt of an effect against the outside world.
    typealias Transport = @Sendable (_ entry: OutboxEntry, _ effect: OutboxEffect, _ config: BosunConfig) -> Attempt

    let database: Database
    let config: @Sendable () -> BosunConfig
    let logger: Logger
    let transport: Transport
    let clock: @Sendable () -> Int64
    /// Attempts before an effect is given up as failed.
    let maxAttempts: Int
    /// The forge API calls the transport made, stored with each pass.
    let forgeCalls: ForgeAPITally?

    init(
        database: Database, config: @escaping @Sendable () -> BosunConfig, logger: Logger,
        transport: @escaping Transport, forgeCalls: ForgeAPITally? = nil,
        maxAttempts: Int = 12, clock: @escaping @Sendable () -> Int64 = { Int64(Date().timeIntervalSince1970 * 1000) }
    ) {
        self.database = database
        self.config = config
        self.logger = logger
        self.transport = transport
        self.forgeCalls = forgeCalls
        self.maxAttempts = maxAttempts
        self.clock = clock
    }

    /// Sends what is due now; returns how many entries were attempted.
    func sendDue(limit: Int = 64) throws -> Int {
        let now = clock()
        let due = try database.read { try $0.dueEffects(nowMs: now, limit: limit) }
        let config = config()
        var attempts: [(OutboxEntry, Attempt)] = []
        for entry in due {
            let attempt: Attempt
            if var effect = try? JSONColumn.decode(entry.effect, as: OutboxEffect.self) {
                if effect.action == .mergePullRequest, let taskID = entry.taskID {
                    effect.pullRequest = try database.read { try $0.task(id: taskID) }?.pullRequestNumber
                }
                attempt =
                    entry.kind == "local" ? .done(result: ["recorded": "local"]) : transport(entry, effect, config)
            } else {
                attempt = .failed(reason: "the stored effect is not readable")
            }
            attempts.append((entry, attempt))
        }
        // One transaction records the whole pass, and the forge calls it made.
        let calls = forgeCalls?.drain() ?? []
        do {
            try database.write { transaction in
                for (entry, attempt) in attempts { try record(attempt, for: entry, transaction) }
                for stats in calls { try transaction.addForgeAPIStats(stats, nowMs: clock()) }
            }
        } catch {
            forgeCalls?.restore(calls)
            throw error
        }
        return due.count
    }

    private func record(_ attempt: Attempt, for entry: OutboxEntry, _ transaction: Transaction) throws {
        let now = clock()
        var metadata: Logger.Metadata = [
            "outbox": "\(entry.id)", "project": "\(entry.project)", "kind": "\(entry.kind)",
        ]
        do {
            switch attempt {
            case .done(let result):
                try transaction.recordEffectAttempt(
                    id: entry.id, state: "done", nextTryAtMs: now, error: nil, result: try JSONColumn.encode(result),
                    nowMs: now)
                if let taskID = entry.taskID, let number = result["pr_number"],
                    var task = try transaction.task(id: taskID)
                {
                    task.pullRequestNumber = number
                    task.pullRequestURL = result["pr_url"] ?? task.pullRequestURL
                    try transaction.updateTask(task)
                }
            case .retry(let after, let reason) where entry.attempts + 1 < maxAttempts:
                let backoff = Backoff(baseMilliseconds: 1000, maxMilliseconds: 600_000)
                let delay = backoff.delay(
                    afterFailures: entry.attempts + 1, jitter: Double.random(in: 0...1), notBeforeMilliseconds: after)
                try transaction.recordEffectAttempt(
                    id: entry.id, state: "pending", nextTryAtMs: now + delay, error: reason, result: nil, nowMs: now)
                metadata["retry_in_ms"] = "\(delay)"
                metadata["reason"] = "\(reason)"
                logger.warning("outbox effect will be retried", metadata: metadata)
            case .retry(_, let reason), .failed(let reason):
                try transaction.recordEffectAttempt(
                    id: entry.id, state: "failed", nextTryAtMs: now, error: reason, result: nil, nowMs: now)
                metadata["reason"] = "\(reason)"
                logger.error("outbox effect failed", metadata: metadata)
            }
        }
    }

    /// When the next pending entry is due, if any.
    func nextDueAtMs() throws -> Int64? {
        try database.read { try $0.nextEffectDueAtMs() }
    }
}
