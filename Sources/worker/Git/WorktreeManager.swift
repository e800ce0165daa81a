import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A task's prepared worktree.
struct PreparedWorktree: Sendable, Equatable {
    let path: String
    let branch: BranchName
    /// True if an existing worktree of this branch was kept (a retry, or a worker restart).
    let reused: Bool
}

/// What `commitAndPush` did.
struct CommitOutcome: Sendable, Equatable {
    /// The agent left changes and they were committed.
    let committed: Bool
    /// The branch had commits origin lacked and was pushed.
    let pushed: Bool
    /// The branch's head after the commit.
    let head: String
}

/// What `mergeBranch` did.
struct MergeOutcome: Sendable, Equatable {
    /// The head of the target branch on origin afterwards: the merge commit, or the old head if nothing was merged.
    let head: String
    /// The branch was already part of the target branch; nothing was pushed.
    let alreadyMerged: Bool
}

/// What `removeWorktree` did.
enum WorktreeRemoval: Sendable, Equatable {
    /// There was no worktree.
    case absent
    /// The worktree was clean and fully pushed, and is gone.
    case removed
    /// The worktree held work that is not on origin (or could not be judged) and was moved aside for a human.
    case quarantined(path: String, reasons: [String])
}

/// The git side of a task: one bare repository per project that follows origin, one worktree per task branch.
///
/// Refspecs: the repository fetches `+refs/heads/*:refs/remotes/origin/*` with `--prune`, so origin's branches only
/// ever move `refs/remotes/origin/*`. Its own `refs/heads/*` hold just the task branches that worktrees check out;
/// a fetch can never reset or delete one, whatever happens on origin. A push (`refs/heads/B:refs/heads/B`) updates
/// `refs/remotes/origin/B` as well, so "is this on origin" is a local question: is it reachable from
/// `refs/remotes/origin/*`.
///
/// Locks: an operation on the repository (fetch, making, moving or removing worktrees, push, merge) holds the
/// project's lock, so those run one at a time in the order they asked; taking a ready worktree for a new branch does
/// not wait for it (`takeReady`). An operation on one task's worktree holds
/// that branch's lock, taken before the project's; the check and commit after a run hold only the branch's lock and
/// run alongside the project's other work, as the agents' own git commands in their worktrees always do.
final class WorktreeManager: Sendable {
    let layout: WorktreeLayout
    let git: Git
    /// Internal, not private, for tests that hold it as a long fetch would.
    let locks = ProjectLocks()
    /// One lock per task branch, taken before its project's lock (never after it): work inside one task's worktree
    /// runs outside the project's lock but never alongside another operation on that worktree.
    private let branchLocks = ProjectLocks()
    /// Held by every `git worktree prune` and by a worktree taken from the pool without the project's lock; taken
    /// last, after any other lock.
    private let pruneLocks = ProjectLocks()
    /// Repositories already checked in this process (bare, the right origin URL), with their last fetch and
    /// whether a background refresh is queued.
    private let checked = Mutex<[String: FetchState]>([:])
    /// Origin's branches older than this are refreshed in the background after a worktree is prepared, so the next
    /// task starts from a fetch at most this old plus one fetch's time — without waiting for the network itself.
    let fetchFreshness: Duration
    /// Origin's branches older than this are fetched before a worktree is prepared (a worker that was idle).
    let fetchMaximumAge: Duration

    /// Worktrees kept ready per project (0: none). See `takePooled`.
    let poolSize: Int
    private let pool = Mutex<[String: PoolState]>([:])

    /// A project's ready worktrees: detached at origin's default branch as of `commit`, made after the last fetch.
    private struct PoolState {
        var entries: [(path: String, commit: String)] = []
        var refillQueued = false
        /// Leftovers of an earlier worker process were cleared.
        var cleared = false
    }

    private struct FetchState {
        var url: String
        var fetchedAt: ContinuousClock.Instant
        var refreshQueued = false
    }

    /// Creates the directories under `stateDirectory` it needs.
    init(
        stateDirectory: String, git: Git, fetchFreshness: Duration = .seconds(2),
        fetchMaximumAge: Duration = .seconds(60), poolSize: Int = 2
    ) throws(WorktreeError) {
        self.poolSize = max(0, poolSize)
        self.fetchFreshness = fetchFreshness
        self.fetchMaximumAge = fetchMaximumAge
        for directory in ["", "/repos", "/worktrees"] {
            try Self.makeDirectory(stateDirectory + directory)
        }
        guard let resolved = realpath(stateDirectory, nil) else {
            throw WorktreeError(.environment, "cannot resolve state directory \(stateDirectory)")
        }
        layout = WorktreeLayout(stateDirectory: String(cString: resolved))
        free(resolved)
        self.git = git
    }

    // MARK: Repository

    /// Makes sure `project`'s repository exists and has origin's latest branches, and returns its path.
    @discardableResult
    func ensureClone(_ project: GitProject) async throws(WorktreeError) -> String {
        try await locks.withLock(project.name) { () throws(WorktreeError) in try await ensureCloneLocked(project) }
    }

