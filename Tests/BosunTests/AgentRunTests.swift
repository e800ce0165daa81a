import Foundation
import LinuxProcess
import Testing

@testable import BosunWorker

#if canImport(Glibc)
import Glibc
#endif

/// Agent runs under `bosun-shim`: real shims, real fake agents (scripts under Fixtures/agents), real /proc.
/// One at a time, so that timeouts and the RSS measurement do not depend on the other tests of this suite.
@Suite("AgentRuns", .serialized)
struct AgentRuns {
    static let agents = "\(fixtures)/agents"
    static let shim = "\(Binaries.directory)/bosun-shim"
    let directory = TemporaryDirectory("bosun-runs")

    func spec(
        _ id: String, _ argv: [String], timeout: Duration? = .seconds(30), grace: Duration = .milliseconds(300),
        environment: [String: String] = ["PATH": "/usr/bin:/bin"], stdin: String? = nil
    ) -> RunSpec {
        RunSpec(
            runID: id, argv: argv, environment: environment, workingDirectory: directory.path, stdinPath: stdin,
            logPath: directory.file("\(id).log"), runDirectory: directory.file("run-\(id)"), timeout: timeout,
            killGrace: grace)
    }

    /// Launches `spec`, watches it to its end, and checks that the shim was reaped and left no zombie.
    func runToEnd(_ spec: RunSpec) async throws -> (handle: RunHandle, exit: RunExit) {
        let watcher = try RunWatcher()
        defer { watcher.shutdown() }
        let handle = try RunLauncher(shimPath: Self.shim).launch(spec)
        try watcher.watch(handle)
        let completions = try await next(watcher, count: 1)
        #expect(completions.map(\.runID) == [spec.runID])
        guard case .exited(let exit) = completions.first?.state else {
            throw TestFailure("run \(spec.runID) did not exit: \(String(describing: completions.first))")
        }
        #expect(ProcessTable.stat(of: handle.shim.pid) == nil, "the shim was reaped")
        #expect(!zombieChildren().contains { $0.pid == handle.shim.pid })
        return (handle, exit)
    }

    func classify(_ exit: RunExit, log: String) throws -> RunReport {
        FailureClassifier(forgeHost: "github.com").classify(exit, log: try LogTail.read(path: log))
    }

    @Test("a run that succeeds: its file is written, agent.pid and exit.status say so, the classifier agrees")
    func success() async throws {
        let output = directory.file("work.txt")
        let spec = spec("ok", ["\(Self.agents)/succeed.sh", output])
        let (handle, exit) = try await runToEnd(spec)
        #expect(exit.outcome == .exited(code: 0))
        #expect(!exit.timedOut && !exit.cancelled)
        #expect(exit.endedAtMs >= exit.startedAtMs)
        #expect(try String(contentsOfFile: output, encoding: .utf8) == "work done in \(directory.path)\n")
        let record = try #require(try AgentRecord.read(runDirectory: spec.runDirectory))
        #expect(record.shim == handle.shim)
        #expect(record.agent == handle.agent)
        #expect(exit.agent == handle.agent)
        let report = try classify(exit, log: spec.logPath)
        #expect(report.classification == .success)
        #expect(report.usage == AgentUsage(inputTokens: 100, outputTokens: 20, costUSD: 0.0123))
        let attributes = try FileManager.default.attributesOfItem(atPath: spec.logPath)
        #expect((attributes[.posixPermissions] as? Int) == 0o600)
    }

    @Test("a crash is exit 3, with its stderr in the log")
    func crash() async throws {
        let spec = spec("crash", ["\(Self.agents)/crash.sh"])
        let (_, exit) = try await runToEnd(spec)
        #expect(exit.outcome == .exited(code: 3))
        #expect(try String(contentsOfFile: spec.logPath, encoding: .utf8).contains("the build is broken"))
        #expect(try classify(exit, log: spec.logPath).classification == .permanent(reason: "exit 3"))
    }

    @Test("an agent killed by a signal is reported with the signal")
    func signaled() async throws {
        let spec = spec("signal", ["\(Self.agents)/self-signal.sh"])
        let (_, exit) = try await runToEnd(spec)
        #expect(exit.outcome == .signaled(signal: SIGUSR1))
        #expect(try classify(exit, log: spec.logPath).classification == .permanent(reason: "killed by SIGUSR1"))
    }

