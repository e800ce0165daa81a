import Foundation

/// How long finished things are kept: anything that ended more than `maximumAge` before `now` is expired.
struct RetentionPolicy: Sendable, Equatable {
    let maximumAge: TimeInterval

    /// Keeps things for `days` days.
    init(days: Int) { maximumAge = TimeInterval(max(0, days)) * 86_400 }

    /// True if something that ended at `date` is past its retention at `now`.
    func isExpired(endedAt date: Date, now: Date) -> Bool {
        now.timeIntervalSince(date) > maximumAge
    }
}

/// A task that reached a terminal state, whose worktree may be cleaned up.
struct FinishedTask: Sendable, Equatable {
    let project: GitProject
    let branch: BranchName
    let finishedAt: Date
}

extension WorktreeManager {
    /// Removes the worktrees of the tasks in `finished` that ended longer ago than `policy` allows. A worktree that
    /// still holds work not on origin is quarantined instead (see `removeWorktree`). Returns what happened to each
    /// expired task; one failure does not stop the others.
    func sweepFinishedTasks(
        _ finished: [FinishedTask], policy: RetentionPolicy, now: Date
    ) async -> [(task: FinishedTask, result: Result<WorktreeRemoval, WorktreeError>)] {
        var results: [(task: FinishedTask, result: Result<WorktreeRemoval, WorktreeError>)] = []
        for task in finished where policy.isExpired(endedAt: task.finishedAt, now: now) {
            do {
                results.append((task, .success(try await removeWorktree(task.project, branch: task.branch, now: now))))
            } catch {
                results.append((task, .failure(error)))
            }
        }
        return results
    }
}

/// Deletes old run logs.
enum RunLogRetention {
    /// Deletes every regular file under `directory` (recursively, without following symbolic links) last modified
    /// longer ago than `policy` allows, then the subdirectories that this left empty. Returns the deleted files.
    @discardableResult
    static func prune(directory: String, policy: RetentionPolicy, now: Date) throws(WorktreeError) -> [String] {
        var deleted: [String] = []
        try prune(directory, policy: policy, now: now, deleted: &deleted, isRoot: true)
        return deleted
    }

    private static func prune(
        _ directory: String, policy: RetentionPolicy, now: Date, deleted: inout [String], isRoot: Bool
    ) throws(WorktreeError) {
        let files = FileManager.default
        let names: [String]
        do {
            names = try files.contentsOfDirectory(atPath: directory)
        } catch {
            if isRoot && !files.fileExists(atPath: directory) { return }
            throw WorktreeError(.environment, "cannot list \(directory)", cause: error)
        }
        for name in names {
            let path = directory + "/" + name
            guard let attributes = try? files.attributesOfItem(atPath: path),  // lstat: links are not followed
                let type = attributes[.type] as? FileAttributeType
            else { continue }
            if type == .typeDirectory {
                let before = deleted.count
                try prune(path, policy: policy, now: now, deleted: &deleted, isRoot: false)
                if deleted.count > before, (try? files.contentsOfDirectory(atPath: path))?.isEmpty == true {
                    try? files.removeItem(atPath: path)
                }
            } else if type == .typeRegular, let modified = attributes[.modificationDate] as? Date,
                policy.isExpired(endedAt: modified, now: now)
            {
                do {
                    try files.removeItem(atPath: path)
                    deleted.append(path)
                } catch {
                    throw WorktreeError(.environment, "cannot delete \(path)", cause: error)
                }
            }
        }
    }
}