    /// `fresh`: fetch whatever the last fetch's age (a merge must see origin as it is now). Otherwise a fetch younger
    /// than `fetchMaximumAge` is used as it is, and one older than `fetchFreshness` is refreshed in the background.
    private func ensureCloneLocked(_ project: GitProject, fresh: Bool = false) async throws(WorktreeError) -> String {
        let repository = layout.repository(project)
        if let known = checked.withLock({ $0[project.name] }), known.url == project.url,
            FileManager.default.fileExists(atPath: repository)
        {
            let age = ContinuousClock.now - known.fetchedAt
            if fresh || age >= fetchMaximumAge {
                try await fetch(repository)
                checked.withLock { $0[project.name]?.fetchedAt = ContinuousClock.now }
            } else if age >= fetchFreshness {
                refreshInBackground(project)
            }
            return repository
        }
        try await git.check(["check-ref-format", "--branch", project.defaultBranch], at: .anywhere)
        if FileManager.default.fileExists(atPath: repository) {
            let bare = try? await git.check(["rev-parse", "--is-bare-repository"], at: .repository(repository))
            guard bare == "true" else {
                throw WorktreeError(
                    .unexpectedState, "\(repository) exists but is not a bare git repository; move it away")
            }
            let url = try? await git.check(["config", "--get", "remote.origin.url"], at: .repository(repository))
            if url != project.url {
                try await git.check(["remote", "set-url", "origin", project.url], at: .repository(repository))
            }
        } else {
            // Built under a temporary name and renamed once the first fetch worked, so a crash never leaves a
            // half-made repository at the real path.
            let partial = layout.repositories + "/.\(project.name).git.partial-\(getpid())-\(Self.randomSuffix())"
            try await git.check(["init", "--bare", "--quiet", partial], at: .anywhere)
            do throws(WorktreeError) {
                try await git.check(["remote", "add", "origin", project.url], at: .repository(partial))
                try await fetch(partial)
                guard rename(partial, repository) == 0 else {
                    throw WorktreeError(.environment, "cannot rename \(partial) to \(repository): \(Self.errnoText())")
                }
            } catch {
                try? FileManager.default.removeItem(atPath: partial)
                throw error
            }
            checked.withLock { $0[project.name] = FetchState(url: project.url, fetchedAt: ContinuousClock.now) }
            return repository
        }
        try await fetch(repository)
        checked.withLock { $0[project.name] = FetchState(url: project.url, fetchedAt: ContinuousClock.now) }
        return repository
    }

    /// Queues one fetch of `project` that runs once the current holder of its lock is done (so it never races
    /// another git command on the repository). A failure is left for the next synchronous fetch to report.
    private func refreshInBackground(_ project: GitProject) {
        let queue = checked.withLock { state in
            guard state[project.name]?.refreshQueued == false else { return false }
            state[project.name]?.refreshQueued = true
            return true
        }
        guard queue else { return }
        Task {
            try? await locks.withLock(project.name) { () throws(WorktreeError) in
                let repository = layout.repository(project)
                let fetched = (try? await fetch(repository)) != nil
                checked.withLock { state in
                    state[project.name]?.refreshQueued = false
                    if fetched { state[project.name]?.fetchedAt = ContinuousClock.now }
                }
            }
            // Origin's default branch may have moved: ready worktrees at the old commit are replaced.
            refillPool(project)
        }
    }

    // MARK: The pool of ready worktrees

    /// A new task's worktree made the usual way costs `git worktree add`, which runs `branch`, `symbolic-ref` and
    /// `reset --hard` as three more git processes and checks out every file. A ready worktree — detached at origin's
    /// default branch, made in the background — turns that into `checkout -b` and `worktree move`: two processes
    /// and no file written. Used only when its commit is where the new branch must start.
    private func takePooled(_ project: GitProject, commit: String) -> String? {
        pool.withLock { state in
            guard let index = state[project.name]?.entries.firstIndex(where: { $0.commit == commit }) else {
                return nil
            }
            return state[project.name]?.entries.remove(at: index).path
        }
    }

    /// Tops up `project`'s ready worktrees in the background. The worker calls it once a run has started, so the
    /// checkout never competes with the launch it was made to speed up.
    func replenish(_ project: GitProject) {
        refillPool(project)
    }

    /// Queues one pass (after the current holder of the project's lock) that drops ready worktrees not at origin's
    /// default branch and makes new ones up to `poolSize`. Failures only leave the pool smaller.
    private func refillPool(_ project: GitProject) {
        guard poolSize > 0 else { return }
        let queue = pool.withLock { state in
            guard state[project.name]?.refillQueued != true else { return false }
            state[project.name, default: PoolState()].refillQueued = true
            return true
        }
        guard queue else { return }
        Task {
            try? await locks.withLock(project.name) { () throws(WorktreeError) in
                defer { pool.withLock { $0[project.name]?.refillQueued = false } }
                let repository = layout.repository(project)
                let directory = layout.pool(project)
                try await clearLeftoversLocked(project, repository: repository)
                let start = "refs/remotes/origin/\(project.defaultBranch)"
                guard let commit = try await git.resolve(refs: [start], in: repository)[start] else { return }
                let stale = pool.withLock { state in
                    let old = state[project.name]?.entries.filter { $0.commit != commit } ?? []
                    state[project.name]?.entries.removeAll { $0.commit != commit }
                    return old
                }
                for entry in stale {
                    _ = try? await git.run(["worktree", "remove", "--force", entry.path], at: .repository(repository))
                }
                try Self.makeDirectory(layout.worktrees + "/.pool")
                try Self.makeDirectory(directory)
                // Ready worktrees pay off on an idle project; on a busy one each would be a second checkout per
                // task, made while tasks wait for the lock. Refilling stops as soon as anyone waits.
                while (pool.withLock { $0[project.name]?.entries.count ?? 0 }) < poolSize,
                    !locks.hasWaiters(project.name)
                {
                    let path = directory + "/" + Self.randomSuffix()
                    try await addDetachedWorktree(path, at: commit, repository: repository)
                    pool.withLock { $0[project.name]?.entries.append((path, commit)) }
                }
            }
        }
    }

