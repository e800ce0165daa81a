import Foundation
import Store
import Testing

/// A real origin repository for the local tracker: bare, with `main` holding a test script that fails while a
/// file named FAIL exists.
func makeOrigin(in directory: TemporaryDirectory) async throws -> String {
    let origin = directory.file("origin.git")
    let seed = directory.file("seed")
    func git(_ arguments: [String], in path: String) async throws {
        let result = try await run(
            "/usr/bin/git",
            ["-C", path, "-c", "user.name=Test", "-c", "user.email=test@localhost", "-c", "init.defaultBranch=main"]
                + arguments, in: directory)
        guard result.status == .exited(code: 0) else { throw TestFailure("git \(arguments): \(result.output)") }
    }
    try FileManager.default.createDirectory(atPath: seed, withIntermediateDirectories: true)
    try await git(["init", "-q", "--bare", origin], in: directory.path)
    try await git(["init", "-q", "-b", "main"], in: seed)
    _ = try directory.write("seed/check.sh", "#!/bin/sh\ntest ! -e FAIL\n", mode: 0o755)
    _ = try directory.write("seed/README.md", "# demo\n")
    try await git(["add", "-A"], in: seed)
    try await git(["commit", "-q", "-m", "initial"], in: seed)
    try await git(["push", "-q", origin, "main"], in: seed)
    return origin
}

/// The demo agent that `bosun demo` ships (a scripted stand-in for a coding agent), in the source tree.
let demoAgent = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().appendingPathComponent("Sources/supervisor/Demo/demo-agent.py").path

/// The config for a local-tracker project run by the scripted demo agent.
func pipelineConfig(origin: String, extra: String = "") -> String {
    """
    agents:
      fake:
        argv: [python3, \(demoAgent), "{prompt_file}"]
        probe: [python3, --version]
    worker: { max_concurrency: 4, lease_s: 30, heartbeat_s: 5 }
    retry: { max_attempts: 2, backoff_base_s: 1, backoff_max_s: 2 }
    projects:
      - name: demo
        tracker: local
        repo: { url: \(origin), default_branch: main }
        test_command: [sh, check.sh]
        authors: [alice]
    \(extra)
    """
}

extension ProcessLevel {
    @Suite("Pipeline: local tracker, real git, scripted agents")
    struct PipelineTests {
        @Test("four tasks: straight to done, one bounce then done, four bounces then blocked, failing tests blocked")
        func pipeline() async throws {
            let scratch = TemporaryDirectory("bosun-origin")
            let origin = try await makeOrigin(in: scratch)
            try await withBosun(extraConfig: pipelineConfig(origin: origin)) { bosun in
                let titles = [
                    "Add the feature", "Add another feature [bounce-1]", "A contested change [bounce-4]",
                    "Break the build [fail-tests]",
                ]
                var ids: [Int64] = []
                for title in titles {
                    let created = try await bosun.cli(["task", "create", "--project", "demo", "--title", title])
                    #expect(created.status == .exited(code: 0), "\(created.output)")
                    let id = created.output.split(separator: "\n").last.flatMap { line in
                        line.hasPrefix("task ") ? Int64(line.dropFirst(5)) : nil
                    }
                    ids.append(try #require(id, "\(created.output)"))
                }
                let database = try Database(path: bosun.directory.file("state/bosun.db"))
                // Approve each analysis when it asks; wait for every task to settle.
                var approved: Set<Int64> = []
                try await eventually(timeout: .seconds(240), "every task done or blocked") {
                    let tasks = try ids.map { id in try database.read { try $0.task(id: id) }! }
                    for task in tasks where task.waitingOn == "approval" && !approved.contains(task.id) {
                        let result = try await bosun.cli([
                            "task", "comment", String(task.id), ":approved:", "--author", "alice",
                        ])
                        #expect(result.status == .exited(code: 0), "\(result.output)")
                        approved.insert(task.id)
                    }
                    return tasks.allSatisfy { ["done", "blocked"].contains($0.state) }
                }
                let tasks = try ids.map { id in try database.read { try $0.task(id: id) }! }
                let events = try ids.map { id in try database.read { try $0.taskEvents(taskID: id) } }
                func bounces(_ index: Int) -> Int { events[index].filter { $0.event == "changes_requested" }.count }
                func visited(_ index: Int, _ state: String) -> Bool { events[index].contains { $0.toState == state } }

                #expect(tasks[0].state == "done")
                #expect(bounces(0) == 0)
                #expect(tasks[1].state == "done")
                #expect(bounces(1) == 1)
                #expect(tasks[2].state == "blocked")
                #expect(bounces(2) == 4)
                let notified = try database.read { try $0.effects(taskID: ids[2]) }.filter {
                    $0.effect.contains("\"notify\"")
                }
                #expect(notified.count == 1)
                #expect(tasks[3].state == "blocked")
                #expect(!visited(3, "review"))

                // The done tasks' work was merged into origin's main by the local tracker's merge job.
                try await eventually(timeout: .seconds(30), "the merges on origin") {
                    let log = try await run(
                        "/usr/bin/git", ["-C", origin, "log", "--format=%s", "main"], in: bosun.directory)
                    let files = try await run(
                        "/usr/bin/git", ["-C", origin, "ls-tree", "--name-only", "main"], in: bosun.directory)
                    return files.output.contains("feature-\(ids[0]).txt")
                        && files.output.contains("feature-\(ids[1]).txt")
                        && log.output.contains("Merge")
                }
                // Bosun's working files stay out of what is merged.
                let merged = try await run(
                    "/usr/bin/git", ["-C", origin, "ls-tree", "-r", "--name-only", "main"], in: bosun.directory)
                #expect(!merged.output.contains(".bosun"))
                #expect(!merged.output.contains("feature-\(ids[2]).txt"))
                // Every agent run recorded its exit and its usage; nothing is left running.
                let runs = try database.read { transaction in try ids.flatMap { try transaction.runs(taskID: $0) } }
                #expect(!runs.isEmpty)
                #expect(runs.allSatisfy { $0.state == "exited" })
                #expect(runs.filter { $0.classification == "success" }.allSatisfy { $0.exitCode == 0 })
                let agentRuns = runs.filter { $0.inputTokens != nil }
                #expect(agentRuns.allSatisfy { $0.inputTokens == 120 && $0.outputTokens == 45 })

                let shown = try await bosun.cli(["task", String(ids[1])])
                #expect(shown.output.contains("changes_requested"))
                #expect(shown.output.contains("state: done"))
            }
        }
    }
}
