import Config
import Foundation

/// A project's repository as the worker needs it: a name that is safe as a directory name, where origin is, and the
/// branch task branches start from and merge into.
struct GitProject: Sendable, Equatable {
    let name: String
    /// Any URL or path git can fetch from.
    let url: String
    let defaultBranch: String

    /// Checks what can be checked without git; `WorktreeManager` also asks git about `defaultBranch`.
    init(name: String, url: String, defaultBranch: String = "main") throws(WorktreeError) {
        let nameIsSafe =
            !name.isEmpty && name.utf8.count <= 100 && name.first != "." && name.first != "-"
            && name.unicodeScalars.allSatisfy {
                $0.isASCII
                    && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || "._-".unicodeScalars.contains($0))
            }
        guard nameIsSafe else {
            throw WorktreeError(
                .invalidProject,
                "project name \(String(reflecting: name)) must be ASCII letters, digits, '.', '_' or '-', not starting with '.' or '-'"
            )
        }
        guard !url.isEmpty, url.first != "-", !url.unicodeScalars.contains(where: { $0.value < 0x20 || $0 == "\u{7F}" })
        else {
            throw WorktreeError(
                .invalidProject, "project \(name): repository URL \(String(reflecting: url)) is not usable")
        }
        guard !defaultBranch.isEmpty, defaultBranch.first != "-",
            !defaultBranch.unicodeScalars.contains(where: { $0.value <= 0x20 || $0 == "\u{7F}" })
        else {
            throw WorktreeError(
                .invalidProject,
                "project \(name): default branch \(String(reflecting: defaultBranch)) is not a branch name")
        }
        self.name = name
        self.url = Self.absolute(url)
        self.defaultBranch = defaultBranch
    }

    /// The project as configured.
    init(_ config: ProjectConfig) throws(WorktreeError) {
        try self.init(name: config.name, url: config.repository.url, defaultBranch: config.repository.defaultBranch)
    }

    /// A relative local path made absolute against the current directory, since git runs inside the project
    /// repository; URLs (`scheme://…`) and scp-like `host:path` addresses are kept as they are.
    private static func absolute(_ url: String) -> String {
        if url.hasPrefix("/") || url.contains("://") { return url }
        if let colon = url.firstIndex(of: ":"), url.firstIndex(of: "/").map({ colon < $0 }) ?? true { return url }
        let directory = FileManager.default.currentDirectoryPath
        return directory.hasSuffix("/") ? directory + url : directory + "/" + url
    }
}

/// Where repositories and worktrees live under the state directory.
///
/// ```
/// repos/<project>.git                             bare repository; origin's branches under refs/remotes/origin/*
/// worktrees/<project>/<number>-<slug>             one worktree per task branch
/// worktrees/.quarantine/<project>/<dir>-<time>    worktrees that held work not on origin, kept for a human
/// worktrees/.merge/<project>-<random>             short-lived detached worktrees for local merges
/// ```
struct WorktreeLayout: Sendable {
    /// Absolute, with symbolic links resolved.
    let stateDirectory: String

    var repositories: String { stateDirectory + "/repos" }
    var worktrees: String { stateDirectory + "/worktrees" }
    var quarantine: String { worktrees + "/.quarantine" }
    var merges: String { worktrees + "/.merge" }
    /// Detached worktrees made ahead of need, per project (`WorktreeManager`'s pool).
    func pool(_ project: GitProject) -> String { worktrees + "/.pool/\(project.name)" }

    func repository(_ project: GitProject) -> String { repositories + "/\(project.name).git" }

    func projectWorktrees(_ project: GitProject) -> String { worktrees + "/\(project.name)" }

    func worktree(_ project: GitProject, _ branch: BranchName) -> String {
        projectWorktrees(project) + "/\(branch.directoryName)"
    }

    /// A fresh quarantine path for `branch`'s worktree, named after the UTC time `now`.
    func quarantine(_ project: GitProject, _ branch: BranchName, at now: Date) -> String {
        let base = quarantine + "/\(project.name)/\(branch.directoryName)-\(Self.timestamp(now))"
        var candidate = base
        var suffix = 1
        while FileManager.default.fileExists(atPath: candidate) {
            candidate = "\(base)-\(suffix)"
            suffix += 1
        }
        return candidate
    }

    /// `20250131T235959Z`.
    static func timestamp(_ date: Date) -> String {
        var seconds = time_t(date.timeIntervalSince1970.rounded(.down))
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
        return "\(parts.tm_year + 1900)\(two(parts.tm_mon + 1))\(two(parts.tm_mday))T"
            + "\(two(parts.tm_hour))\(two(parts.tm_min))\(two(parts.tm_sec))Z"
    }
}