    /// `git worktree add --detach PATH COMMIT` in the steps git itself takes, minus the part that grows with the
    /// number of worktrees (git reads every worktree's record first: 20 ms with 10 worktrees, 115 ms with 1,000):
    /// the record `worktrees/<name>` (`gitdir`, `commondir`, `HEAD`), locked while it is made so that no prune takes
    /// it, the worktree's `.git`, then `git reset --hard` in the worktree for its index and files — one process.
    /// The record's name is the path's last component (a pool entry's random suffix, a task's `<issue>-<slug>`); if
    /// a record of that name exists or cannot be made as expected, git makes the worktree.
    private func addDetachedWorktree(
        _ path: String, at commit: String, repository: String
    ) async throws(WorktreeError) {
        let record = repository + "/worktrees/" + (path.split(separator: "/").last.map(String.init) ?? "")
        if Self.isAbandoned(record) { try? FileManager.default.removeItem(atPath: record) }
        let made =
            RefFiles.isObjectName(commit) && path.hasPrefix("/") && !FileManager.default.fileExists(atPath: record)
            && (try? Self.makeDirectory(repository + "/worktrees")) != nil && mkdir(record, 0o777) == 0
        guard made else {
            try await git.check(["worktree", "add", "--quiet", "--detach", path, commit], at: .repository(repository))
            return
        }
        // Each file through a lock file and a rename, as git writes them, and not fsynced: FileManager.createFile
        // fsyncs each one, five per worktree; a record cut short by a crash stays `locked` and is cleared as abandoned.
        func write(_ file: String, _ text: String) -> Bool { RefFiles.replace(file, with: text) }
        do throws(WorktreeError) {
            // HEAD first, naming a commit that exists: other git processes read every worktree's HEAD, and a test's
            // `git fetch` once failed with `bad object worktrees/<id>/HEAD` while `git worktree add` (whose first HEAD
            // is a placeholder) was making a worktree beside it.
            guard write(record + "/locked", "initializing\n"), write(record + "/HEAD", "\(commit)\n"),
                write(record + "/commondir", "../..\n"), mkdir(path, 0o777) == 0,
                write(path + "/.git", "gitdir: \(record)\n"), write(record + "/gitdir", "\(path)/.git\n")
            else {
                throw WorktreeError(.environment, "cannot write the worktree record \(record): \(Self.errnoText())")
            }
            try await git.check(["reset", "--hard", "--quiet", "--no-recurse-submodules"], at: .worktree(path))
            unlink(record + "/locked")
        } catch {
            try? FileManager.default.removeItem(atPath: path)
            try? FileManager.default.removeItem(atPath: record)
            throw error
        }
    }

    /// Clears, once per process and project, what an earlier worker process left: its ready worktrees (they hold
    /// nothing) and the records of worktrees it was still making when it died (`isAbandoned`), which a prune keeps
    /// and which make `git worktree add` refuse their path. Called with the project's lock held.
    private func clearLeftoversLocked(_ project: GitProject, repository: String) async throws(WorktreeError) {
        guard pool.withLock({ $0[project.name]?.cleared }) != true else { return }
        try? FileManager.default.removeItem(atPath: layout.pool(project))
        Self.removeAbandonedRecords(in: repository)
        try await prune(project, repository)
        pool.withLock { $0[project.name, default: PoolState()].cleared = true }
    }

    /// True if `record` (`worktrees/<name>`) is a worktree whose making was cut short: `locked` with the reason git
    /// and `addDetachedWorktree` give while making one, and its worktree directory (named by `gitdir`) never made or
    /// gone. Git's prune keeps locked records, so nothing else removes these.
    private static func isAbandoned(_ record: String) -> Bool {
        guard contents(of: record + "/locked") == "initializing" else { return false }
        guard let gitdir = contents(of: record + "/gitdir"), gitdir.hasSuffix("/.git") else { return true }
        return !FileManager.default.fileExists(atPath: String(gitdir.dropLast("/.git".count)))
    }

