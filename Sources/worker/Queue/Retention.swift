import Config
import Foundation
import Logging
import Store

/// The worker's housekeeping: worktrees of tasks finished longer ago than `worker.retention_days` are removed
/// (or quarantined when they hold work origin lacks: never deleted), and run logs and run directories older than
/// that are deleted.
enum Retention {
    /// What one sweep did.
    struct Sweep: Equatable {
        var removed = 0
        var quarantined = 0
        var failed = 0
        var files = 0
    }

    static func sweep(
        database: Database, worktrees: WorktreeManager, config: BosunConfig, now: Date, logger: Logger
    ) async -> Sweep {
        var sweep = Sweep()
        let policy = RetentionPolicy(days: config.worker.retentionDays)
        let cutoff = Int64((now.timeIntervalSince1970 - policy.maximumAge) * 1000)
        let tasks = (try? database.read { try $0.finishedTasks(before: cutoff, limit: 500) }) ?? []
        var finished: [FinishedTask] = []
        for task in tasks {
            guard let project = config.project(named: task.project), let branch = BranchName(ref: task.branch),
                let gitProject = try? GitProject(
                    name: project.name, url: project.repository.url, defaultBranch: project.repository.defaultBranch)
            else { continue }
            finished.append(
                FinishedTask(
                    project: gitProject, branch: branch,
                    finishedAt: Date(timeIntervalSince1970: Double(task.updatedAtMs) / 1000)))
        }
        for (task, result) in await worktrees.sweepFinishedTasks(finished, policy: policy, now: now) {
            switch result {
            case .success(.removed): sweep.removed += 1
            case .success(.quarantined(let path, let reasons)):
                sweep.quarantined += 1
                logger.warning(
                    "a finished task's worktree held work origin lacks; quarantined",
                    metadata: ["branch": "\(task.branch.name)", "path": "\(path)", "reasons": "\(reasons)"])
            case .success(.absent): break
            case .failure(let error):
                sweep.failed += 1
                logger.error(
                    "worktree retention failed", metadata: ["branch": "\(task.branch.name)", "error": "\(error)"])
            }
        }
        for directory in ["logs/runs", "runs"] {
            let removed =
                (try? RunLogRetention.prune(
                    directory: config.stateDirectory + "/" + directory, policy: policy, now: now)) ?? []
            sweep.files += removed.count
        }
        return sweep
    }
}
