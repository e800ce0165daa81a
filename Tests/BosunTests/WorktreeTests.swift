import Foundation
import LinuxProcess
import Synchronization
import Testing
import Workflow

@testable import BosunWorker

#if canImport(Glibc)
import Glibc
#endif

/// A real origin (a bare repository with one commit on `main`), a state directory and a worktree manager, all in a
/// temporary directory.
private struct GitFixture {
    let directory = TemporaryDirectory("bosun-git")
    let origin: String
    let project: GitProject
    let manager: WorktreeManager

    init() async throws {
        origin = directory.file("origin.git")
        let seed = directory.file("seed")
        try await shellFreeGit(["init", "--quiet", "-b", "main", seed])
        try "hello\n".write(toFile: seed + "/README.md", atomically: true, encoding: .utf8)
        try await shellFreeGit(["add", "README.md"], in: seed)
        try await shellFreeGit(["commit", "--quiet", "-m", "initial"], in: seed)
        try await shellFreeGit(["clone", "--quiet", "--bare", seed, origin])
        project = try GitProject(name: "demo", url: origin, defaultBranch: "main")
        manager = try WorktreeManager(stateDirectory: directory.file("state"), git: Git(timeout: .seconds(30)))
    }

    /// A new manager over the same state directory: what a restarted worker sees.
    func restartedManager(
        fetchFreshness: Duration = .seconds(2), fetchMaximumAge: Duration = .seconds(60)
    ) throws -> WorktreeManager {
        try WorktreeManager(
            stateDirectory: directory.file("state"), git: Git(timeout: .seconds(30)), fetchFreshness: fetchFreshness,
            fetchMaximumAge: fetchMaximumAge)
    }

    /// A commit on origin's `main` made from a separate clone, as a human would push it.
    func pushToOriginMain(file: String, content: String) async throws {
        let clone = directory.file("human-\(UInt32.random(in: 0...UInt32.max))")
        try await shellFreeGit(["clone", "--quiet", origin, clone])
        try content.write(toFile: clone + "/" + file, atomically: true, encoding: .utf8)
        try await shellFreeGit(["add", file], in: clone)
        try await shellFreeGit(["commit", "--quiet", "-m", "human change"], in: clone)
        try await shellFreeGit(["push", "--quiet", "origin", "main"], in: clone)
    }

    func originHas(_ revision: String) async throws -> String? {
        let output = try await gitOutput(["--git-dir=\(origin)", "rev-parse", "--verify", "--quiet", revision])
        return output.status.isSuccess ? output.standardOutputText.trimmingCharacters(in: .whitespacesAndNewlines) : nil
    }

    func originFile(_ revision: String, _ path: String) async throws -> String? {
        let output = try await gitOutput(["--git-dir=\(origin)", "show", "\(revision):\(path)"])
        return output.status.isSuccess ? output.standardOutputText : nil
    }
}

/// git with a clean environment, run by argv through `CommandRunner`.
private func gitOutput(_ arguments: [String], in directory: String? = nil) async throws -> CommandOutput {
    let environment = [
        "PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin", "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": "/dev/null", "GIT_AUTHOR_NAME": "Human", "GIT_AUTHOR_EMAIL": "human@example.com",
        "GIT_COMMITTER_NAME": "Human", "GIT_COMMITTER_EMAIL": "human@example.com", "LC_ALL": "C",
    ]
    return try await CommandRunner.run(
        CommandInvocation(
            executable: "git", arguments: arguments, environment: environment, workingDirectory: directory,
            timeout: .seconds(30)))
}

@discardableResult
private func shellFreeGit(_ arguments: [String], in directory: String? = nil) async throws -> String {
    let output = try await gitOutput(arguments, in: directory)
    guard output.status.isSuccess else {
        throw TestFailure("git \(arguments) failed (\(output.status)): \(output.standardErrorText)")
    }
    return output.standardOutputText.trimmingCharacters(in: .whitespacesAndNewlines)
}

private func exists(_ path: String) -> Bool { FileManager.default.fileExists(atPath: path) }

@Suite("Worktrees")
struct WorktreeTests {
    // MARK: CommandRunner