    /// Removes the abandoned records in `repository` (see `isAbandoned`).
    private static func removeAbandonedRecords(in repository: String) {
        let root = repository + "/worktrees"
        for name in (try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []
        where isAbandoned(root + "/" + name) {
            try? FileManager.default.removeItem(atPath: root + "/" + name)
        }
    }

    /// A fetch that fails is tried once more if stale locks were removed (`removeStaleRepositoryLocks`): a git
    /// killed mid-fetch — at its timeout, or with an earlier worker — leaves `packed-refs.lock` or a ref's lock, and
    /// every later fetch of the project would fail on it. The sweep runs only after a failure, so a fetch that works
    /// costs no walk of the refs.
    private func fetch(_ repository: String) async throws(WorktreeError) {
        let arguments = ["fetch", "--quiet", "--prune", "--no-tags", "origin", "+refs/heads/*:refs/remotes/origin/*"]
        do {
            try await git.check(arguments, at: .repository(repository), network: true)
        } catch {
            guard Self.removeStaleRepositoryLocks(repository) > 0 else { throw error }
            try await git.check(arguments, at: .repository(repository), network: true)
        }
    }

    /// Removes the repository's own stale locks (`RefFiles.removeIfStale`): the `*.lock` files at its top
    /// (`packed-refs`, `config`, `shallow`, `HEAD`, …) and under `refs/`. Worktree records are swept per task
    /// (`removeStaleLocks`). Returns how many it removed.
    private static func removeStaleRepositoryLocks(_ repository: String) -> Int {
        var locks = lockFiles(in: repository)
        if let refs = FileManager.default.enumerator(atPath: repository + "/refs") {
            for case let name as String in refs where name.hasSuffix(".lock") {
                locks.append(repository + "/refs/" + name)
            }
        }
        return locks.filter { RefFiles.removeIfStale($0) }.count
    }

    // MARK: Worktrees

    /// Fetches, then returns the worktree of `branch`: the existing one if it is a valid worktree on that branch,
    /// else a new one on the branch (continuing the local branch, or origin's copy if that is ahead, or starting
    /// from origin's default branch). Anything else found at the path is quarantined first.
    func prepareWorktree(
        _ project: GitProject, branch: BranchName, now: Date = Date()
    ) async throws(WorktreeError)
        -> PreparedWorktree
    {
        try await branchLocks.withLock(Self.key(project, branch)) { () throws(WorktreeError) in
            if let ready = await takeReady(project, branch: branch) { return ready }
            return try await locks.withLock(project.name) { () throws(WorktreeError) in
                try await prepareWorktreeLocked(project, branch: branch, now: now)
            }
        }
    }

    /// `prepareWorktree`'s path for the common case, which does not wait for the project's lock (a fetch, a refill
    /// or another task's `worktree add` may hold it for tens of milliseconds): a new branch, in a repository fetched
    /// within `fetchMaximumAge`, that starts where a ready worktree stands. Nil in any other case, and the caller goes
    /// the usual way. No `git worktree prune` may run while a worktree is renamed but its record not yet rewritten
    /// (it would drop the record), so every prune and this path hold the project's prune lock.
    private func takeReady(_ project: GitProject, branch: BranchName) async -> PreparedWorktree? {
        let repository = layout.repository(project)
        let path = layout.worktree(project, branch)
        guard poolSize > 0, let known = checked.withLock({ $0[project.name] }), known.url == project.url,
            case let age = ContinuousClock.now - known.fetchedAt, age < fetchMaximumAge,
            !FileManager.default.fileExists(atPath: path)
        else { return nil }
        let start = "refs/remotes/origin/\(project.defaultBranch)"
        guard let heads = RefFiles.resolve([branch.localRef, branch.remoteRef, start], in: repository),
            heads[branch.localRef] == nil, heads[branch.remoteRef] == nil, let commit = heads[start]
        else { return nil }
        guard await useReadyWorktree(project, branch, at: commit, path: path, repository: repository) else {
            return nil
        }
        if age >= fetchFreshness { refreshInBackground(project) }
        return PreparedWorktree(path: path, branch: branch, reused: false)
    }

    /// Gives `branch` a ready worktree at `commit`, moved to `path` (`startBranch`, `moveWorktree`), under the
    /// project's prune lock. False if none is ready or a step failed: the ready worktree is then removed, and the
    /// usual way (`worktree add -B`) also takes back a branch created here.
    private func useReadyWorktree(
        _ project: GitProject, _ branch: BranchName, at commit: String, path: String, repository: String
    ) async -> Bool {
        let used = try? await pruneLocks.withLock(project.name) { () throws(WorktreeError) -> Bool in
            guard let ready = takePooled(project, commit: commit) else { return false }
            do throws(WorktreeError) {
                try Self.makeDirectory(layout.projectWorktrees(project))
                try await startBranch(branch, at: commit, in: ready, repository: repository)
                try await moveWorktree(ready, to: path, repository: repository)
                return true
            } catch {
                _ = try? await git.run(["worktree", "remove", "--force", ready], at: .repository(repository))
                return false
            }
        }
        return used == true
    }

    /// `git worktree prune`, under the project's prune lock (see `takeReady`).
    private func prune(_ project: GitProject, _ repository: String) async throws(WorktreeError) {
        _ = try await pruneLocks.withLock(project.name) { () throws(WorktreeError) in
            try await git.check(["worktree", "prune"], at: .repository(repository))
        }
    }

    private func prepareWorktreeLocked(
        _ project: GitProject, branch: BranchName, now: Date
    ) async throws(WorktreeError) -> PreparedWorktree {
        let repository = try await ensureCloneLocked(project)
        // A ready worktree of an earlier process may still have this branch checked out (it died between the two
        // steps of taking it), and a record it was making may still name this path.
        try await clearLeftoversLocked(project, repository: repository)
        let path = layout.worktree(project, branch)
        if FileManager.default.fileExists(atPath: path) {
            if try await isWorktree(path, of: repository, on: branch) {
                Self.removeStaleLocks(worktree: path, branch: branch, repository: repository)
                return PreparedWorktree(path: path, branch: branch, reused: true)
            }
            _ = try await quarantineLocked(path, project, branch, repository: repository, now: now)
            Self.removeAbandonedRecords(in: repository)
        }
        try Self.makeDirectory(layout.projectWorktrees(project))

        let start = "refs/remotes/origin/\(project.defaultBranch)"
        let heads = try await git.resolve(refs: [branch.localRef, branch.remoteRef, start], in: repository)
        let local = heads[branch.localRef]
        let remote = heads[branch.remoteRef]
        var arguments = ["worktree", "add", "--quiet"]
        if let local {
            if let remote, local != remote, try await git.isAncestor(local, of: remote, in: repository) {
                arguments += ["-B", branch.name, path, branch.remoteRef]  // origin is ahead: fast-forward
            } else {
                arguments += [path, branch.name]
            }
        } else if remote != nil {
            arguments += ["--no-track", "-b", branch.name, path, branch.remoteRef]
        } else {
            guard let startCommit = heads[start] else {
                throw WorktreeError(
                    .missingBranch, "origin \(project.url) has no branch \(project.defaultBranch) to start from")
            }
            // Another operation (a refill) may have made one while this prepare waited for the project's lock.
            if await useReadyWorktree(project, branch, at: startCommit, path: path, repository: repository) {
                return PreparedWorktree(path: path, branch: branch, reused: false)
            }
            // No ready worktree: made in place the same way (one `git reset --hard` instead of `worktree add`'s
            // four processes, which also read every worktree's record).
            do throws(WorktreeError) {
                try await addDetachedWorktree(path, at: startCommit, repository: repository)
                try await startBranch(branch, at: startCommit, in: path, repository: repository)
                return PreparedWorktree(path: path, branch: branch, reused: false)
            } catch {
                _ = try? await git.run(["worktree", "remove", "--force", path], at: .repository(repository))
                try? FileManager.default.removeItem(atPath: path)
            }
            arguments += ["--no-track", "-B", branch.name, path, start]
        }
        let added = try await git.run(arguments, at: .repository(repository))
        if !added.status.isSuccess {
            // A worktree directory deleted by hand stays registered (and its branch checked out) until pruned.
            // Pruning is needed that rarely, so it is done only when an add fails, then the add is retried once.
            try await prune(project, repository)
            try await git.check(arguments, at: .repository(repository))
        }
        return PreparedWorktree(path: path, branch: branch, reused: false)
    }

    /// Commits whatever the agent left in `branch`'s worktree (tracked or not, ignored files excepted), then pushes
    /// the branch to origin unless origin's copy of it or origin's default branch already holds its head.
    ///
    /// Only the push holds the project's lock. Checking and committing touch the task's own worktree, index and
    /// branch, which no other operation of the project writes (they hold the branch's lock), and git makes its
    /// shared writes — objects, the branch's ref — safe against the other git processes in the repository, as it
    /// does for the agents that commit in their worktrees on their own.
    func commitAndPush(
        _ project: GitProject, branch: BranchName, message: String
    ) async throws(WorktreeError)
        -> CommitOutcome
    {
        try await branchLocks.withLock(Self.key(project, branch)) { () throws(WorktreeError) in
            let repository = layout.repository(project)
            let path = layout.worktree(project, branch)
            guard try await isWorktree(path, of: repository, on: branch) else {
                throw WorktreeError(.unexpectedState, "\(path) is not a worktree on \(branch.name)")
            }
            var (dirty, head) = try await worktreeStatus(path)
            var committed = false
            if dirty {
                try await git.check(["add", "--all"], at: .worktree(path))
                try await git.check(
                    ["commit", "--quiet", "--no-verify", "-m", Self.commitMessage(message, branch: branch)],
                    at: .worktree(path))
                committed = true
                let refs = try await git.resolve(refs: [branch.localRef], in: repository)
                guard let after = refs[branch.localRef] else {
                    throw WorktreeError(.unexpectedState, "\(branch.name) has no commit after committing")
                }
                head = after
            }
            if head == nil {
                // Status output is kept to its tail: with enough changes its header is gone.
                head = try await git.check(["rev-parse", "--verify", "HEAD"], at: .worktree(path))
            }
            guard let head else { throw WorktreeError(.unexpectedState, "\(path) has no commit checked out") }
            var pushed = false
            if try await hasUnpushedCommits(head, project, branch, in: repository) {
                _ = try await locks.withLock(project.name) { () throws(WorktreeError) in
                    try await git.check(
                        ["push", "--quiet", "origin", "\(branch.localRef):\(branch.localRef)"],
                        at: .repository(repository), network: true)
                }
                pushed = true
            }
            return CommitOutcome(committed: committed, pushed: pushed, head: head)
        }
    }

    /// Whether `head` must be pushed: neither origin's copy of the branch nor origin's default branch holds it.
    /// Only those two count — a byte-identical commit on another task's branch (same tree, parent, message and
    /// second) does not put this branch on origin. A head equal to one of them needs no git process to tell.
    private func hasUnpushedCommits(
        _ head: String, _ project: GitProject, _ branch: BranchName, in repository: String
    ) async throws(WorktreeError) -> Bool {
        let known = try await git.resolve(
            refs: [branch.remoteRef, "refs/remotes/origin/\(project.defaultBranch)"], in: repository)
        if known.values.contains(head) { return false }
        // Object names, not ref names: a concurrent `fetch --prune` may delete origin's copy of the branch meanwhile.
        return try await unpushedCommitCount([head], in: repository, excluding: Set(known.values).sorted()) > 0
    }

    /// Merges origin's copy of `branch` into origin's `target` (a merge commit, `--no-ff`) in a temporary detached
    /// worktree and pushes `target`. A conflict throws `mergeConflict` and pushes nothing.
    func mergeBranch(
        _ project: GitProject, branch: BranchName, into target: String
    ) async throws(WorktreeError)
        -> MergeOutcome
    {
        try await locks.withLock(project.name) { () throws(WorktreeError) in
            let repository = try await ensureCloneLocked(project, fresh: true)
            try await git.check(["check-ref-format", "--branch", target], at: .anywhere)
            guard target.first != "-" else { throw WorktreeError(.missingBranch, "\(target) is not a branch name") }
            let targetRef = "refs/remotes/origin/\(target)"
            guard let targetHead = try await git.resolve(targetRef, in: repository) else {
                throw WorktreeError(.missingBranch, "origin \(project.url) has no branch \(target)")
            }
            guard let branchHead = try await git.resolve(branch.remoteRef, in: repository) else {
                throw WorktreeError(.missingBranch, "\(branch.name) was never pushed to origin \(project.url)")
            }
            if try await git.isAncestor(branchHead, of: targetHead, in: repository) {
                return MergeOutcome(head: targetHead, alreadyMerged: true)
            }

            try Self.makeDirectory(layout.merges)
            let scratch = layout.merges + "/\(project.name)-\(Self.randomSuffix())"
            try await git.check(
                ["worktree", "add", "--quiet", "--detach", scratch, targetHead], at: .repository(repository))
            do throws(WorktreeError) {
                let merge = try await git.run(
                    [
                        "merge", "--no-ff", "--no-edit", "-m", "Merge branch '\(branch.name)' into \(target)",
                        branchHead,
                    ],
                    at: .worktree(scratch))
                guard merge.status.isSuccess else {
                    let conflicted = try await git.check(
                        ["diff", "--name-only", "--diff-filter=U"], at: .worktree(scratch))
                    _ = try? await git.run(["merge", "--abort"], at: .worktree(scratch))
                    if conflicted.isEmpty {
                        throw WorktreeError(
                            .gitFailed, "git merge of \(branch.name) into \(target) failed (\(merge.status))",
                            gitStderr: Git.tail(merge.standardErrorText + merge.standardOutputText))
                    }
                    let files = conflicted.split(separator: "\n").prefix(20).joined(separator: ", ")
                    throw WorktreeError(
                        .mergeConflict, "\(branch.name) conflicts with \(target) in \(files); nothing was pushed",
                        gitStderr: Git.tail(merge.standardOutputText))
                }
                let head = try await git.check(["rev-parse", "--verify", "HEAD"], at: .worktree(scratch))
                try await git.check(
                    ["push", "--quiet", "origin", "HEAD:refs/heads/\(target)"], at: .worktree(scratch), network: true)
                await discardScratch(scratch, project, repository: repository)
                return MergeOutcome(head: head, alreadyMerged: false)
            } catch {
                await discardScratch(scratch, project, repository: repository)
                throw error
            }
        }
    }

    /// Removes `branch`'s worktree if everything in it is on origin; otherwise moves it to the quarantine (the
    /// branch and its commits stay in the repository) and unregisters it, so that the branch can be checked out
    /// again. Never deletes work.
    func removeWorktree(
        _ project: GitProject, branch: BranchName, now: Date = Date()
    ) async throws(WorktreeError)
        -> WorktreeRemoval
    {
        try await branchLocks.withLock(Self.key(project, branch)) { () throws(WorktreeError) in
            try await locks.withLock(project.name) { () throws(WorktreeError) in
                try await removeWorktreeLocked(project, branch: branch, now: now)
            }
        }
    }

    private func removeWorktreeLocked(
        _ project: GitProject, branch: BranchName, now: Date
    ) async throws(WorktreeError) -> WorktreeRemoval {
        let repository = layout.repository(project)
        let path = layout.worktree(project, branch)
        let repositoryExists = FileManager.default.fileExists(atPath: repository)
        guard FileManager.default.fileExists(atPath: path) else {
            if repositoryExists { try await prune(project, repository) }
            return .absent
        }
        var reasons: [String] = []
        if !repositoryExists {
            reasons.append("the project repository \(repository) is missing")
        } else if try await !isWorktree(path, of: repository, on: branch) {
            reasons.append("not a worktree of \(repository) on \(branch.name)")
        } else {
            if try await worktreeStatus(path).dirty { reasons.append("uncommitted changes") }
            let unpushed = try await unpushedCommitCount(["HEAD", branch.localRef], in: repository, from: path)
            if unpushed > 0 { reasons.append("\(unpushed) commit(s) not on origin") }
        }
        if reasons.isEmpty {
            try await git.check(["worktree", "remove", path], at: .repository(repository))
            // Every commit of the branch is on origin; a later prepare recreates it from there.
            try await git.check(["branch", "--quiet", "-D", branch.name], at: .repository(repository))
            return .removed
        }
        let destination = try await quarantineLocked(
            path, project, branch, repository: repositoryExists ? repository : nil, now: now)
        return .quarantined(path: destination, reasons: reasons)
    }

    // MARK: Helpers (called with the project's lock held)

    /// Moves `path` into the quarantine and unregisters the worktree, which unlocks its branch.
    private func quarantineLocked(
        _ path: String, _ project: GitProject, _ branch: BranchName, repository: String?, now: Date
    ) async throws(WorktreeError) -> String {
        let destination = layout.quarantine(project, branch, at: now)
        try Self.makeDirectory(layout.quarantine + "/\(project.name)")
        guard rename(path, destination) == 0 else {
            throw WorktreeError(.environment, "cannot move \(path) to \(destination): \(Self.errnoText())")
        }
        if let repository {
            try await prune(project, repository)
        }
        return destination
    }

    /// What `git checkout -b` does in a ready worktree detached at `commit`, without its process: create the branch
    /// at `commit` and point the worktree's HEAD (`worktrees/<id>/HEAD`) at it, each file written under git's lock
    /// protocol (`RefFiles.replace`). The index and the files stay as they are: the commit, and so the tree, is the
    /// same. The caller found the branch absent under the branch's and the project's locks. If anything is not as
    /// expected, git does it (`-B`: it also takes back a branch created here before a later step failed).
    private func startBranch(
        _ branch: BranchName, at commit: String, in worktree: String, repository: String
    ) async throws(WorktreeError) {
        if let record = Self.worktreeRecord(of: worktree, repository: repository),
            Self.contents(of: record + "/HEAD") == commit,
            RefFiles.create(branch.localRef, at: commit, in: repository),
            RefFiles.replace(record + "/HEAD", with: "ref: \(branch.localRef)\n")
        {
            return
        }
        try await git.check(["checkout", "--quiet", "-B", branch.name], at: .worktree(worktree))
    }

    /// Removes the locks that a git process or a worker killed mid-update left on a task's files — in the worktree's
    /// record (`index.lock`, `HEAD.lock`, …) and on the branch's local and remote-tracking refs — once they are
    /// `RefFiles.staleLockAge` old; left there, each would fail every later commit, push or fetch of the task.
    private static func removeStaleLocks(worktree: String, branch: BranchName, repository: String) {
        var locks = [repository + "/" + branch.localRef + ".lock", repository + "/" + branch.remoteRef + ".lock"]
        if let record = worktreeRecord(of: worktree, repository: repository) { locks += lockFiles(in: record) }
        for lock in locks { RefFiles.removeIfStale(lock) }
    }

    /// The paths of the `*.lock` files directly in `directory`.
    private static func lockFiles(in directory: String) -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return names.filter { $0.hasSuffix(".lock") }.map { directory + "/" + $0 }
    }

