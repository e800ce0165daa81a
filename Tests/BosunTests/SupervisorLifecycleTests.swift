import Foundation
import IPC
import LinuxProcess
import Store
import Testing

#if canImport(Glibc)
import Glibc
#endif

extension ProcessLevel {
    @Suite("Supervisor lifecycle")
    struct Lifecycle {
        @Test("starts three children, reports them, and ingress answers /healthz on the handed-over socket")
        func startsAndReports() async throws {
            try await withBosun { bosun in
                let (status, output) = try await bosun.cli(["status", "--json"])
                #expect(status == .exited(code: 0))
                let json = try #require(try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String: Any])
                let processes = try #require(json["processes"] as? [[String: Any]])
                #expect(processes.map { $0["name"] as? String } == ["ingress", "worker", "gatekeeper"])
                for process in processes {
                    #expect(process["state"] as? String == "ready")
                    #expect(process["restarts"] as? Int == 0)
                    #expect((process["pid"] as? Int ?? 0) > 0)
                    #expect(process["uptime_s"] is Double)
                }
                let breaker = try #require(json["breaker"] as? [String: Any])
                #expect(breaker["state"] as? String == "closed")

                let port = try await bosun.port()
                let health = try httpGet(port: port, path: "/healthz")
                #expect(health.status == 200)
                #expect(health.body == "{\"status\":\"ok\"}")

                var info = stat()
                stat(bosun.directory.file("state/run"), &info)
                #expect(info.st_mode & 0o777 == 0o700)
                for socket in [bosun.controlSocket, bosun.supervisorSocket] {
                    stat(socket, &info)
                    #expect(info.st_mode & 0o777 == 0o600)
                }
                let table = try await bosun.cli(["status"])
                #expect(table.output.contains("ingress"))
                #expect(table.output.contains("breaker: closed"))
                // Each child's output lands in its own log file.
                try await eventually("per-process log files") {
                    ["ingress", "worker", "gatekeeper", "supervisor"].allSatisfy { name in
                        let log =
                            (try? String(
                                contentsOfFile: bosun.directory.file("state/logs/\(name).log"), encoding: .utf8)) ?? ""
                        return log.contains(name == "supervisor" ? "all children ready" : "reported ready")
                    }
                }
            }
        }

        @Test("the worker and what it runs (agents, git) are worker.nice levels below the supervisor; the others level")
        func workerNiceness() async throws {
            /// The nice value of `pid`'s main thread (field 19 of /proc/PID/stat).
            func niceness(_ pid: Int32) throws -> Int {
                let stat = try String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)
                let fields = stat[stat.range(of: ")", options: .backwards)!.upperBound...].split(separator: " ")
                return try #require(Int(fields[16]))
            }
            let scratch = TemporaryDirectory("bosun-origin")
            let origin = try await makeOrigin(in: scratch)
            for (extra, expected) in [("", 10), ("worker: { nice: 3 }", 3), ("worker: { nice: 0 }", 0)] {
                try await withBosun(
                    extraConfig: workerConfig(origin: origin, extra: extra),
                    environment: ["BOSUN_TEST_MODE": "sleep-15"]
                ) { bosun in
                    let base = try niceness(bosun.process.pid)
                    let worker = try #require(try await bosun.process("worker").pid)
                    #expect(try niceness(worker) == min(19, base + expected), "\(extra)")
                    for name in ["ingress", "gatekeeper"] {
                        let pid = try #require(try await bosun.process(name).pid)
                        #expect(try niceness(pid) == base, "\(name)")
                    }
                    // An agent is started by whichever worker thread claims its job; it still gets the worker's.
                    _ = try await WorkerProcessTests().createTasks(bosun, count: 1)
                    let database = try Database(path: bosun.directory.file("state/bosun.db"))
                    var agent: Int32?
                    try await eventually(timeout: .seconds(30), "the agent running") {
                        agent = try database.read { try $0.liveRuns() }.first?.agentPID
                        return agent != nil
                    }
                    #expect(try niceness(try #require(agent)) == min(19, base + expected), "agent, \(extra)")
                }
            }
        }

        @Test("kill -9 of each child: it is restarted, restarts goes up by one, the others keep their pids")
        func killEachChild() async throws {
            try await withBosun { bosun in
                for name in ["ingress", "worker", "gatekeeper"] {
                    let before = try await bosun.status().processes
                    let victim = try #require(before.first { $0.name == name })
                    kill(victim.pid!, SIGKILL)
                    let replacement = try await bosun.waitForReplacement(of: name, oldPID: victim.pid)
                    #expect(replacement.restarts == victim.restarts + 1)
                    #expect(replacement.lastExit?.signal == SIGKILL)
                    let after = try await bosun.status().processes
                    for other in before where other.name != name {
                        #expect(after.first { $0.name == other.name }?.pid == other.pid)
                    }
                }
            }
        }