    @Test("a hung agent that ignores SIGTERM: the whole group is killed after the grace, nothing survives")
    func timeout() async throws {
        let pids = directory.file("hang.pids")
        let spec = spec("hang", ["\(Self.agents)/hang.sh", pids], timeout: .milliseconds(600))
        let watcher = try RunWatcher()
        defer { watcher.shutdown() }
        let started = ContinuousClock.now
        let handle = try RunLauncher(shimPath: Self.shim).launch(spec)
        try watcher.watch(handle)
        let agent = try #require(handle.agent)

        // While it runs: the shim leads its own session, is small, and holds no descriptor of ours.
        try await eventually("both sleepers started") {
            (try? String(contentsOfFile: pids, encoding: .utf8))?.count ?? 0 > 4
        }
        let shimStat = try #require(ProcessTable.stat(of: handle.shim.pid))
        #expect(shimStat.session == handle.shim.pid && shimStat.session != getsid(0))
        #expect(try #require(ProcessTable.stat(of: agent.pid)).session == agent.pid)
        // Private memory; the shared libraries' pages are shared by every shim.
        #expect(try #require(privateResidentKiB(of: handle.shim.pid)) < 1024)
        #expect(descriptors(of: handle.shim.pid).count <= 4, "0, 1, 2 and the signalfd")
        for sleeper in try readPIDs(pids) {
            // The shell writes the pid right after fork, while the child may still be redirecting its stdin.
            try? await eventually(timeout: .seconds(2), "sleeper \(sleeper) set up") {
                descriptors(of: sleeper) == ["0", "1", "2"]
            }
            #expect(descriptors(of: sleeper) == ["0", "1", "2"])
        }

        let completion = try #require(try await next(watcher, count: 1).first)
        let elapsed = ContinuousClock.now - started
        guard case .exited(let exit) = completion.state else { throw TestFailure("not exited: \(completion)") }
        #expect(exit.timedOut)
        #expect(exit.outcome == .signaled(signal: SIGKILL), "SIGTERM is ignored, so the grace ran out")
        #expect(elapsed >= .milliseconds(900))
        #expect(processes(inSession: agent.pid).isEmpty)
        for sleeper in try readPIDs(pids) {
            #expect(ProcessTable.stat(of: sleeper)?.command != "sleep", "sleeper \(sleeper) is dead")
        }
        #expect(!zombieChildren().contains { $0.pid == handle.shim.pid })
        #expect(try classify(exit, log: spec.logPath).classification == .timedOut)
    }

    @Test("grandchildren left behind, in the session and out of it (setsid), are killed and reaped")
    func orphans() async throws {
        let pids = directory.file("orphans.pids")
        let spec = spec("orphans", ["\(Self.agents)/double-fork.sh", pids])
        let (handle, exit) = try await runToEnd(spec)
        #expect(exit.outcome == .exited(code: 0))
        let sleepers = try readPIDs(pids)
        #expect(sleepers.count == 2)
        for sleeper in sleepers {
            #expect(ProcessTable.stat(of: sleeper) == nil || ProcessTable.stat(of: sleeper)?.command != "sleep")
        }
        let agent = try #require(handle.agent)
        #expect(processes(inSession: agent.pid).isEmpty)
        #expect(ProcessTable.all().filter { $0.parentPID == handle.shim.pid }.isEmpty)
    }