    /// The absolute path of `worktree`'s record in `repository` (`worktrees/<id>`), if its `.git` file names one by
    /// an absolute path that points back at it.
    private static func worktreeRecord(of worktree: String, repository: String) -> String? {
        guard let link = contents(of: worktree + "/.git"), link.hasPrefix("gitdir: /") else { return nil }
        let record = String(link.dropFirst("gitdir: ".count))
        guard samePath(parentDirectory(of: record), repository + "/worktrees"),
            contents(of: record + "/gitdir") == worktree + "/.git"
        else { return nil }
        return record
    }

    /// What `git worktree move` does for a worktree whose links are absolute paths, without its process: rename the
    /// directory, then point the worktree's record in the repository (`worktrees/<id>/gitdir`, gitrepository-layout(5))
    /// at the new place; the worktree's own `.git` names the record and does not change. Anything else — relative
    /// links (`worktree.useRelativePaths`), a locked worktree, a failed step — is left to git.
    private func moveWorktree(_ source: String, to destination: String, repository: String) async throws(WorktreeError)
    {
        if let record = Self.worktreeRecord(of: source, repository: repository),
            !FileManager.default.fileExists(atPath: record + "/locked"),
            rename(source, destination) == 0
        {
            if RefFiles.replace(record + "/gitdir", with: destination + "/.git\n") { return }
            guard rename(destination, source) == 0 else {
                throw WorktreeError(
                    .environment,
                    "cannot move \(destination) back to \(source) after a failed move: \(Self.errnoText())")
            }
        }
        try await git.check(["worktree", "move", source, destination], at: .repository(repository))
    }