        @Test("a crash-looping child backs off with growing delays, is marked failed, and comes back by hand")
        func crashLoop() async throws {
            let scratch = TemporaryDirectory("bosun-crash")
            let flag = scratch.file("healthy")
            let script = try writeScript(
                "gatekeeper", in: scratch,
                """
                if [ -f \(flag) ]; then exec \(Binaries.directory)/bosun-gatekeeper; fi
                echo "gatekeeper crashing on purpose" >&2
                exit 3
                """)
            let config = """
                supervisor:
                  restart: { base_ms: 50, max_ms: 1000, budget: 4, window_s: 60 }
                  executables: { gatekeeper: \(script) }
                """
            try await withBosun(extraConfig: config, waitForReady: false) { bosun in
                try await eventually("gatekeeper failed") {
                    (try? await bosun.process("gatekeeper"))?.state == .failed
                }
                let gatekeeper = try await bosun.process("gatekeeper")
                #expect(gatekeeper.restarts == 4)
                #expect(gatekeeper.failure?.contains("restarted 4 times within 60s") == true)
                #expect(gatekeeper.lastExit?.code == 3)
                let delays = bosun.output.split(separator: "\n")
                    .filter { $0.contains("restarting gatekeeper") }
                    .compactMap { line in line.split(separator: " ").first { $0.hasPrefix("delay_ms=") }?.dropFirst(9) }
                    .compactMap { Int($0) }
                #expect(delays == [50, 100, 200, 400])
                #expect(bosun.output.contains("gatekeeper crashing on purpose"))

                // The others serve on.
                let report = try await bosun.status()
                #expect(report.processes.first { $0.name == "ingress" }?.state == .ready)
                #expect(report.supervisor.statusText.contains("gatekeeper FAILED"))
                #expect(try httpGet(port: try await bosun.port(), path: "/healthz").status == 200)
                let json = try await bosun.cli(["status", "--json"]).output
                #expect(json.contains("{\"backoff_ms\":null,\"failure\":\"restarted 4 times within 60s (budget 4)\""))
                #expect(
                    json.contains(
                        "\"name\":\"gatekeeper\",\"paused\":null,\"pid\":null,\"restarts\":4,\"state\":\"failed\""))

                #expect(FileManager.default.createFile(atPath: flag, contents: nil))
                let restart = try await bosun.cli(["restart", "gatekeeper"])
                #expect(restart.status == .exited(code: 0), "\(restart.output)")
                #expect(restart.output.contains("gatekeeper restarted"))
                #expect(try await bosun.process("gatekeeper").state == .ready)
            }
        }

        @Test("200 crashes of a child that double-forks grandchildren leave no zombie and no stray process")
        func noZombies() async throws {
            let scratch = TemporaryDirectory("bosun-zombies")
            let counter = scratch.file("count")
            let script = try writeScript(
                "worker", in: scratch,
                """
                n=$(cat \(counter) 2>/dev/null || echo 0); n=$((n+1)); echo $n > \(counter)
                if [ $n -gt 200 ]; then exec \(Binaries.directory)/bosun-worker; fi
                ( sleep 37.4242 & )
                ( setsid sleep 0.0505 & )
                exit 1
                """)
            let config = """
                supervisor:
                  restart: { base_ms: 1, max_ms: 2, budget: 1000, window_s: 60 }
                  executables: { worker: \(script) }
                """
            try await withBosun(extraConfig: config, waitForReady: false) { bosun in
                try await bosun.waitUntilReady(timeout: .seconds(120))
                let worker = try await bosun.process("worker")
                #expect(worker.restarts == 200)
                // Grandchildren in their own session end by themselves and are reaped by the subreaper.
                try await Task.sleep(for: .milliseconds(500))
                let supervisor = bosun.process.pid
                let children = ProcessTable.all().filter { $0.parentPID == supervisor }
                #expect(children.filter(\.isZombie).isEmpty, "zombies: \(children.filter(\.isZombie))")
                #expect(Set(children.map(\.command)) == ["bosun-ingress", "bosun-worker", "bosun-gatekeepe"])
                // The long sleeps were in the crashed children's process groups and went with them; the short ones,
                // in sessions of their own, ended and were reaped by the subreaper.
                let leftovers = ProcessTable.all().filter { stat in
                    let arguments = commandLine(of: stat.pid)
                    return arguments.contains("37.4242") || arguments.contains("0.0505")
                }
                #expect(leftovers.isEmpty, "\(leftovers)")
            }
        }

        @Test("SIGTERM: every child is gone within the grace period and the supervisor exits 0")
        func sigterm() async throws {
            try await withBosun { bosun in
                let pids = try await bosun.status().processes.compactMap(\.pid)
                let started = ContinuousClock.now
                let status = await bosun.stop()
                #expect(status == .exited(code: 0))
                #expect(ContinuousClock.now - started < .seconds(10))
                for pid in pids {
                    #expect(ProcessTable.stat(of: pid) == nil || ProcessTable.stat(of: pid)?.isZombie == true)
                }
                for name in ["ingress", "worker", "gatekeeper"] {
                    #expect(bosun.output.contains("info \(name) stopped"), "\(name) did not stop cleanly")
                }
                #expect(!bosun.output.contains("did not stop within"))
                let exits = bosun.output.split(separator: "\n").filter {
                    $0.contains(" stopped pid=") && $0.contains("status=")
                }
                #expect(exits.count == 3)
                #expect(exits.allSatisfy { $0.hasSuffix("status=\"exit 0\"") }, "\(exits)")
                #expect(!FileManager.default.fileExists(atPath: bosun.controlSocket))
            }
        }

        @Test("SIGTERM while the children are still being spawned: every one is stopped and the exit is 0")
        func stopDuringStartup() async throws {
            for delay in [0, 1, 2, 5, 10] {
                let bosun = try BosunInstance()
                // From the moment it starts spawning (before that, `main` has not even run).
                try await eventually("spawning begins") { bosun.output.contains("starting children") }
                try await Task.sleep(for: .milliseconds(delay))
                let status = await bosun.stop()
                #expect(status == .exited(code: 0), "after \(delay) ms: \(bosun.output)")
                try await eventually(timeout: .seconds(10), "no child of this supervisor left") {
                    processes(withEnvironment: "BOSUN_CONFIG=\(bosun.configPath)").isEmpty
                }
                await bosun.cleanUp()
            }
        }

        @Test("a restart whose new ingress fails keeps the old one serving, and nothing restarts it behind the command")
        func failedReplacementKeepsOldIngress() async throws {
            try await withBosun { bosun in
                let port = try await bosun.port()
                let old = try await bosun.process("ingress")
                let client = ConnectLoop(port: port)
                let broken = try writeScript("broken-ingress", in: bosun.directory, "echo 'broken build' >&2; exit 1")
                try """
                state_dir: ./state
                listen: 127.0.0.1:0
                supervisor:
                  restart: { base_ms: 20, max_ms: 20, budget: 100, window_s: 60 }
                  executables: { ingress: \(broken) }
                """.write(toFile: bosun.configPath, atomically: true, encoding: .utf8)
                #expect(try await bosun.cli(["reload"]).status == .exited(code: 0))

                func spawnedIngress() -> Int {
                    bosun.output.split(separator: "\n").filter { $0.contains("info spawned ingress") }.count
                }
                // The new process exits before it is ready.
                let exited = try await bosun.cli(["restart", "ingress"])
                #expect(exited.status == .exited(code: 1))
                #expect(exited.output.contains("exited before it was ready: exit 1"), "\(exited.output)")
                // The new executable cannot even be executed.
                chmod(broken, 0o644)
                let unstartable = try await bosun.cli(["restart", "ingress"])
                #expect(unstartable.status == .exited(code: 1))
                #expect(unstartable.output.contains("Permission denied"), "\(unstartable.output)")

                let spawns = spawnedIngress()
                try await Task.sleep(for: .milliseconds(300))
                #expect(spawnedIngress() == spawns, "an ingress was spawned behind the command's back")
                let now = try await bosun.process("ingress")
                #expect(now.pid == old.pid)
                #expect(now.state == .ready)
                #expect(now.restarts == 0)
                #expect(try httpGet(port: port, path: "/healthz").status == 200)
                let counts = client.stop()
                #expect(counts.refused == 0)
                #expect(counts.otherErrors == 0)
            }
        }

        @Test("if the supervisor dies, its children exit too")
        func supervisorDeath() async throws {
            try await withBosun { bosun in
                let pids = try await bosun.status().processes.compactMap(\.pid)
                bosun.process.signal(SIGKILL)
                await bosun.process.wait()
                try await eventually(timeout: .seconds(10), "children gone") {
                    pids.allSatisfy { ProcessTable.stat(of: $0) == nil || ProcessTable.stat(of: $0)?.isZombie == true }
                }
            }
        }

        @Test("a second supervisor on the same state directory refuses to start")
        func secondSupervisor() async throws {
            try await withBosun { bosun in
                let second = try await bosun.cli(["run"])
                #expect(second.status == .exited(code: 1))
                #expect(second.output.contains("another bosun is already running"))
                #expect(try await bosun.status().processes.allSatisfy { $0.state == .ready })
            }
        }

        @Test("a child that never reports ready is killed at the ready timeout and restarted")
        func readyTimeout() async throws {
            let scratch = TemporaryDirectory("bosun-silent")
            let script = try writeScript("worker", in: scratch, "exec sleep 600")
            let config = """
                supervisor:
                  ready_timeout_s: 1
                  restart: { base_ms: 10, max_ms: 10, budget: 100, window_s: 60 }
                  executables: { worker: \(script) }
                """
            try await withBosun(extraConfig: config, waitForReady: false) { bosun in
                try await eventually("the silent worker is killed and restarted") {
                    ((try? await bosun.process("worker"))?.restarts ?? 0) >= 1
                }
                let worker = try await bosun.process("worker")
                #expect(worker.lastExit?.signal == SIGKILL)
                #expect(bosun.output.contains("did not report ready within 1s"))
            }
        }
    }
}