    @Test("50 MB of output all reach the log; the worker's memory does not grow with it")
    func largeOutput() async throws {
        let size = 50 * 1024 * 1024
        let before = try #require(ProcessTable.residentBytes(of: getpid()))
        let spec = spec("flood", ["\(Self.agents)/flood.sh", String(size / 100)])
        let (_, exit) = try await runToEnd(spec)
        #expect(exit.outcome == .exited(code: 0))
        let logSize = try FileManager.default.attributesOfItem(atPath: spec.logPath)[.size] as? Int ?? 0
        #expect(logSize > size && logSize < size + 400, "the log has \(logSize) bytes")
        let tail = try LogTail.read(path: spec.logPath)
        #expect(tail.truncated && tail.text.utf8.count <= LogTail.defaultLimit)
        #expect(
            tail.text.split(separator: "\n").dropLast().allSatisfy {
                $0.utf8.count == 99 && $0.allSatisfy { $0 == "x" }
            })
        let report = FailureClassifier(forgeHost: nil).classify(exit, log: tail)
        #expect(report.classification == .success)
        #expect(report.usage?.costUSD == 0.5)
        let after = try #require(ProcessTable.residentBytes(of: getpid()))
        #expect(after - before < 20 << 20, "RSS grew by \(after - before) bytes")
    }

    @Test("a missing executable is an exec failure with a reason, not an exit code")
    func execFailure() async throws {
        let spec = spec("noexec", ["/nonexistent/agent-binary", "--flag"])
        let (handle, exit) = try await runToEnd(spec)
        #expect(handle.agent != nil)
        #expect(exit.outcome == .execFailed(reason: "exec /nonexistent/agent-binary: No such file or directory"))
        let classification = try classify(exit, log: spec.logPath).classification
        guard case .permanent(let reason) = classification else { throw TestFailure("\(classification)") }
        #expect(reason.contains("could not be started"))
    }

    @Test("a missing stdin file is the shim's setup failure, reported through the watcher")
    func setupFailure() async throws {
        let spec = spec("nostdin", ["true"], stdin: directory.file("no-such-brief.md"))
        let (handle, exit) = try await runToEnd(spec)
        #expect(handle.agent == nil)
        guard case .setupFailed(let reason) = exit.outcome else { throw TestFailure("\(exit)") }
        #expect(reason.contains("no-such-brief.md") && reason.contains("No such file"))
    }

    @Test("the brief file is the agent's stdin; the environment is exactly the spec's and the run's marker")
    func stdinAndEnvironment() async throws {
        let brief = try directory.write("brief.md", "untrusted issue text; rm -rf /\n")
        let catSpec = spec("stdin", ["cat"], stdin: brief)
        _ = try await runToEnd(catSpec)
        #expect(try String(contentsOfFile: catSpec.logPath, encoding: .utf8) == "untrusted issue text; rm -rf /\n")

        let envSpec = spec("env", ["env"], environment: ["PATH": "/usr/bin:/bin", "MARK": "a b=c"])
        _ = try await runToEnd(envSpec)
        let lines = Set(try String(contentsOfFile: envSpec.logPath, encoding: .utf8).split(separator: "\n"))
        #expect(lines == ["MARK=a b=c", "PATH=/usr/bin:/bin", "BOSUN_RUN_DIR=\(envSpec.runDirectory)"])
    }

    @Test("SIGTERM to the shim (cancel) reaches the agent's group; the run is reported cancelled")
    func cancel() async throws {
        let spec = spec("cancel", ["\(Self.agents)/graceful.sh"], grace: .seconds(5))
        let watcher = try RunWatcher()
        defer { watcher.shutdown() }
        let handle = try RunLauncher(shimPath: Self.shim).launch(spec)
        try watcher.watch(handle)
        try await eventually("the agent started") {
            (try? String(contentsOfFile: spec.logPath, encoding: .utf8))?.contains("working") ?? false
        }
        kill(handle.shim.pid, SIGTERM)
        guard case .exited(let exit)? = try await next(watcher, count: 1).first?.state else {
            throw TestFailure("not exited")
        }
        #expect(exit.cancelled && !exit.timedOut)
        #expect(exit.outcome == .exited(code: 0))
        #expect(try String(contentsOfFile: spec.logPath, encoding: .utf8).contains("stopping on SIGTERM"))
        #expect(try classify(exit, log: spec.logPath).classification == .cancelled)
    }

    @Test(
        "a restarted worker adopts the runs still going and finds the exits of those that ended; none lost or doubled")
    func adoption() async throws {
        let launcher = RunLauncher(shimPath: Self.shim)
        var store: [String: (directory: String, shim: ProcessIdentity)] = [:]
        var expected: [String: Int32] = [:]
        var finished: [String: RunExit] = [:]
        func record(_ id: String, _ exit: RunExit) {
            #expect(finished[id] == nil, "run \(id) reported twice")
            finished[id] = exit
        }

        // Worker 1 launches 20 runs: six end at once, the others after 3 to 4.2 s.
        let first = try RunWatcher()
        for index in 0..<20 {
            let seconds = index < 6 ? "0" : String(format: "%.1f", 3.0 + Double(index % 5) * 0.3)
            let code = Int32(index % 7)
            let spec = spec("adopt-\(index)", ["\(Self.agents)/sleep-exit.sh", seconds, String(code)])
            let handle = try launcher.launch(spec)
            store[spec.runID] = (spec.runDirectory, handle.shim)
            expected[spec.runID] = code
            try first.watch(handle)
        }
        // It records three exits, then dies: every handle and watch in memory is gone.
        for completion in try await next(first, count: 3) {
            guard case .exited(let exit) = completion.state else { throw TestFailure("\(completion)") }
            record(completion.runID, exit)
        }
        first.shutdown()
        try await Task.sleep(for: .milliseconds(300))

        // Worker 2 starts from the store alone.
        let second = try RunWatcher()
        defer { second.shutdown() }
        var adopted = 0
        var foundExited = 0
        for (id, run) in store.sorted(by: { $0.key < $1.key }) where finished[id] == nil {
            switch RunProbe.probe(runDirectory: run.directory, shim: run.shim) {
            case .running:
                try second.watch(runID: id, runDirectory: run.directory, shim: run.shim)
                adopted += 1
            case .exited(let exit):
                record(id, exit)
                foundExited += 1
            case .lost(let reason):
                Issue.record("run \(id) lost: \(reason)")
            case .notStarted:
                Issue.record("run \(id) taken for never started")
            }
        }
        #expect(adopted > 0 && foundExited > 0, "adopted \(adopted), found exited \(foundExited)")
        for completion in try await next(second, count: adopted, timeout: .seconds(30)) {
            guard case .exited(let exit) = completion.state else { throw TestFailure("\(completion)") }
            record(completion.runID, exit)
        }
        second.shutdown()
        var extra: [RunCompletion] = []
        for await completion in second.completions { extra.append(completion) }
        #expect(extra.isEmpty)

        #expect(finished.count == 20)
        for (id, code) in expected {
            #expect(finished[id]?.outcome == .exited(code: code), "run \(id)")
        }
        let shims = Set(store.values.map(\.shim.pid))
        #expect(zombieChildren().filter { shims.contains($0.pid) }.isEmpty)
        #expect(store.values.allSatisfy { $0.shim.liveness == .gone })
    }

    @Test("one watcher thread holds 200 running shims and uses no CPU while they run")
    func idleWatcher() async throws {
        let launcher = RunLauncher(shimPath: Self.shim)
        let watcher = try RunWatcher()
        defer { watcher.shutdown() }
        var handles: [RunHandle] = []
        defer {
            for handle in handles { kill(handle.shim.pid, SIGKILL) }
            for handle in handles { handle.agent?.killSession() }
        }
        for index in 0..<200 {
            let handle = try launcher.launch(spec("idle-\(index)", ["sleep", "60"]))
            handles.append(handle)
            try watcher.watch(handle)
        }
        #expect(watcher.count == 200)
        let thread = try #require(threadCPUTicks(named: "bosun-runs"))
        try await Task.sleep(for: .seconds(1))
        let later = try #require(threadCPUTicks(named: "bosun-runs"))
        #expect(later.ticks - thread.ticks <= 1, "the watcher thread used \(later.ticks - thread.ticks) ticks idle")
        for handle in handles { kill(handle.shim.pid, SIGTERM) }
        let completions = try await next(watcher, count: 200, timeout: .seconds(60))
        #expect(Set(completions.map(\.runID)).count == 200)
        #expect(
            completions.allSatisfy {
                if case .exited(let exit) = $0.state { exit.cancelled } else { false }
            })
        #expect(watcher.count == 0)
        handles = []
    }

    @Test("a pid with the wrong start time is not our shim: the probe and the watcher do not wait on it")
    func pidReuse() async throws {
        let spec = spec("reuse", ["sleep", "30"], grace: .milliseconds(200))
        let handle = try RunLauncher(shimPath: Self.shim).launch(spec)
        let watcher = try RunWatcher()
        defer { watcher.shutdown() }
        #expect(RunProbe.probe(runDirectory: spec.runDirectory, shim: handle.shim) == .running(shim: handle.shim))
        #expect(RunProbe.probe(runDirectory: spec.runDirectory, shim: nil) == .running(shim: handle.shim))

        // The same pid, another start time: a process that got our shim's old pid.
        let impostor = ProcessIdentity(pid: handle.shim.pid, startTicks: handle.shim.startTicks + 1)
        #expect(impostor.liveness == .gone)
        let empty = directory.file("run-never")
        mkdir(empty, 0o700)
        guard case .lost = RunProbe.probe(runDirectory: empty, shim: impostor) else {
            throw TestFailure("an impostor pid was taken for our shim")
        }
        // A run recorded but never launched (no shim known, no agent.pid): nothing ran, which is not a loss.
        #expect(RunProbe.probe(runDirectory: empty, shim: nil) == .notStarted)
        #expect(RunProbe.probe(runDirectory: directory.file("run-missing"), shim: nil) == .notStarted)
        try watcher.watch(runID: "never", runDirectory: empty, shim: impostor)
        let immediate = try await next(watcher, count: 1, timeout: .seconds(2))
        #expect(immediate.map(\.runID) == ["never"])
        guard case .lost? = immediate.first?.state else { throw TestFailure("\(immediate)") }

        // The real shim is unharmed; cancel it and watch it end.
        #expect(handle.shim.liveness == .running)
        try watcher.watch(handle)
        kill(handle.shim.pid, SIGTERM)
        guard case .exited(let exit)? = try await next(watcher, count: 1).first?.state else {
            throw TestFailure("not exited")
        }
        #expect(exit.cancelled && exit.outcome == .signaled(signal: SIGTERM))
    }

    @Test("a shim killed with SIGKILL: the run is lost, and its agent is killed rather than left running")
    func lostShim() async throws {
        let spec = spec("lost", ["sleep", "30"])
        let handle = try RunLauncher(shimPath: Self.shim).launch(spec)
        let agent = try #require(handle.agent)
        kill(handle.shim.pid, SIGKILL)
        try await eventually("the shim died") { handle.shim.liveness != .running }
        let state = RunProbe.probe(runDirectory: spec.runDirectory, shim: handle.shim)
        guard case .lost(let reason) = state else { throw TestFailure("\(state)") }
        #expect(reason.contains("was killed"))
        try await eventually("the agent died") { agent.liveness != .running }
        #expect(ProcessTable.stat(of: handle.shim.pid) == nil, "the probe reaped our dead shim")
    }

    @Test("a shim killed with SIGKILL: the grandchild that left the agent's session (setsid) is killed too")
    func lostShimStrays() async throws {
        let pids = directory.file("strays.pids")
        // The agent leaves a sleeper in its session and one out of it, then keeps running.
        let spec = spec(
            "strays", ["sh", "-c", "\"$0\" \"$1\" && exec sleep 30", "\(Self.agents)/double-fork.sh", pids])
        let handle = try RunLauncher(shimPath: Self.shim).launch(spec)
        try await eventually("both sleepers started") { ((try? readPIDs(pids)) ?? []).count == 2 }
        let sleepers = try readPIDs(pids).compactMap { ProcessIdentity.of($0) }
        #expect(sleepers.count == 2)
        kill(handle.shim.pid, SIGKILL)
        try await eventually("the shim died") { handle.shim.liveness != .running }
        let state = RunProbe.probe(runDirectory: spec.runDirectory, shim: handle.shim)
        guard case .lost(let reason) = state else { throw TestFailure("\(state)") }
        #expect(reason.contains("outside its session were killed"), "\(reason)")
        for sleeper in sleepers {
            try await eventually("sleeper \(sleeper.pid) died") { sleeper.liveness != .running }
        }
    }

    @Test("the launcher refuses a run directory that holds another run, and a spec it cannot run")
    func refusals() throws {
        let launcher = RunLauncher(shimPath: Self.shim)
        let used = spec("used", ["true"])
        mkdir(used.runDirectory, 0o700)
        try directory.write("run-used/exit.status", "version=1\n")
        #expect(throws: RunError.self) { try launcher.launch(used) }
        #expect(throws: RunError.self) { try launcher.launch(spec("empty", [])) }
        var relative = spec("relative", ["true"])
        relative.logPath = "relative.log"
        #expect(throws: RunError.self) { try launcher.launch(relative) }
        #expect(throws: RunError.self) {
            try RunLauncher(shimPath: "/nonexistent/bosun-shim").launch(spec("x", ["true"]))
        }
        #expect(!zombieChildren().contains { $0.command.hasPrefix("bosun-shim") })
    }

    @Test("exit.status parses, and a damaged one is an error, not a guess")
    func statusFormat() throws {
        let text = """
            version=1
            result=signaled
            exit_code=137
            signal=9
            timed_out=1
            cancelled=0
            agent_pid=4242
            agent_start_ticks=99
            started_ms=1000
            ended_ms=2500

            """
        let exit = try RunExit(statusText: text)
        #expect(exit.outcome == .signaled(signal: 9) && exit.timedOut && !exit.cancelled)
        #expect(exit.agent == ProcessIdentity(pid: 4242, startTicks: 99))
        #expect(exit.startedAtMs == 1000 && exit.endedAtMs == 2500)
        let failed = try RunExit(
            statusText: text.replacingOccurrences(of: "result=signaled", with: "result=exec_failed")
                + "reason=exec claude: Permission denied\n")
        #expect(failed.outcome == .execFailed(reason: "exec claude: Permission denied"))
        #expect(throws: RunError.self) { try RunExit(statusText: "result=exited\n") }
        #expect(throws: RunError.self) {
            try RunExit(statusText: text.replacingOccurrences(of: "ended_ms=2500", with: ""))
        }
        #expect(throws: RunError.self) {
            try RunExit(statusText: text.replacingOccurrences(of: "result=signaled", with: "result=maybe"))
        }
    }

    @Test("the log tail drops the partial first line and never reads more than its limit")
    func logTail() throws {
        let path = try directory.write("tail.log", "first line is long\nsecond\nthird\n")
        let whole = try LogTail.read(path: path)
        #expect(whole == LogTail(text: "first line is long\nsecond\nthird\n", truncated: false))
        let tail = try LogTail.read(path: path, limit: 16)
        #expect(tail == LogTail(text: "second\nthird\n", truncated: true), "\"ng\\n\" was a partial line")
        #expect(try LogTail.read(path: path, limit: 13) == LogTail(text: "second\nthird\n", truncated: true))
        #expect(try LogTail.read(path: path, limit: 12) == LogTail(text: "third\n", truncated: true))
        #expect(throws: RunError.self) { try LogTail.read(path: directory.file("missing.log")) }
    }

    // MARK: - helpers

    /// The next `count` completions, or a failure after `timeout`.
    func next(_ watcher: RunWatcher, count: Int, timeout: Duration = .seconds(20)) async throws -> [RunCompletion] {
        try await withThrowingTaskGroup(of: [RunCompletion].self) { group in
            group.addTask {
                var got: [RunCompletion] = []
                for await completion in watcher.completions {
                    got.append(completion)
                    if got.count == count { break }
                }
                return got
            }
            group.addTask {
                try await Task.sleep(for: timeout)
                throw TestFailure("timed out waiting for \(count) completions")
            }
            let first = try await group.next() ?? []
            group.cancelAll()
            return first
        }
    }

    func zombieChildren() -> [ProcessStat] {
        ProcessTable.all().filter { $0.parentPID == getpid() && $0.isZombie }
    }

    func processes(inSession session: pid_t) -> [ProcessStat] {
        ProcessTable.all().filter { $0.session == session || $0.processGroup == session }
    }

    func descriptors(of pid: pid_t) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd")) ?? []).sorted()
    }

    /// utime + stime of this process's thread called `name`.
    func threadCPUTicks(named name: String) -> (tid: Int, ticks: UInt64)? {
        let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task")) ?? []
        for task in tasks {
            guard let comm = try? String(contentsOfFile: "/proc/self/task/\(task)/comm", encoding: .utf8),
                comm.trimmingCharacters(in: .newlines) == name,
                let stat = try? String(contentsOfFile: "/proc/self/task/\(task)/stat", encoding: .utf8),
                let close = stat.lastIndex(of: ")")
            else { continue }
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            guard fields.count > 12, let user = UInt64(fields[11]), let system = UInt64(fields[12]) else { continue }
            return (Int(task) ?? 0, user + system)
        }
        return nil
    }

    /// `RssAnon` of /proc/PID/status, in KiB.
    func privateResidentKiB(of pid: pid_t) -> Int? {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
            let line = status.split(separator: "\n").first(where: { $0.hasPrefix("RssAnon:") })
        else { return nil }
        return Int(line.dropFirst("RssAnon:".count).trimmingCharacters(in: .whitespaces).dropLast(3))
    }

    func readPIDs(_ path: String) throws -> [pid_t] {
        try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").compactMap { pid_t($0) }
    }
}