    /// True if `path` is the top of a worktree of `repository` whose HEAD is `branch`.
    private func isWorktree(
        _ path: String, of repository: String, on branch: BranchName
    ) async throws(WorktreeError)
        -> Bool
    {
        // Read from git's own files rather than asked of two git processes: `path/.git` names the worktree's
        // administrative directory under the repository, which points back at `path/.git` and holds its HEAD.
        guard let link = Self.contents(of: path + "/.git"), link.hasPrefix("gitdir: ") else { return false }
        let administrative = Self.absolute(String(link.dropFirst("gitdir: ".count)), from: path)
        guard Self.samePath(Self.parentDirectory(of: administrative), repository + "/worktrees"),
            let back = Self.contents(of: administrative + "/gitdir"),
            Self.samePath(Self.absolute(back, from: administrative), path + "/.git"),
            let head = Self.contents(of: administrative + "/HEAD")
        else { return false }
        return head == "ref: " + branch.localRef
    }

    /// A small file's text without its final newline, or nil if it cannot be read.
    private static func contents(of path: String) -> String? {
        guard let data = FileManager.default.contents(atPath: path), data.count < 4096 else { return nil }
        var text = String(decoding: data, as: UTF8.self)
        while text.hasSuffix("\n") { text.removeLast() }
        return text
    }