    @Test("a command's exit status and both streams are captured, and output is bounded to its tail")
    func commandOutput() async throws {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        let result = try await CommandRunner.run(
            CommandInvocation(
                executable: "git", arguments: ["--version"], environment: ["PATH": path], timeout: .seconds(10)))
        #expect(result.status == .exited(code: 0))
        #expect(result.standardOutputText.hasPrefix("git version"))

        let failing = try await CommandRunner.run(
            CommandInvocation(
                executable: "git", arguments: ["no-such-subcommand"], environment: ["PATH": path],
                timeout: .seconds(10)))
        #expect(failing.status == .exited(code: 1))
        #expect(failing.standardErrorText.contains("no-such-subcommand"))

        let big = try await CommandRunner.run(
            CommandInvocation(
                executable: "head", arguments: ["-c", "200000", "/dev/zero"], environment: ["PATH": path],
                timeout: .seconds(10), outputLimit: 1000))
        #expect(big.status.isSuccess)
        #expect(big.standardOutput.count == 1000)
        #expect(big.truncated)

        await #expect(throws: LinuxProcessError.self) {
            _ = try await CommandRunner.run(
                CommandInvocation(executable: "no-such-program-bosun", arguments: [], environment: ["PATH": path]))
        }
    }

    @Test("a command that outlives its timeout is killed with its whole process group")
    func commandTimeout() async throws {
        let directory = TemporaryDirectory("bosun-runner")
        let marker = directory.file("grandchild.pid")
        let started = ContinuousClock.now
        // The shell starts a grandchild in the same group and records its pid, then both sleep.
        let result = try await CommandRunner.run(
            CommandInvocation(
                executable: "/bin/sh", arguments: ["-c", "sleep 30 & echo $! > \"$0\"; sleep 30", marker],
                environment: ["PATH": "/usr/bin:/bin"], timeout: .milliseconds(300)))
        #expect(result.timedOut)
        #expect(result.status == .signaled(signal: SIGKILL, coreDumped: false))
        #expect(ContinuousClock.now - started < .seconds(5))
        let grandchild = try #require(
            pid_t(try String(contentsOfFile: marker, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)))
        try await eventually(timeout: .seconds(5), "the grandchild to die") {
            ProcessTable.stat(of: grandchild).map { $0.isZombie } ?? true
        }
    }

    @Test("cancelling the calling task kills the command")
    func commandCancellation() async throws {
        let started = ContinuousClock.now
        let task = Task {
            try await CommandRunner.run(
                CommandInvocation(
                    executable: "sleep", arguments: ["30"], environment: ["PATH": "/usr/bin:/bin"],
                    timeout: .seconds(60)))
        }
        try await Task.sleep(for: .milliseconds(200))
        task.cancel()
        let result = try await task.value
        #expect(result.cancelled)
        #expect(!result.timedOut)
        #expect(ContinuousClock.now - started < .seconds(5))
    }

    // MARK: Branch names

    @Test("branch names are readable slugs of the issue number and title")
    func branchNames() throws {
        #expect(try BranchName(issue: "12", title: "Fix the login bug").name == "bosun/12-fix-the-login-bug")
        #expect(try BranchName(issue: "12", title: "Café crème: don't crash!").name == "bosun/12-cafe-creme-dont-crash")
        #expect(try BranchName(issue: "7", title: "Straße ＡＢＣ ﬁle").name == "bosun/7-strasse-abc-file")
        #expect(try BranchName(issue: "7", title: "").name == "bosun/7")
        #expect(try BranchName(issue: "7", title: "?!…—").directoryName == "7")
        #expect(try BranchName(issue: "PROJ-42", title: "x").name == "bosun/proj-42-x")
        #expect(try BranchName(issue: "../../etc", title: "passwd").name == "bosun/etc-passwd")
        let long = try BranchName(issue: "1", title: "word " + String(repeating: "abcdefgh ", count: 20))
        #expect(long.directoryName.count <= 1 + 1 + BranchName.maximumSlugLength)
        #expect(!long.directoryName.hasSuffix("-"))
        #expect(long.directoryName == "1-word-abcdefgh-abcdefgh-abcdefgh-abcdefgh")
        for hostile in ["", "   ", "../", "\u{0}", "-", "@{", "漢字"] {
            #expect(throws: WorktreeError.self) { try BranchName(issue: hostile, title: "title") }
        }
        #expect(BranchName(ref: "bosun/12-fix") == (try BranchName(issue: "12", title: "fix")))
        #expect(BranchName(ref: "bosun/../x") == nil)
        #expect(BranchName(ref: "main") == nil)
    }

    @Test("hostile titles and numbers give branches git accepts and directories under the root")
    func branchFuzz() async throws {
        var titles = [
            "../../../etc/passwd", "..", ".", "...", "-rf --force", "--upload-pack=touch /tmp/pwned", "a; rm -rf /",
            "$(touch /tmp/bosun-pwned)", "`touch /tmp/bosun-pwned`", "line1\nline2\r\nline3", "nul\u{0}byte",
            "@{-1}", "@", "branch.lock", "x.lock/y.lock", "a..b", "refs/heads/main", "HEAD", "~^:?*[\\",
            "trailing.", "trailing/", "/leading", "\u{202E}evil\u{202C}txt.exe", "zero\u{200B}width", "emoji 🚀🔥 rocket",
            "👨‍👩‍👧‍👦", "日本語のタイトル", "Привет мир", "عربى", "Ångström ǅ ǈ Ꞵ", "tab\tand\u{7F}del\u{1B}[31mred",
            "", "   ", "!!!???", "----", "..-..-..", String(repeating: "a", count: 10_000),
            String(repeating: "ab-", count: 4_000), String(repeating: "é", count: 10_000),
            String(repeating: "🚀", count: 3_000),
            "Ⅻ ½ ² ＦＵＬＬ", "İstanbul ıi", "a" + String(repeating: "\u{301}", count: 500),
        ]
        for _ in 0..<40 {
            let scalars = (0..<Int.random(in: 0...60)).compactMap { _ in Unicode.Scalar(UInt32.random(in: 0...0x2FFF)) }
            titles.append(String(String.UnicodeScalarView(scalars)))
        }
        let numbers = [
            "1", "42", "PROJ-7", "../1", "-1", "1/2", "1.lock", "1..2", "@{1}", " 9 ", "٣", "1\n2", "$(id)", "１２",
            String(repeating: "9", count: 500),
        ]
        let root = "/srv/bosun/worktrees/demo"
        var branches: [String] = []
        for (index, title) in titles.enumerated() {
            let number = numbers[index % numbers.count]
            let branch: BranchName
            do {
                branch = try BranchName(issue: number, title: title)
            } catch {
                // Only a number with no ASCII letter or digit (here the Arabic-Indic three) is refused.
                #expect(error.code == .invalidIssueNumber && number == "٣")
                continue
            }
            #expect(
                branch.name.unicodeScalars.allSatisfy {
                    ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "-" || $0 == "/"
                })
            let path = URL(fileURLWithPath: root + "/" + branch.directoryName).standardizedFileURL.path
            #expect(path.hasPrefix(root + "/"), "\(String(reflecting: title)) → \(path)")
            #expect(!path.dropFirst(root.count + 1).contains("/"))
            #expect(branch.directoryName != "." && branch.directoryName != "..")
            #expect(
                branch.directoryName.utf8.count <= BranchName.maximumNumberLength + 1 + BranchName.maximumSlugLength)
            #expect(BranchName(ref: branch.name) == branch)
            branches.append(branch.name)
        }
        // The real judge: git itself, run by argv, one invocation per name.
        for name in Set(branches) {
            let output = try await gitOutput(["check-ref-format", "--branch", name])
            #expect(output.status.isSuccess, "git rejects \(name): \(output.standardErrorText)")
            #expect(output.standardOutputText == name + "\n")
        }
        #expect(!exists("/tmp/bosun-pwned"))
    }

    @Test("TaskBranch names from the fuzz seeds: git accepts them, the worker reads them back")
    func taskBranchSeeds() async throws {
        // The task-branch fuzz target's seed corpus: `number\ntitle` per file (Fuzz/seeds/make-seeds.py).
        let corpus = URL(fileURLWithPath: fixtures).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Fuzz/corpus/task-branch").path
        let files = try FileManager.default.contentsOfDirectory(atPath: corpus).sorted()
        #expect(files.count >= 40)
        var inputs: [(issue: String, title: String)] = []
        for file in files {
            let bytes = Array(try #require(FileManager.default.contents(atPath: corpus + "/" + file)))
            let split = bytes.firstIndex(of: UInt8(ascii: "\n"))
            inputs.append(
                (
                    split.map { String(decoding: bytes[..<$0], as: UTF8.self) } ?? "7",
                    String(decoding: split.map { bytes[($0 + 1)...] } ?? bytes[...], as: UTF8.self)
                ))
        }
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<40 {
            let scalars = (0..<Int.random(in: 0...80, using: &generator)).compactMap { _ in
                Unicode.Scalar(UInt32.random(in: 0...0x1_F6FF, using: &generator))
            }
            inputs.append(
                ("\(Int.random(in: 1...99_999, using: &generator))", String(String.UnicodeScalarView(scalars))))
        }
        let root = "/srv/bosun/state/worktrees/demo"
        var names: Set<String> = []
        for (issue, title) in inputs {
            let name = TaskBranch.name(issue: issue, title: title)
            let directory = TaskBranch.directory(issue: issue, title: title)
            #expect(BranchName(ref: name)?.directoryName == directory, "the worker cannot read back \(name)")
            #expect(TaskBranch.directory(ofBranch: name) == directory)
            let path = URL(fileURLWithPath: root + "/" + directory).standardizedFileURL.path
            #expect(path.hasPrefix(root + "/") && !path.dropFirst(root.count + 1).contains("/"), "\(path)")
            names.insert(name)
        }
        for name in names {
            let output = try await gitOutput(["check-ref-format", "--branch", name])
            #expect(output.status.isSuccess, "git rejects \(name): \(output.standardErrorText)")
        }
    }

    // MARK: Worktrees

    @Test("an agent's new file is committed by Bosun and pushed to origin on the task branch")
    func commitAndPush() async throws {
        let fixture = try await GitFixture()
        let branch = try BranchName(issue: "1", title: "Add notes")
        let worktree = try await fixture.manager.prepareWorktree(fixture.project, branch: branch)
        #expect(!worktree.reused)
        #expect(worktree.path == fixture.manager.layout.stateDirectory + "/worktrees/demo/1-add-notes")
        #expect(try String(contentsOfFile: worktree.path + "/README.md", encoding: .utf8) == "hello\n")

        try FileManager.default.createDirectory(atPath: worktree.path + "/notes", withIntermediateDirectories: true)
        try "from the agent\n".write(toFile: worktree.path + "/notes/agent.txt", atomically: true, encoding: .utf8)
        let outcome = try await fixture.manager.commitAndPush(fixture.project, branch: branch, message: "Analysis")
        #expect(outcome.committed)
        #expect(outcome.pushed)
        #expect(try await fixture.originHas("refs/heads/bosun/1-add-notes") == outcome.head)
        #expect(try await fixture.originFile("bosun/1-add-notes", "notes/agent.txt") == "from the agent\n")
        let author = try await shellFreeGit([
            "--git-dir=\(fixture.origin)", "log", "-1", "--format=%an <%ae>|%cn|%s", "bosun/1-add-notes",
        ])
        #expect(author == "Bosun <bosun@localhost>|Bosun|Analysis")

        let again = try await fixture.manager.commitAndPush(fixture.project, branch: branch, message: "nothing")
        #expect(again == CommitOutcome(committed: false, pushed: false, head: outcome.head))

        // The agent committed by itself: nothing to commit, but the commit is pushed.
        try "more\n".write(toFile: worktree.path + "/more.txt", atomically: true, encoding: .utf8)
        try await shellFreeGit(["add", "more.txt"], in: worktree.path)
        try await shellFreeGit(["commit", "--quiet", "-m", "agent commit"], in: worktree.path)
        let third = try await fixture.manager.commitAndPush(fixture.project, branch: branch, message: "unused")
        #expect(!third.committed)
        #expect(third.pushed)
        #expect(try await fixture.originFile("bosun/1-add-notes", "more.txt") == "more\n")
    }

    @Test("refs read from the repository's files match git for-each-ref: loose, packed, both, missing, nested")
    func refFiles() async throws {
        let fixture = try await GitFixture()
        let repository = try await fixture.manager.ensureClone(fixture.project)
        let git = fixture.manager.git
        let main = try #require(try await git.listRefs(["refs/remotes/origin/main"], in: repository).values.first)
        // A second commit for refs that differ from main.
        let other = try await shellFreeGit([
            "--git-dir=\(repository)", "commit-tree", "-p", main, "-m", "other", "\(main)^{tree}",
        ])
        try await shellFreeGit(["--git-dir=\(repository)", "update-ref", "refs/heads/bosun/1-packed", main])
        try await shellFreeGit(["--git-dir=\(repository)", "update-ref", "refs/heads/bosun/2-both", main])
        try await shellFreeGit(["--git-dir=\(repository)", "pack-refs", "--all"])
        // Loose over packed: the loose file wins, as in git.
        try await shellFreeGit(["--git-dir=\(repository)", "update-ref", "refs/heads/bosun/2-both", other])
        try await shellFreeGit(["--git-dir=\(repository)", "update-ref", "refs/heads/bosun/3-loose", other])
        try await shellFreeGit(["--git-dir=\(repository)", "update-ref", "refs/heads/nested/a/b", other])
        let refs = [
            "refs/remotes/origin/main", "refs/heads/bosun/1-packed", "refs/heads/bosun/2-both",
            "refs/heads/bosun/3-loose", "refs/heads/bosun/4-missing", "refs/heads/nested/a", "refs/heads/nested/a/b",
        ]
        let fromFiles = try #require(RefFiles.resolve(refs, in: repository))
        #expect(fromFiles == (try await git.listRefs(refs, in: repository)))
        #expect(fromFiles["refs/heads/bosun/1-packed"] == main)
        #expect(fromFiles["refs/heads/bosun/2-both"] == other)
        #expect(fromFiles["refs/heads/bosun/4-missing"] == nil)
        #expect(fromFiles["refs/heads/nested/a"] == nil, "a directory of longer refs is not a ref")

        // What the reader does not handle goes to git: names outside refs/, a symbolic or garbage loose file, a
        // reftable repository.
        #expect(RefFiles.resolve(["refs/heads/../../config"], in: repository) == nil)
        #expect(RefFiles.resolve(["HEAD"], in: repository) == nil)
        try await shellFreeGit([
            "--git-dir=\(repository)", "symbolic-ref", "refs/heads/bosun/5-symbolic", "refs/heads/bosun/3-loose",
        ])
        #expect(RefFiles.resolve(["refs/heads/bosun/5-symbolic"], in: repository) == nil)
        let viaGit = try await git.resolve(refs: ["refs/heads/bosun/5-symbolic"], in: repository)
        #expect(viaGit == (try await git.listRefs(["refs/heads/bosun/5-symbolic"], in: repository)))
        #expect(viaGit["refs/heads/bosun/5-symbolic"] == other)
        try "not an object\n".write(
            toFile: repository + "/refs/heads/bosun/6-garbage", atomically: true, encoding: .utf8)
        #expect(RefFiles.resolve(["refs/heads/bosun/6-garbage"], in: repository) == nil)
        try FileManager.default.createDirectory(atPath: repository + "/reftable", withIntermediateDirectories: false)
        #expect(RefFiles.resolve(["refs/remotes/origin/main"], in: repository) == nil)
    }

    @Test("commits after runs of 8 tasks, prepares and fetches at once in one project: each commit is pushed whole")
    func concurrentCommits() async throws {
        let fixture = try await GitFixture()
        let manager = try fixture.restartedManager(fetchFreshness: .zero, fetchMaximumAge: .seconds(3600))
        let project = fixture.project
        var branches: [BranchName] = []
        for number in 1...8 {
            let branch = try BranchName(issue: "\(60 + number)", title: "concurrent")
            let worktree = try await manager.prepareWorktree(project, branch: branch)
            for file in 0..<20 {
                try "\(number) \(file)\n".write(
                    toFile: worktree.path + "/file-\(file).txt", atomically: true, encoding: .utf8)
            }
            branches.append(branch)
        }
        try await withThrowingTaskGroup(of: CommitOutcome?.self) { group in
            for branch in branches {
                group.addTask {
                    try await manager.commitAndPush(project, branch: branch, message: "work on \(branch.name)")
                }
            }
            for number in 1...8 {
                // Prepares (each queues a background fetch) and pool refills contend for the project meanwhile.
                group.addTask {
                    _ = try await manager.prepareWorktree(
                        project, branch: try BranchName(issue: "\(80 + number)", title: "other"))
                    manager.replenish(project)
                    return nil
                }
            }
            var outcomes = 0
            for try await outcome in group {
                guard let outcome else { continue }
                #expect(outcome.committed && outcome.pushed)
                outcomes += 1
            }
            #expect(outcomes == 8)
        }
        for (index, branch) in branches.enumerated() {
            let files = try await shellFreeGit(["--git-dir=\(fixture.origin)", "ls-tree", "--name-only", branch.name])
            #expect(files.split(separator: "\n").count == 21, "\(branch.name): \(files)")
            #expect(try await fixture.originFile(branch.name, "file-7.txt") == "\(index + 1) 7\n")
        }
    }

    @Test("after a worker restart, preparing the same branch reuses the worktree and keeps the agent's files")
    func reuseAfterRestart() async throws {
        let fixture = try await GitFixture()
        let branch = try BranchName(issue: "2", title: "Resume me")
        let first = try await fixture.manager.prepareWorktree(fixture.project, branch: branch)
        try "half done\n".write(toFile: first.path + "/wip.txt", atomically: true, encoding: .utf8)

        let restarted = try fixture.restartedManager()
        let second = try await restarted.prepareWorktree(fixture.project, branch: branch)
        #expect(second.reused)
        #expect(second.path == first.path)
        #expect(try String(contentsOfFile: second.path + "/wip.txt", encoding: .utf8) == "half done\n")

        // Concurrent prepares of other branches in the same project are serialized, not broken.
        let project = fixture.project
        try await withThrowingTaskGroup(of: PreparedWorktree.self) { group in
            for number in 10..<14 {
                group.addTask {
                    try await restarted.prepareWorktree(
                        project, branch: try BranchName(issue: "\(number)", title: "parallel"))
                }
            }
            var paths: Set<String> = []
            for try await prepared in group { paths.insert(prepared.path) }
            #expect(paths.count == 4)
        }
    }

    @Test("origin's new commits reach new worktrees: by a background fetch when recent, before preparing when old")
    func fetchFreshness() async throws {
        let fixture = try await GitFixture()
        // Every fetch counts as stale for refreshing, none is too old to use: prepares never wait for the network.
        let background = try fixture.restartedManager(fetchFreshness: .zero, fetchMaximumAge: .seconds(3600))
        _ = try await background.prepareWorktree(fixture.project, branch: try BranchName(issue: "20", title: "a"))
        try await fixture.pushToOriginMain(file: "news.txt", content: "news\n")
        let stale = try await background.prepareWorktree(
            fixture.project, branch: try BranchName(issue: "21", title: "b"))
        #expect(!FileManager.default.fileExists(atPath: stale.path + "/news.txt"), "started from the last fetch")
        var attempt = 22
        try await eventually("a background fetch brings origin's commit to the next worktree") {
            attempt += 1
            let next = try await background.prepareWorktree(
                fixture.project, branch: try BranchName(issue: "\(attempt)", title: "c"))
            return FileManager.default.fileExists(atPath: next.path + "/news.txt")
        }

        // A fetch older than the maximum age is redone before the worktree is made.
        let synchronous = try fixture.restartedManager(fetchFreshness: .zero, fetchMaximumAge: .zero)
        _ = try await synchronous.prepareWorktree(fixture.project, branch: try BranchName(issue: "40", title: "d"))
        try await fixture.pushToOriginMain(file: "later.txt", content: "later\n")
        let fresh = try await synchronous.prepareWorktree(
            fixture.project, branch: try BranchName(issue: "41", title: "e"))
        #expect(FileManager.default.fileExists(atPath: fresh.path + "/later.txt"))
    }

    @Test("new tasks take ready worktrees from the pool; a pool behind origin is not used and is replaced")
    func readyWorktrees() async throws {
        let fixture = try await GitFixture()
        let manager = try fixture.restartedManager(fetchFreshness: .seconds(3600), fetchMaximumAge: .zero)
        let pool = fixture.manager.layout.stateDirectory + "/worktrees/.pool/demo"
        func ready() -> Set<String> { Set((try? FileManager.default.contentsOfDirectory(atPath: pool)) ?? []) }

        _ = try await manager.prepareWorktree(fixture.project, branch: try BranchName(issue: "50", title: "first"))
        #expect(ready().isEmpty, "filled only when asked, after a run has started")
        manager.replenish(fixture.project)
        try await eventually("the pool fills") { ready().count == 2 }
        let before = ready()
        // Made by hand and `git reset --hard`: git sees clean worktrees, detached at origin's main, with the files.
        let originMain = try #require(try await fixture.originHas("refs/heads/main"))
        for name in before {
            let entry = pool + "/" + name
            #expect(try await shellFreeGit(["status", "--porcelain", "--untracked-files=all"], in: entry) == "")
            #expect(try await shellFreeGit(["rev-parse", "HEAD"], in: entry) == originMain)
            #expect(try String(contentsOfFile: entry + "/README.md", encoding: .utf8) == "hello\n")
            #expect(!exists(fixture.manager.layout.repository(fixture.project) + "/worktrees/\(name)/locked"))
        }
        let taken = try await manager.prepareWorktree(
            fixture.project, branch: try BranchName(issue: "51", title: "from the pool"))
        // The worktree's git record keeps the name it was made under: one of the ready ones.
        let link = try String(contentsOfFile: taken.path + "/.git", encoding: .utf8)
        #expect(before.contains { link.hasSuffix("/worktrees/\($0)\n") }, "\(link) from \(before)")
        // Moved without git's help: git knows it at its new place, and a prune keeps it.
        let repository = fixture.manager.layout.repository(fixture.project)
        try await shellFreeGit(["--git-dir=\(repository)", "worktree", "prune"])
        let listed = try await shellFreeGit(["--git-dir=\(repository)", "worktree", "list", "--porcelain"])
        #expect(listed.contains("worktree \(taken.path)\nHEAD "), "\(listed)")
        #expect(listed.contains("branch refs/heads/bosun/51-from-the-pool"), "\(listed)")
        #expect(
            !listed.contains("/.pool/demo/\(before.first { link.hasSuffix("/worktrees/\($0)\n") } ?? "?")\n"),
            "\(listed)")
        #expect(!taken.reused)
        #expect(try String(contentsOfFile: taken.path + "/README.md", encoding: .utf8) == "hello\n")
        try "work\n".write(toFile: taken.path + "/work.txt", atomically: true, encoding: .utf8)
        let pushed = try await manager.commitAndPush(
            fixture.project, branch: try BranchName(issue: "51", title: "from the pool"), message: "work")
        #expect(pushed.committed && pushed.pushed)
        #expect(try await fixture.originFile("bosun/51-from-the-pool", "work.txt") == "work\n")
        manager.replenish(fixture.project)
        try await eventually("the pool is refilled") { ready().count == 2 && ready() != before }

        // Origin moves: the next prepare fetches first, and a ready worktree at the old commit is not used.
        try await fixture.pushToOriginMain(file: "moved.txt", content: "moved\n")
        let stale = ready()
        let fresh = try await manager.prepareWorktree(
            fixture.project, branch: try BranchName(issue: "52", title: "after the move"))
        #expect(FileManager.default.fileExists(atPath: fresh.path + "/moved.txt"))
        manager.replenish(fixture.project)
        try await eventually("stale ready worktrees are replaced") {
            ready().count == 2 && ready().isDisjoint(with: stale)
        }

        // A new process clears what an earlier one left ready, then fills its own pool.
        let leftovers = ready()
        let restarted = try fixture.restartedManager()
        _ = try await restarted.prepareWorktree(fixture.project, branch: try BranchName(issue: "53", title: "again"))
        restarted.replenish(fixture.project)
        try await eventually("the new process has its own pool") {
            ready().count == 2 && ready().isDisjoint(with: leftovers)
        }
    }

    @Test("a ready worktree is taken and a run's work committed while another operation holds the project's lock")
    func readyWorktreeWithoutTheProjectLock() async throws {
        let fixture = try await GitFixture()
        let manager = try fixture.restartedManager(fetchFreshness: .seconds(3600), fetchMaximumAge: .seconds(3600))
        let project = fixture.project
        let pool = fixture.manager.layout.stateDirectory + "/worktrees/.pool/demo"
        func ready() -> Set<String> { Set((try? FileManager.default.contentsOfDirectory(atPath: pool)) ?? []) }
        _ = try await manager.prepareWorktree(project, branch: try BranchName(issue: "70", title: "first"))
        manager.replenish(project)
        try await eventually("the pool fills") { ready().count == 2 }
        let before = ready()

        // A stand-in for a long fetch: the project's lock is held until the test lets go.
        let (release, letGo) = AsyncStream<Void>.makeStream()
        let holding = Mutex(false)
        let holder = Task {
            try await manager.locks.withLock(project.name) { () throws(WorktreeError) in
                holding.withLock { $0 = true }
                for await _ in release { break }
            }
        }
        try await eventually("the lock is held") { holding.withLock { $0 } }
        let prepared = Mutex<[PreparedWorktree]>([])
        let preparing = Task { () throws -> CommitOutcome in
            for number in 71...72 {
                let worktree = try await manager.prepareWorktree(
                    project, branch: try BranchName(issue: "\(number)", title: "while locked"))
                prepared.withLock { $0.append(worktree) }
            }
            // The check and commit after a run need no project lock either; only the push waits for it.
            let first = prepared.withLock { $0[0] }
            try "work\n".write(toFile: first.path + "/work.txt", atomically: true, encoding: .utf8)
            return try await manager.commitAndPush(project, branch: first.branch, message: "work")
        }
        defer {
            letGo.yield()
            letGo.finish()
        }
        try await eventually("both worktrees are prepared while the lock is held") {
            prepared.withLock { $0.count } == 2
        }
        let repository = fixture.manager.layout.repository(project)
        let firstBranch = prepared.withLock { $0[0].branch }
        try await eventually("the first branch is committed while the lock is held") {
            let count = try? await shellFreeGit([
                "--git-dir=\(repository)", "rev-list", "--count", "refs/remotes/origin/main..\(firstBranch.localRef)",
            ])
            return count == "1"
        }
        #expect(try await fixture.originHas(firstBranch.localRef) == nil, "pushed while the project's lock was held")
        letGo.yield()
        try await holder.value
        let first = try await preparing.value
        #expect(first.committed && first.pushed)
        try await shellFreeGit(["--git-dir=\(repository)", "worktree", "prune"])
        let listed = try await shellFreeGit(["--git-dir=\(repository)", "worktree", "list", "--porcelain"])
        let worktrees = prepared.withLock { $0 }
        for worktree in worktrees {
            let link = try String(contentsOfFile: worktree.path + "/.git", encoding: .utf8)
            #expect(before.contains { link.hasSuffix("/worktrees/\($0)\n") }, "\(link) from \(before)")
            #expect(listed.contains("worktree \(worktree.path)\nHEAD "), "\(listed)")
            #expect((listed + "\n").contains("branch \(worktree.branch.localRef)\n"), "\(listed)")
        }
        #expect(try await fixture.originHas(worktrees[0].branch.localRef) == first.head)
        // The second branch holds the very same commit (as two agents writing the same file with the same message
        // in the same second would make): it is on origin, but not as this branch, so it is pushed all the same.
        try await shellFreeGit(["reset", "--hard", "--quiet", first.head], in: worktrees[1].path)
        let second = try await manager.commitAndPush(project, branch: worktrees[1].branch, message: "work")
        #expect(!second.committed && second.pushed && second.head == first.head)
        #expect(try await fixture.originHas(worktrees[1].branch.localRef) == first.head)
    }

    @Test("a worker killed while making worktrees: the next one prepares the branch, with or without ready worktrees")
    func leftoversOfADeadWorker() async throws {
        let fixture = try await GitFixture()
        let repository = try await fixture.manager.ensureClone(fixture.project)
        let commit = try #require(try await fixture.originHas("refs/heads/main"))
        let state = fixture.manager.layout.stateDirectory
        // What a kill leaves at each step of making a worktree: a record locked "initializing" whose worktree was
        // never made; one whose worktree has its `.git` but no files (killed during `git reset --hard`); a ready
        // worktree made, with the branch created by hand, but never moved to the task's path.
        func record(_ name: String, worktree: String?) throws {
            let directory = repository + "/worktrees/" + name
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            try "initializing\n".write(toFile: directory + "/locked", atomically: true, encoding: .utf8)
            try "\(commit)\n".write(toFile: directory + "/HEAD", atomically: true, encoding: .utf8)
            try "../..\n".write(toFile: directory + "/commondir", atomically: true, encoding: .utf8)
            if let worktree {
                try FileManager.default.createDirectory(atPath: worktree, withIntermediateDirectories: true)
                try "gitdir: \(directory)\n".write(toFile: worktree + "/.git", atomically: true, encoding: .utf8)
                try "\(worktree)/.git\n".write(toFile: directory + "/gitdir", atomically: true, encoding: .utf8)
            }
        }
        for poolSize in [0, 2] {
            let unmade = try BranchName(issue: "\(90 + poolSize)", title: "never made")
            try record(unmade.directoryName, worktree: nil)
            let halfMade = try BranchName(issue: "\(91 + poolSize)", title: "half made")
            try record(halfMade.directoryName, worktree: state + "/worktrees/demo/" + halfMade.directoryName)
            let unmoved = try BranchName(issue: "\(92 + poolSize)", title: "never moved")
            let readyPath = state + "/worktrees/.pool/demo/leftover-\(poolSize)"
            try await shellFreeGit([
                "--git-dir=\(repository)", "worktree", "add", "--quiet", "--detach", readyPath, commit,
            ])
            try await shellFreeGit(["checkout", "--quiet", "-b", unmoved.name], in: readyPath)

            let restarted = try WorktreeManager(
                stateDirectory: state, git: Git(timeout: .seconds(30)), poolSize: poolSize)
            for branch in [unmade, halfMade, unmoved] {
                let prepared = try await restarted.prepareWorktree(fixture.project, branch: branch)
                #expect(try await shellFreeGit(["symbolic-ref", "HEAD"], in: prepared.path) == branch.localRef)
                #expect(try String(contentsOfFile: prepared.path + "/README.md", encoding: .utf8) == "hello\n")
                try "work\n".write(toFile: prepared.path + "/work.txt", atomically: true, encoding: .utf8)
                _ = try await restarted.commitAndPush(fixture.project, branch: branch, message: "work")
                #expect(try await restarted.removeWorktree(fixture.project, branch: branch) == .removed)
            }
            let listed = try await shellFreeGit(["--git-dir=\(repository)", "worktree", "list", "--porcelain"])
            #expect(!listed.contains("locked"), "\(listed)")
            #expect(listed.split(separator: "\n").filter { $0.hasPrefix("worktree ") }.count == 1, "\(listed)")
        }
    }

    @Test("locks left by a killed git or worker are taken over once a minute old; a fresh lock is left alone")
    func staleLocks() async throws {
        let fixture = try await GitFixture()
        let repository = try await fixture.manager.ensureClone(fixture.project)
        let old = Date(timeIntervalSinceNow: -(RefFiles.staleLockAge + 30))
        func lock(_ path: String, modified: Date) throws {
            try "".write(toFile: path, atomically: false, encoding: .utf8)
            try FileManager.default.setAttributes([.modificationDate: modified], ofItemAtPath: path)
        }

        // A new branch whose ref lock a dead worker left: created anyway.
        let fresh = try BranchName(issue: "70", title: "new after a crash")
        try FileManager.default.createDirectory(
            atPath: repository + "/refs/heads/bosun", withIntermediateDirectories: true)
        try lock(repository + "/" + fresh.localRef + ".lock", modified: old)
        let prepared = try await fixture.manager.prepareWorktree(fixture.project, branch: fresh)
        #expect(try await shellFreeGit(["symbolic-ref", "HEAD"], in: prepared.path) == fresh.localRef)
        #expect(!FileManager.default.fileExists(atPath: repository + "/" + fresh.localRef + ".lock"))

        // A later stage of the same task, after a git killed in the middle of a commit and of a push.
        let record = try await shellFreeGit(["rev-parse", "--absolute-git-dir"], in: prepared.path)
        try lock(record + "/index.lock", modified: old)
        try lock(repository + "/" + fresh.localRef + ".lock", modified: old)
        try FileManager.default.createDirectory(
            atPath: repository + "/refs/remotes/origin/bosun", withIntermediateDirectories: true)
        try lock(repository + "/" + fresh.remoteRef + ".lock", modified: old)
        let again = try await fixture.manager.prepareWorktree(fixture.project, branch: fresh)
        #expect(again.reused)
        try "work\n".write(toFile: again.path + "/work.txt", atomically: true, encoding: .utf8)
        let committed = try await fixture.manager.commitAndPush(fixture.project, branch: fresh, message: "work")
        #expect(committed.pushed)
        #expect(try await fixture.originHas(fresh.localRef) == committed.head)

        // A lock taken a moment ago may be a live git's: it stays, and the write that needs it fails.
        try lock(record + "/index.lock", modified: Date())
        _ = try await fixture.manager.prepareWorktree(fixture.project, branch: fresh)
        #expect(FileManager.default.fileExists(atPath: record + "/index.lock"))
        #expect(!RefFiles.replace(record + "/index", with: "x"))
        try lock(record + "/HEAD.lock", modified: Date())
        #expect(!RefFiles.replace(record + "/HEAD", with: "ref: \(fresh.localRef)\n"))
        try FileManager.default.setAttributes([.modificationDate: old], ofItemAtPath: record + "/HEAD.lock")
        #expect(RefFiles.replace(record + "/HEAD", with: "ref: \(fresh.localRef)\n"))
        #expect(!FileManager.default.fileExists(atPath: record + "/HEAD.lock"))
    }

    @Test("a fetch blocked by locks a killed fetch left is tried again once they are a minute old")
    func staleFetchLocks() async throws {
        let fixture = try await GitFixture()
        let repository = try await fixture.manager.ensureClone(fixture.project)
        try await fixture.pushToOriginMain(file: "new.txt", content: "new\n")
        let locks = [repository + "/packed-refs.lock", repository + "/refs/remotes/origin/main.lock"]
        for lock in locks { try "".write(toFile: lock, atomically: false, encoding: .utf8) }

        // Fresh locks may be a live git's: the fetch fails and they stay.
        await #expect(throws: WorktreeError.self) { try await fixture.restartedManager().ensureClone(fixture.project) }
        #expect(locks.allSatisfy(exists))

        let old = Date(timeIntervalSinceNow: -(RefFiles.staleLockAge + 30))
        for lock in locks { try FileManager.default.setAttributes([.modificationDate: old], ofItemAtPath: lock) }
        try await fixture.restartedManager().ensureClone(fixture.project)
        #expect(!locks.contains(where: exists))
        let fetched = try await shellFreeGit(["--git-dir=\(repository)", "rev-parse", "refs/remotes/origin/main"])
        #expect(try await fixture.originHas("refs/heads/main") == fetched)
    }

    @Test("a worktree directory deleted by hand is made again (git's stale registration is pruned)")
    func deletedWorktreeIsRecreated() async throws {
        let fixture = try await GitFixture()
        let branch = try BranchName(issue: "5", title: "Deleted")
        let first = try await fixture.manager.prepareWorktree(fixture.project, branch: branch)
        try FileManager.default.removeItem(atPath: first.path)
        let again = try await fixture.manager.prepareWorktree(fixture.project, branch: branch)
        #expect(!again.reused)
        #expect(again.path == first.path)
        #expect(try String(contentsOfFile: again.path + "/README.md", encoding: .utf8) == "hello\n")
    }

    @Test("a branch pushed before starts its new worktree from origin's copy")
    func startsFromPushedBranch() async throws {
        let fixture = try await GitFixture()
        let branch = try BranchName(issue: "3", title: "Pushed")
        let worktree = try await fixture.manager.prepareWorktree(fixture.project, branch: branch)
        try "pushed\n".write(toFile: worktree.path + "/pushed.txt", atomically: true, encoding: .utf8)
        _ = try await fixture.manager.commitAndPush(fixture.project, branch: branch, message: "work")
        #expect(try await fixture.manager.removeWorktree(fixture.project, branch: branch) == .removed)

        let again = try await fixture.manager.prepareWorktree(fixture.project, branch: branch)
        #expect(!again.reused)
        #expect(try String(contentsOfFile: again.path + "/pushed.txt", encoding: .utf8) == "pushed\n")
    }

    @Test("merging a task branch pushes main with the change; merging again is a no-op")
    func mergeIntoMain() async throws {
        let fixture = try await GitFixture()
        let branch = try BranchName(issue: "4", title: "Feature")
        let worktree = try await fixture.manager.prepareWorktree(fixture.project, branch: branch)
        try "feature\n".write(toFile: worktree.path + "/feature.txt", atomically: true, encoding: .utf8)
        _ = try await fixture.manager.commitAndPush(fixture.project, branch: branch, message: "Feature")
        try await fixture.pushToOriginMain(file: "other.txt", content: "meanwhile\n")

        let merged = try await fixture.manager.mergeBranch(fixture.project, branch: branch, into: "main")
        #expect(!merged.alreadyMerged)
        #expect(try await fixture.originHas("refs/heads/main") == merged.head)
        #expect(try await fixture.originFile("main", "feature.txt") == "feature\n")
        #expect(try await fixture.originFile("main", "other.txt") == "meanwhile\n")
        let parents = try await shellFreeGit(["--git-dir=\(fixture.origin)", "log", "-1", "--format=%P", "main"])
        #expect(parents.split(separator: " ").count == 2)

        let again = try await fixture.manager.mergeBranch(fixture.project, branch: branch, into: "main")
        #expect(again == MergeOutcome(head: merged.head, alreadyMerged: true))
        let scratch = (try? FileManager.default.contentsOfDirectory(atPath: fixture.manager.layout.merges)) ?? []
        #expect(scratch.isEmpty)
    }

    @Test("a merge conflict is a clear error and origin's main does not move")
    func mergeConflict() async throws {
        let fixture = try await GitFixture()
        let branch = try BranchName(issue: "5", title: "Conflict")
        let worktree = try await fixture.manager.prepareWorktree(fixture.project, branch: branch)
        try "agent version\n".write(toFile: worktree.path + "/README.md", atomically: true, encoding: .utf8)
        _ = try await fixture.manager.commitAndPush(fixture.project, branch: branch, message: "Agent edit")
        try await fixture.pushToOriginMain(file: "README.md", content: "human version\n")
        let mainBefore = try await fixture.originHas("refs/heads/main")

        let error = await #expect(throws: WorktreeError.self) {
            try await fixture.manager.mergeBranch(fixture.project, branch: branch, into: "main")
        }
        #expect(error?.code == .mergeConflict)
        #expect(error?.message.contains("README.md") == true)
        #expect(try await fixture.originHas("refs/heads/main") == mainBefore)
        let scratch = (try? FileManager.default.contentsOfDirectory(atPath: fixture.manager.layout.merges)) ?? []
        #expect(scratch.isEmpty)
        let registered = try await shellFreeGit(
            ["--git-dir=\(fixture.manager.layout.repository(fixture.project))", "worktree", "list", "--porcelain"])
        #expect(!registered.contains("/.merge/"))

        let unpushed = try BranchName(issue: "6", title: "never pushed")
        let missing = await #expect(throws: WorktreeError.self) {
            try await fixture.manager.mergeBranch(fixture.project, branch: unpushed, into: "main")
        }
        #expect(missing?.code == .missingBranch)
    }

    @Test("a worktree with uncommitted work is quarantined, not deleted, and its branch can be checked out again")
    func quarantineUncommitted() async throws {
        let fixture = try await GitFixture()
        let branch = try BranchName(issue: "7", title: "Dirty")
        let worktree = try await fixture.manager.prepareWorktree(fixture.project, branch: branch)
        try "unsaved\n".write(toFile: worktree.path + "/untracked.txt", atomically: true, encoding: .utf8)
        let now = Date(timeIntervalSince1970: 1_700_000_000)

        let removal = try await fixture.manager.removeWorktree(fixture.project, branch: branch, now: now)
        guard case .quarantined(let path, let reasons) = removal else {
            Issue.record("expected quarantine, got \(removal)")
            return
        }
        #expect(path == fixture.manager.layout.quarantine + "/demo/7-dirty-20231114T221320Z")
        #expect(reasons == ["uncommitted changes"])
        #expect(!exists(worktree.path))
        #expect(try String(contentsOfFile: path + "/untracked.txt", encoding: .utf8) == "unsaved\n")

        let again = try await fixture.manager.prepareWorktree(fixture.project, branch: branch)
        #expect(!again.reused)
        #expect(again.path == worktree.path)
        #expect(!exists(again.path + "/untracked.txt"))
    }

    @Test("a worktree whose commit never reached origin is quarantined and the commit is kept")
    func quarantineUnpushed() async throws {
        let fixture = try await GitFixture()
        let branch = try BranchName(issue: "8", title: "Unpushed")
        let worktree = try await fixture.manager.prepareWorktree(fixture.project, branch: branch)
        try "committed\n".write(toFile: worktree.path + "/local.txt", atomically: true, encoding: .utf8)
        try await shellFreeGit(["add", "local.txt"], in: worktree.path)
        try await shellFreeGit(["commit", "--quiet", "-m", "local only"], in: worktree.path)
        let head = try await shellFreeGit(["rev-parse", "HEAD"], in: worktree.path)

        let removal = try await fixture.manager.removeWorktree(fixture.project, branch: branch)
        guard case .quarantined(_, let reasons) = removal else {
            Issue.record("expected quarantine, got \(removal)")
            return
        }
        #expect(reasons == ["1 commit(s) not on origin"])
        let repository = fixture.manager.layout.repository(fixture.project)
        #expect(try await shellFreeGit(["--git-dir=\(repository)", "rev-parse", branch.localRef]) == head)

        // The new worktree continues the local branch, so the commit is not lost either way.
        let again = try await fixture.manager.prepareWorktree(fixture.project, branch: branch)
        #expect(try String(contentsOfFile: again.path + "/local.txt", encoding: .utf8) == "committed\n")
    }

    @Test("a clean, pushed worktree is removed with its local branch; a missing one is absent")
    func removeClean() async throws {
        let fixture = try await GitFixture()
        let branch = try BranchName(issue: "9", title: "Clean")
        let worktree = try await fixture.manager.prepareWorktree(fixture.project, branch: branch)
        #expect(try await fixture.manager.removeWorktree(fixture.project, branch: branch) == .removed)
        #expect(!exists(worktree.path))
        let repository = fixture.manager.layout.repository(fixture.project)
        let list = try await shellFreeGit(["--git-dir=\(repository)", "worktree", "list", "--porcelain"])
        #expect(!list.contains(worktree.path))
        #expect(try await fixture.manager.removeWorktree(fixture.project, branch: branch) == .absent)
        #expect(!exists(fixture.manager.layout.quarantine))
    }

    @Test("something that is not the branch's worktree at its path is quarantined before a fresh one is made")
    func strayDirectory() async throws {
        let fixture = try await GitFixture()
        let branch = try BranchName(issue: "11", title: "Stray")
        let path = fixture.manager.layout.worktree(fixture.project, branch)
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        try "not git\n".write(toFile: path + "/junk.txt", atomically: true, encoding: .utf8)

        let worktree = try await fixture.manager.prepareWorktree(fixture.project, branch: branch)
        #expect(!worktree.reused)
        #expect(exists(worktree.path + "/README.md"))
        let quarantined = try FileManager.default.contentsOfDirectory(
            atPath: fixture.manager.layout.quarantine + "/demo")
        #expect(quarantined.count == 1)
        #expect(quarantined.first?.hasPrefix("11-stray-") == true)
    }

    @Test("retention removes old finished worktrees and old run logs, and keeps recent ones")
    func retention() async throws {
        let fixture = try await GitFixture()
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        let old = try BranchName(issue: "20", title: "old")
        let recent = try BranchName(issue: "21", title: "recent")
        let oldPath = try await fixture.manager.prepareWorktree(fixture.project, branch: old).path
        let recentPath = try await fixture.manager.prepareWorktree(fixture.project, branch: recent).path
        let results = await fixture.manager.sweepFinishedTasks(
            [
                FinishedTask(project: fixture.project, branch: old, finishedAt: now - 10 * 86_400),
                FinishedTask(project: fixture.project, branch: recent, finishedAt: now - 86_400),
            ], policy: RetentionPolicy(days: 7), now: now)
        #expect(results.count == 1)
        #expect(results.first?.task.branch == old)
        #expect((try? results.first?.result.get()) == .removed)
        #expect(!exists(oldPath))
        #expect(exists(recentPath))

        let logs = fixture.directory.file("logs")
        try FileManager.default.createDirectory(atPath: logs + "/runs/1", withIntermediateDirectories: true)
        let files = ["old.log": now - 30 * 86_400, "runs/1/old.log": now - 8 * 86_400, "new.log": now - 3600]
        for (name, modified) in files {
            try "log\n".write(toFile: logs + "/" + name, atomically: true, encoding: .utf8)
            try FileManager.default.setAttributes([.modificationDate: modified], ofItemAtPath: logs + "/" + name)
        }
        let outside = fixture.directory.file("outside.log")
        try "keep\n".write(toFile: outside, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.modificationDate: now - 100 * 86_400], ofItemAtPath: outside)
        try FileManager.default.createSymbolicLink(atPath: logs + "/link", withDestinationPath: fixture.directory.path)

        let deleted = try RunLogRetention.prune(directory: logs, policy: RetentionPolicy(days: 7), now: now)
        #expect(Set(deleted) == [logs + "/old.log", logs + "/runs/1/old.log"])
        #expect(exists(logs + "/new.log"))
        #expect(exists(outside))
        #expect(!exists(logs + "/runs/1"))
        #expect(
            try RunLogRetention.prune(directory: fixture.directory.file("none"), policy: .init(days: 1), now: now)
                .isEmpty)
    }

    @Test("bad project settings and a missing default branch are clear errors")
    func badInput() async throws {
        for name in ["", "../x", ".hidden", "-x", "a/b", "naïve"] {
            #expect(throws: WorktreeError.self) { try GitProject(name: name, url: "/tmp/x") }
        }
        #expect(throws: WorktreeError.self) { try GitProject(name: "ok", url: "--upload-pack=x") }
        #expect(throws: WorktreeError.self) { try GitProject(name: "ok", url: "/tmp/x", defaultBranch: "-main") }
        let cwd = FileManager.default.currentDirectoryPath
        #expect(try GitProject(name: "ok", url: "repos/x").url == (cwd == "/" ? "/repos/x" : cwd + "/repos/x"))
        #expect(try GitProject(name: "ok", url: "git@example.com:team/x.git").url == "git@example.com:team/x.git")
        #expect(try GitProject(name: "ok", url: "https://example.com/x.git").url == "https://example.com/x.git")

        let fixture = try await GitFixture()
        let project = try GitProject(name: "demo", url: fixture.origin, defaultBranch: "develop")
        let error = await #expect(throws: WorktreeError.self) {
            try await fixture.manager.prepareWorktree(project, branch: try BranchName(issue: "1", title: "x"))
        }
        #expect(error?.code == .missingBranch)

        let nowhere = try GitProject(name: "gone", url: fixture.directory.file("no-such-origin"))
        let fetchError = await #expect(throws: WorktreeError.self) { try await fixture.manager.ensureClone(nowhere) }
        #expect(fetchError?.code == .gitFailed)
        #expect(fetchError?.gitStderr.isEmpty == false)
        #expect(!exists(fixture.manager.layout.repository(nowhere)))
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: fixture.manager.layout.repositories)
        #expect(leftovers == ["demo.git"])
    }
}