extension AgentRuns {
    /// The failure classifier and the pull request finder: pure, on recorded agent output.
    @Suite("AgentRuns classification")
    struct Classification {
        let classifier = FailureClassifier(forgeHost: "github.com")

        func exit(_ code: Int32, endedAtMs: Int64 = 1_700_000_000_000) -> RunExit {
            RunExit(outcome: .exited(code: code), startedAtMs: endedAtMs - 5000, endedAtMs: endedAtMs)
        }

        func sample(_ name: String) throws -> LogTail {
            LogTail(text: try String(contentsOfFile: "\(AgentRuns.agents)/\(name)", encoding: .utf8))
        }

        @Test("Claude Code success: usage, cost and the PR; its words about rate limits and 429 do not matter")
        func claudeSuccess() throws {
            let log = try sample("claude-success.jsonl")
            #expect(log.text.contains("rate limit") && log.text.contains("429"))
            let report = classifier.classify(exit(0), log: log)
            #expect(report.classification == .success)
            #expect(
                report.usage
                    == AgentUsage(
                        inputTokens: 1520, outputTokens: 2211, cacheReadTokens: 88123, cacheWriteTokens: 10546,
                        costUSD: 0.4213))
            #expect(report.pullRequestURL == "https://github.com/acme/widgets/pull/42")
        }