    /// `path` as git wrote it (absolute, or relative to `directory` with `worktree.useRelativePaths`).
    private static func absolute(_ path: String, from directory: String) -> String {
        path.hasPrefix("/") ? path : directory + "/" + path
    }

    private static func parentDirectory(of path: String) -> String {
        var trimmed = path
        while trimmed.count > 1, trimmed.hasSuffix("/") { trimmed.removeLast() }
        guard let slash = trimmed.lastIndex(of: "/") else { return "." }
        return slash == trimmed.startIndex ? "/" : String(trimmed[..<slash])
    }

    /// Whether the worktree at `path` has changes to commit (tracked or not, ignored files excepted), and its HEAD
    /// commit (nil before the first commit), from one `git status`.
    private func worktreeStatus(_ path: String) async throws(WorktreeError) -> (dirty: Bool, head: String?) {
        let status = try await git.run(
            ["status", "--porcelain=v2", "--branch", "-z", "--untracked-files=all", "--ignore-submodules=none"],
            at: .worktree(path))
        guard status.status.isSuccess else {
            throw WorktreeError(
                .gitFailed, "git status failed in \(path) (\(status.status))",
                gitStderr: Git.tail(status.standardErrorText))
        }
        // Header lines start with `# `; every other entry is a change. `# branch.oid` is the HEAD commit, or
        // `(initial)` on a branch with no commit yet.
        var dirty = false
        var head: String?
        for entry in status.standardOutput.split(separator: 0) where !entry.isEmpty {
            guard entry.starts(with: Array("# ".utf8)) else {
                dirty = true
                continue
            }
            let text = String(decoding: entry, as: UTF8.self)
            if text.hasPrefix("# branch.oid "), RefFiles.isObjectName(String(text.dropFirst(13))) {
                head = String(text.dropFirst(13))
            }
        }
        return (dirty, head)
    }

