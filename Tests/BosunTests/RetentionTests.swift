import Config
import Foundation
import Logging
import Store
import Testing

@testable import BosunWorker

@Suite("Worker: retention")
struct RetentionTests {
    @Test("old finished tasks' clean worktrees go, unpushed work is quarantined, old run logs are deleted")
    func sweep() async throws {
        let directory = TemporaryDirectory("bosun-retention")
        let origin = try await makeOrigin(in: directory)
        let state = directory.file("state")
        let config = try ConfigLoader.parse(
            yaml: """
                state_dir: \(state)
                listen: 127.0.0.1:0
                worker: { retention_days: 1 }
                projects:
                  - { name: demo, tracker: local, repo: { url: \(origin) } }
                """, file: directory.file("bosun.yaml"))
        let manager = try WorktreeManager(stateDirectory: state, git: Git(timeout: .seconds(30)))
        let project = try GitProject(name: "demo", url: origin, defaultBranch: "main")
        let database = try Database(path: directory.file("bosun.db"))
        try database.migrate()
        let old = Int64(Date().addingTimeInterval(-3 * 86_400).timeIntervalSince1970 * 1000)
        var paths: [String: String] = [:]
        for (issue, pushed) in [("1", true), ("2", false), ("3", true)] {
            let branch = try #require(BranchName(ref: "bosun/\(issue)-work"))
            let worktree = try await manager.prepareWorktree(project, branch: branch)
            try "work \(issue)\n".write(toFile: worktree.path + "/work.txt", atomically: true, encoding: .utf8)
            if pushed { _ = try await manager.commitAndPush(project, branch: branch, message: "work") }
            paths[issue] = worktree.path
            _ = try database.write { transaction in
                try transaction.insertTask(
                    TaskRecord(
                        project: "demo", issue: issue, title: "work", body: "", author: "a", workflow: "default",
                        state: issue == "3" ? "development" : "done", active: issue == "3", branch: branch.name,
                        createdAtMs: old, updatedAtMs: old, stateEnteredAtMs: old))
            }
        }
        let logs = state + "/logs/runs"
        try FileManager.default.createDirectory(atPath: logs, withIntermediateDirectories: true)
        for (name, age) in [("1.log", -3 * 86_400.0), ("2.log", 0)] {
            let path = logs + "/" + name
            try "log\n".write(toFile: path, atomically: true, encoding: .utf8)
            try FileManager.default.setAttributes(
                [.modificationDate: Date().addingTimeInterval(age)], ofItemAtPath: path)
        }

        let sweep = await Retention.sweep(
            database: database, worktrees: manager, config: config, now: Date(), logger: Logger(label: "test"))
        #expect(sweep.removed == 1)
        #expect(sweep.quarantined == 1)
        #expect(sweep.failed == 0)
        #expect(!FileManager.default.fileExists(atPath: paths["1"]!))
        #expect(!FileManager.default.fileExists(atPath: paths["2"]!))
        let quarantine = try FileManager.default.contentsOfDirectory(atPath: state + "/worktrees/.quarantine/demo")
        #expect(quarantine.count == 1)
        #expect(quarantine[0].hasPrefix("2-work-"))
        #expect(FileManager.default.fileExists(atPath: paths["3"]!), "an active task's worktree stays")
        #expect(try FileManager.default.contentsOfDirectory(atPath: logs) == ["2.log"])
    }
}