        @Test("Claude Code error result is permanent, even with rate-limit words in the text around it")
        func claudeError() throws {
            var log = try sample("claude-error.jsonl")
            log.text += "warning: upstream said 429 rate limit, Retry-After: 30\n"
            let report = classifier.classify(exit(1), log: log)
            guard case .permanent(let reason) = report.classification else { throw TestFailure("\(report)") }
            #expect(reason.contains("error_max_turns") && reason.contains("Reached maximum number of turns"))
            #expect(report.usage?.costUSD == 1.8342)
        }

        @Test("a rejected rate_limit_event is transient until its resetsAt")
        func claudeRateLimit() throws {
            let report = classifier.classify(exit(1), log: try sample("claude-rate-limit.jsonl"))
            guard case .transient(let retryAt, let reason) = report.classification else {
                throw TestFailure("\(report)")
            }
            #expect(retryAt == 1_778_565_600_000)
            #expect(reason.contains("hit your limit"))
        }

        @Test("API error 529 overloaded (after api_retry events) is transient")
        func claudeOverloaded() throws {
            let report = classifier.classify(exit(1), log: try sample("claude-overloaded.jsonl"))
            guard case .transient(nil, let reason) = report.classification else { throw TestFailure("\(report)") }
            #expect(reason.contains("529"))
            // Without the final result (the agent was cut short), the api_retry events still say overload.
            let cut = try sample("claude-overloaded.jsonl").text.split(separator: "\n").dropLast(2)
                .joined(separator: "\n")
            guard case .transient = classifier.classify(exit(1), log: LogTail(text: cut)).classification else {
                throw TestFailure("api_retry 529 without a result was not transient")
            }
        }