    /// How many commits reachable from `revisions` are not reachable from `excluding` (by default: any branch of
    /// origin, as last fetched or pushed).
    private func unpushedCommitCount(
        _ revisions: [String], in repository: String, from worktree: String? = nil,
        excluding: [String] = ["--remotes=origin"]
    ) async throws(WorktreeError) -> Int {
        let location: Git.Location = worktree.map { .worktree($0) } ?? .repository(repository)
        let count = try await git.check(
            ["rev-list", "--count"] + revisions + ["--not"] + excluding + ["--"], at: location)
        guard let value = Int(count) else {
            throw WorktreeError(.gitFailed, "git rev-list --count printed \(String(reflecting: count))")
        }
        return value
    }

    private func discardScratch(_ scratch: String, _ project: GitProject, repository: String) async {
        _ = try? await git.run(["worktree", "remove", "--force", scratch], at: .repository(repository))
        try? FileManager.default.removeItem(atPath: scratch)
        try? await prune(project, repository)
    }

    private static func key(_ project: GitProject, _ branch: BranchName) -> String {
        project.name + "\u{0}" + branch.name
    }

    private static func commitMessage(_ message: String, branch: BranchName) -> String {
        let cleaned = message.replacingOccurrences(of: "\0", with: "")
        return cleaned.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty
            ? "Bosun: work on \(branch.name)" : cleaned
    }

    private static func samePath(_ reported: String, _ expected: String) -> Bool {
        guard let a = realpath(reported, nil) else { return false }
        defer { free(a) }
        guard let b = realpath(expected, nil) else { return false }
        defer { free(b) }
        return strcmp(a, b) == 0
    }

    static func makeDirectory(_ path: String) throws(WorktreeError) {
        do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        } catch {
            throw WorktreeError(.environment, "cannot create directory \(path)", cause: error)
        }
    }

    private static func randomSuffix() -> String {
        String(UInt64.random(in: 0...UInt64.max), radix: 36)
    }

    private static func errnoText() -> String { String(cString: strerror(errno)) }
}
