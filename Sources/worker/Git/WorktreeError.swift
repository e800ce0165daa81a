/// What went wrong preparing, committing, pushing, merging or removing a task's git worktree.
struct WorktreeError: Error, CustomStringConvertible, Sendable {
    /// The kind of failure; callers branch on it.
    enum Code: String, Sendable {
        /// The issue number has no letter or digit to build a branch name from.
        case invalidIssueNumber
        /// A project name that cannot be a directory name, or an unusable URL or default branch.
        case invalidProject
        /// git could not be started, or a file system step failed.
        case environment
        /// A git command exited nonzero.
        case gitFailed
        /// A git command outlived its timeout and was killed.
        case timedOut
        /// The default branch (or the branch to merge) does not exist on origin.
        case missingBranch
        /// The worktree is not on the task branch, or is not a worktree of this project's repository.
        case unexpectedState
        /// `git merge` stopped on conflicts; nothing was pushed.
        case mergeConflict
    }

    var code: Code
    var message: String
    /// The last lines git wrote to stderr, if a git command failed.
    var gitStderr: String
    /// The underlying error, if any.
    var cause: (any Error & Sendable)?

    init(_ code: Code, _ message: String, gitStderr: String = "", cause: (any Error & Sendable)? = nil) {
        self.code = code
        self.message = message
        self.gitStderr = gitStderr
        self.cause = cause
    }

    var description: String {
        var text = "\(code.rawValue): \(message)"
        if !gitStderr.isEmpty { text += "\n" + gitStderr }
        if let cause { text += " (\(cause))" }
        return text
    }
}