        @Test("Codex: turn.completed is success with summed usage; a usage-limit turn.failed is transient")
        func codex() throws {
            let success = classifier.classify(exit(0), log: try sample("codex-success.jsonl"))
            #expect(success.classification == .success)
            #expect(success.usage == AgentUsage(inputTokens: 24763, outputTokens: 122, cacheReadTokens: 24448))
            let limited = classifier.classify(exit(1), log: try sample("codex-usage-limit.jsonl"))
            guard case .transient = limited.classification else { throw TestFailure("\(limited)") }
            let failed = classifier.classify(
                exit(1), log: LogTail(text: #"{"type":"turn.failed","error":{"message":"unexpected status 401"}}"#))
            #expect(failed.classification == .permanent(reason: "codex turn failed: unexpected status 401"))
        }

        @Test("text signals count only for a failed run without structured output")
        func textSignals() {
            let chatter = LogTail(text: "retrying: rate limit, HTTP 429, server overloaded\n")
            #expect(classifier.classify(exit(0), log: chatter).classification == .success)
            #expect(
                classifier.classify(exit(1), log: chatter).classification
                    == .transient(retryAtMs: nil, reason: "rate limit or overload in the output (exit 1)"))
            let retryAfter = LogTail(text: "HTTP/1.1 503 Service Unavailable\nRetry-After: 120\n")
            guard
                case .transient(let at, _) = classifier.classify(exit(2, endedAtMs: 10_000), log: retryAfter)
                    .classification
            else {
                Issue.record("Retry-After was not transient")
                return
            }
            #expect(at == 130_000)
            #expect(
                classifier.classify(exit(1), log: LogTail(text: "529 Site is overloaded")).classification
                    == .transient(retryAtMs: nil, reason: "rate limit or overload in the output (exit 1)"))
            #expect(
                classifier.classify(exit(1), log: LogTail(text: "processed 4290 files, 15290 lines\n"))
                    .classification == .permanent(reason: "exit 1"))
        }

        @Test("the shim's facts come first: timeout, cancel, exec and setup failures")
        func shimFacts() throws {
            let success = try sample("claude-success.jsonl")
            var timedOut = exit(0)
            timedOut.timedOut = true
            #expect(classifier.classify(timedOut, log: success).classification == .timedOut)
            var cancelled = RunExit(outcome: .signaled(signal: SIGTERM), cancelled: true, startedAtMs: 0, endedAtMs: 1)
            #expect(classifier.classify(cancelled, log: LogTail(text: "429")).classification == .cancelled)
            cancelled.outcome = .exited(code: 0)
            #expect(classifier.classify(cancelled, log: LogTail(text: "stopping")).classification == .cancelled)
            #expect(classifier.classify(cancelled, log: success).classification == .success)
            let noExec = RunExit(
                outcome: .execFailed(reason: "exec claude: No such file"), startedAtMs: 0, endedAtMs: 1)
            #expect(
                classifier.classify(noExec, log: LogTail(text: "rate limit")).classification
                    == .permanent(reason: "the agent could not be started: exec claude: No such file"))
        }

        @Test("pull request URLs: only the configured host, only https, only the exact shapes")
        func pullRequestURLs() {
            let github = PullRequestURL(host: "github.com")
            let accepted: [(String, String)] = [
                ("Opened https://github.com/acme/widgets/pull/42.", "https://github.com/acme/widgets/pull/42"),
                ("[PR](https://github.com/acme/widgets/pull/7)", "https://github.com/acme/widgets/pull/7"),
                (#"{"text":"see https://github.com/a-b/c.d_e/pull/9\nthanks"}"#, "https://github.com/a-b/c.d_e/pull/9"),
                (
                    "https://github.com/acme/widgets/pull/1 then https://github.com/acme/widgets/pull/2",
                    "https://github.com/acme/widgets/pull/2"
                ),
            ]
            for (text, url) in accepted {
                #expect(github.lastMatch(in: text) == url, "\(text)")
            }
            let rejected = [
                "https://gitlab.com/acme/widgets/pull/42",
                "http://github.com/acme/widgets/pull/42",
                "https://github.com/acme/widgets/pull/42/files",
                "https://github.com/acme/widgets/extra/pull/42",
                "https://github.com/acme/pull/42",
                "https://github.com@evil.host/acme/widgets/pull/42",
                "https://github.com.evil.host/acme/widgets/pull/42",
                "https://github.com:8443/acme/widgets/pull/42",
                "https://evil.host/?next=https://github.com/acme/widgets/pull/42",
                "https://evil.host/https://github.com/acme/widgets/pull/42",
                "xhttps://github.com/acme/widgets/pull/42",
                "https://github.com/acme/widgets/pull/42abc",
                "https://github.com/acme/widgets/pull/42?tab=files",
                "https://github.com/acme/widgets/pull/42#discussion",
                "https://github.com/acme/widgets/pull/42@evil.host",
                "https://github.com/acme/widgets/pull/42%2F..",
                "https://github.com/../widgets/pull/42",
                "https://github.com/acme/widgets/pull/",
                "https://github.com/acme/widgets/pull/0x10",
                "https://github.com/acme/widgets/issues/42",
            ]
            for text in rejected {
                #expect(github.lastMatch(in: text) == nil, "\(text)")
            }
            let gitea = PullRequestURL(host: "git.example.org:3000")
            #expect(
                gitea.lastMatch(in: "PR: https://git.example.org:3000/team/app/pulls/5")
                    == "https://git.example.org:3000/team/app/pulls/5")
            #expect(gitea.lastMatch(in: "https://git.example.org/team/app/pulls/5") == nil)
            let gitlab = PullRequestURL(host: "gitlab.example.com")
            #expect(
                gitlab.lastMatch(in: "MR https://gitlab.example.com/group/sub/app/-/merge_requests/12 opened")
                    == "https://gitlab.example.com/group/sub/app/-/merge_requests/12")
            #expect(gitlab.lastMatch(in: "https://gitlab.example.com/app/-/merge_requests/12") == nil)
            #expect(gitlab.lastMatch(in: "https://gitlab.example.com/group/app/merge_requests/12") == nil)
            #expect(
                FailureClassifier(forgeHost: nil).classify(exit(0), log: LogTail(text: accepted[0].0)).pullRequestURL
                    == nil)
        }
    }
}

/// The brief written into a worktree where earlier agents ran: whatever they left at its path is replaced, never
/// followed.
@Suite("The brief")
struct BriefTests {
    let directory = TemporaryDirectory("bosun-brief")

    func worktree() throws -> String {
        let path = directory.file("worktree")
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    func contents(_ path: String) throws -> String { try String(contentsOfFile: path, encoding: .utf8) }

    func isDirectory(_ path: String) -> Bool {
        var info = stat()
        return lstat(path, &info) == 0 && info.st_mode & S_IFMT == S_IFDIR
    }

    @Test("written to .bosun/brief.md, made if missing, replaced whole on the next stage")
    func written() throws {
        let worktree = try worktree()
        let path = try JobRunner.writeBrief("first stage\n", worktree: worktree)
        #expect(path == worktree + "/.bosun/brief.md")
        #expect(try contents(path) == "first stage\n")
        _ = try JobRunner.writeBrief("second\n", worktree: worktree)
        #expect(try contents(path) == "second\n")
        #expect(!FileManager.default.fileExists(atPath: path + ".lock"))
    }

    @Test("a symlink at brief.md is replaced; the file it names is not written")
    func linkedBrief() throws {
        let worktree = try worktree()
        let outside = try directory.write("outside.txt", "not Bosun's\n")
        try FileManager.default.createDirectory(atPath: worktree + "/.bosun", withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: worktree + "/.bosun/brief.md", withDestinationPath: outside)
        let path = try JobRunner.writeBrief("the brief\n", worktree: worktree)
        #expect(try contents(outside) == "not Bosun's\n")
        #expect(try contents(path) == "the brief\n")
        var info = stat()
        #expect(lstat(path, &info) == 0 && info.st_mode & S_IFMT == S_IFREG)
    }

    @Test("a symlink or a file at .bosun is replaced by a directory; the directory it names gets nothing")
    func linkedDirectory() throws {
        let worktree = try worktree()
        let elsewhere = directory.file("elsewhere")
        try FileManager.default.createDirectory(atPath: elsewhere, withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: worktree + "/.bosun", withDestinationPath: elsewhere)
        let path = try JobRunner.writeBrief("the brief\n", worktree: worktree)
        #expect(isDirectory(worktree + "/.bosun"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: elsewhere).isEmpty)
        #expect(try contents(path) == "the brief\n")

        try FileManager.default.removeItem(atPath: worktree + "/.bosun")
        _ = try directory.write("worktree/.bosun", "a file where the directory goes\n")
        _ = try JobRunner.writeBrief("again\n", worktree: worktree)
        #expect(isDirectory(worktree + "/.bosun"))
        #expect(try contents(path) == "again\n")
    }

    @Test("a lock held at brief.md.lock: a clear error naming the path; once a minute old it is taken over")
    func heldLock() throws {
        let worktree = try worktree()
        try FileManager.default.createDirectory(atPath: worktree + "/.bosun", withIntermediateDirectories: true)
        let lock = try directory.write("worktree/.bosun/brief.md.lock", "")
        #expect {
            try JobRunner.writeBrief("the brief\n", worktree: worktree)
        } throws: { error in
            (error as? RunError)?.code == .brief && "\(error)".contains(worktree + "/.bosun/brief.md")
        }
        let old = Date(timeIntervalSinceNow: -(RefFiles.staleLockAge + 30))
        try FileManager.default.setAttributes([.modificationDate: old], ofItemAtPath: lock)
        let path = try JobRunner.writeBrief("the brief\n", worktree: worktree)
        #expect(try contents(path) == "the brief\n")
    }
}
