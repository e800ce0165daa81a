import Foundation
import IPC
import LinuxProcess
import Testing

#if canImport(Glibc)
import Glibc
#endif

extension ProcessLevel {
    @Suite("Control socket and commands")
    struct Control {
        @Test("garbage, an oversized frame and a wrong version on either socket close that connection only")
        func hostileClients() async throws {
            try await withBosun { bosun in
                let pids = try await bosun.status().processes.map(\.pid)
                for path in [bosun.controlSocket, bosun.supervisorSocket] {
                    let garbage = try RawUnixSocket(path: path)
                    garbage.send(Array("GET /status HTTP/1.1\r\nHost: bosun\r\n\r\n".utf8))
                    #expect(await garbage.readUntilClosed().closed)

                    let oversized = try RawUnixSocket(path: path)
                    oversized.send([0x10, 0x00, 0x00, 0x00])  // 256 MiB announced
                    #expect(await oversized.readUntilClosed().closed)

                    let wrongVersion = try RawUnixSocket(path: path)
                    wrongVersion.sendFrame(
                        "{\"v\":99,\"id\":1,\"kind\":\"request\",\"type\":\"hello\",\"payload\":"
                            + "{\"role\":\"cli\",\"pid\":1,\"program\":\"x\",\"version\":\"x\"}}")
                    #expect(await wrongVersion.readUntilClosed().closed)
                }
                // A process that is not one of its children cannot pose as one.
                do {
                    _ = try await IPCClient.withConnection(
                        path: bosun.supervisorSocket,
                        hello: Hello(role: .worker, pid: getpid(), program: "impostor", version: "x"),
                        logger: quietLogger
                    ) { try await $0.request(Ping()) }
                    Issue.record("an impostor was admitted")
                } catch let error as IPCError {
                    #expect(error.code == .handshake)
                    #expect(error.message.contains("is not a process this supervisor started"))
                }
                // The control socket is for the CLI only.
                do {
                    _ = try await IPCClient.withConnection(
                        path: bosun.controlSocket,
                        hello: Hello(role: .worker, pid: getpid(), program: "x", version: "x"), logger: quietLogger
                    ) { try await $0.request(Status()) }
                    Issue.record("a worker hello was admitted on the control socket")
                } catch let error as IPCError {
                    #expect(error.code == .handshake)
                }
                let after = try await bosun.status()
                #expect(after.processes.map(\.pid) == pids)
                #expect(after.processes.allSatisfy { $0.state == .ready })
            }
        }

        @Test("commands fail with one line and a non-zero status; status without a supervisor exits 3")
        func commandFailures() async throws {
            let directory = TemporaryDirectory("bosun-cli")
            let config = try directory.write("bosun.yaml", "state_dir: ./state\nlisten: 127.0.0.1:0\n")
            let status = try await bosun(["status", "-c", config], in: directory)
            #expect(status.status == .exited(code: 3))
            #expect(
                status.output
                    == "bosun: no supervisor is running for \(config) (nothing answers on \(directory.file("state/run/control.sock")))\n"
            )

            let missing = try await bosun(["status", "-c", directory.file("absent.yaml")], in: directory)
            #expect(missing.status == .exited(code: 1))
            #expect(missing.output.hasPrefix("bosun: "))

            try await withBosun { bosun in
                let unknown = try await bosun.cli(["restart", "janitor"])
                #expect(unknown.status == .exited(code: 1))
                #expect(
                    unknown.output == "bosun: no process named janitor; the processes are ingress, worker, gatekeeper\n"
                )
                let version = try await bosun.cli(["version"])
                #expect(version.status == .exited(code: 64))  // a usage error: version takes no -c
                let plainVersion = try await run(Binaries.bosun, ["version"], in: bosun.directory)
                #expect(plainVersion.output == "bosun 0.1.0\n")
            }
        }

        @Test("an invalid config: check-config lists every error with its path, run refuses to start")
        func invalidConfig() async throws {
            let directory = TemporaryDirectory("bosun-invalid")
            let config = try directory.write(
                "bosun.yaml",
                """
                state_dir: ./state
                listen: everywhere
                worker: { max_concurrency: 0 }
                projects:
                  - { name: demo, tracker: gitlab, repo: { url: x }, webhook: { secret_file: ./nope } }
                """)
            let check = try await bosun(["check-config", "-c", config], in: directory)
            #expect(check.status == .exited(code: 1))
            #expect(
                check.output.contains(
                    "\(config): listen: must be host:port (e.g. 127.0.0.1:8787), not everywhere (line 2)"))
            #expect(
                check.output.contains("\(config): worker.max_concurrency: must be between 1 and 4096, not 0 (line 3)"))
            #expect(
                check.output.contains(
                    "\(config): projects[0].webhook.secret_file: file not found (\(directory.file("nope"))) (line 5)"))
            #expect(check.output.contains("3 error(s)"))

            let run = try await bosun(["run", "-c", config], in: directory)
            #expect(run.status == .exited(code: 1))
            #expect(run.output.hasPrefix("bosun: refusing to start; the config is invalid:\n"))
            #expect(run.output.contains("listen: must be host:port"))
            #expect(!FileManager.default.fileExists(atPath: directory.file("state")))

            let good = try directory.write("good.yaml", "state_dir: ./state\nlisten: 127.0.0.1:0\n")
            let ok = try await bosun(["check-config", "-c", good], in: directory)
            #expect(ok.status == .exited(code: 0))
            #expect(ok.output.contains("ok"))
        }

        @Test("reload: a broken file or a fixed key changes nothing and says why; a good one reaches every child")
        func reload() async throws {
            try await withBosun(extraConfig: "breaker: { threshold: 3 }\n") { bosun in
                let pids = try await bosun.status().processes.map(\.pid)
                let original = try String(contentsOfFile: bosun.configPath, encoding: .utf8)

                try (original + "worker: { lease_s: soon }\n").write(
                    toFile: bosun.configPath, atomically: true, encoding: .utf8)
                let broken = try await bosun.cli(["reload"])
                #expect(broken.status == .exited(code: 1))
                #expect(broken.output.contains("the config is invalid; nothing changed"))
                #expect(broken.output.contains("worker.lease_s: must be an integer, not \"soon\""))
                let afterBroken = try await bosun.status()
                #expect(afterBroken.processes.map(\.pid) == pids)
                #expect(afterBroken.supervisor.statusText.contains("reload failed"))
                #expect(afterBroken.breaker.threshold == 3)

                // SIGHUP with the broken file: logged, nothing changes.
                bosun.process.signal(SIGHUP)
                try await eventually("the SIGHUP reload is refused") {
                    bosun.output.contains("reload failed; keeping the running configuration")
                }
                // A child that restarts now still gets the last good config (the snapshot), not the broken file.
                let worker = try await bosun.process("worker")
                kill(worker.pid!, SIGKILL)
                _ = try await bosun.waitForReplacement(of: "worker", oldPID: worker.pid)

                let moved = original.replacingOccurrences(of: "listen: 127.0.0.1:0", with: "listen: 127.0.0.1:1")
                try moved.write(toFile: bosun.configPath, atomically: true, encoding: .utf8)
                let fixed = try await bosun.cli(["reload"])
                #expect(fixed.status == .exited(code: 1))
                #expect(fixed.output.contains("listen cannot change while bosun runs"))

                let durable = original + "durability: normal\n"
                try durable.write(toFile: bosun.configPath, atomically: true, encoding: .utf8)
                let durability = try await bosun.cli(["reload"])
                #expect(durability.status == .exited(code: 1))
                #expect(durability.output.contains("durability cannot change while bosun runs"))

                let better =
                    original.replacingOccurrences(of: "threshold: 3", with: "threshold: 7")
                    + "ingress: { idle_timeout_s: 30 }\n"
                try better.write(toFile: bosun.configPath, atomically: true, encoding: .utf8)
                let good = try await bosun.cli(["reload"])
                #expect(good.status == .exited(code: 0), "\(good.output)")
                #expect(good.output.contains("breaker changed"))
                #expect(good.output.contains("ingress: ingress.idle_timeout_s applies after `bosun restart ingress`"))
                #expect(try await bosun.status().breaker.threshold == 7)
                for name in ["ingress", "worker", "gatekeeper"] {
                    try await eventually("\(name) reloaded") {
                        let log =
                            (try? String(
                                contentsOfFile: bosun.directory.file("state/logs/\(name).log"), encoding: .utf8)) ?? ""
                        return log.contains(
                            "config reloaded changes=\"[\\\"ingress changed\\\", \\\"breaker changed\\\"]\"")
                    }
                }
            }
        }

        @Test("pause holds across a worker restart and a supervisor restart; resume lifts it")
        func pauseAndResume() async throws {
            try await withBosun { bosun in
                let paused = try await bosun.cli(["pause"])
                #expect(paused.status == .exited(code: 0))
                #expect(try await bosun.process("worker").paused == true)
                let worker = try await bosun.process("worker")
                kill(worker.pid!, SIGKILL)
                let replacement = try await bosun.waitForReplacement(of: "worker", oldPID: worker.pid)
                try await eventually("the new worker is told it is paused") {
                    let log =
                        (try? String(contentsOfFile: bosun.directory.file("state/logs/worker.log"), encoding: .utf8))
                        ?? ""
                    return log.contains("[\(replacement.pid!)] info claims paused")
                }
                #expect(await bosun.stop() == .exited(code: 0))

                let again = try TestProcess(
                    Binaries.bosun, ["run", "-c", bosun.configPath], output: bosun.directory.file("second.out"))
                defer { Task { await again.terminate() } }
                try await bosun.waitUntilReady()
                #expect(try await bosun.process("worker").paused == true)
                let resumed = try await bosun.cli(["resume"])
                #expect(resumed.status == .exited(code: 0))
                #expect(try await bosun.process("worker").paused == false)
                again.signal(SIGTERM)
                #expect(await again.wait() == .exited(code: 0))
            }
        }

        @Test("worker reports open the breaker, which the worker is told of, survives a restart, and resets")
        func breaker() async throws {
            let config = """
                breaker: { threshold: 3, pause_s: 120, max_pause_s: 600 }
                supervisor:
                  executables: { worker: \(fixtures)/fake-worker.py }
                """
            try await withBosun(extraConfig: config) { bosun in
                try await eventually("the breaker opens") { (try? await bosun.status())?.breaker.state == .open }
                let breaker = try await bosun.status().breaker
                #expect(breaker.trips == 1)
                #expect(breaker.reason == "429 from the fake")
                let retryIn = breaker.retryAt!.timeIntervalSince(breaker.openedAt!)
                #expect(retryIn == 120)
                try await eventually("the worker hears of it") {
                    let log =
                        (try? String(contentsOfFile: bosun.directory.file("state/logs/worker.log"), encoding: .utf8))
                        ?? ""
                    return log.contains("event breaker_changed") && log.contains("\"state\": \"open\"")
                }
                let shown = try await bosun.cli(["breaker"])
                #expect(shown.output.contains("breaker: OPEN until"))

                #expect(await bosun.stop() == .exited(code: 0))
                let again = try TestProcess(
                    Binaries.bosun, ["run", "-c", bosun.configPath], environment: ["FAKE_WORKER_TRANSIENTS": "0"],
                    output: bosun.directory.file("second.out"))
                defer { Task { await again.terminate() } }
                try await bosun.waitUntilReady()
                #expect(try await bosun.status().breaker.state == .open)

                let reset = try await bosun.cli(["breaker", "--reset"])
                #expect(reset.status == .exited(code: 0))
                #expect(reset.output.contains("breaker: closed"))
                let closed = try await bosun.status().breaker
                #expect(closed.state == .closed)
                #expect(closed.trips == 0)
                again.signal(SIGTERM)
                #expect(await again.wait() == .exited(code: 0))
            }
        }

        @Test("bosun stop returns once everything has exited")
        func stopCommand() async throws {
            try await withBosun { bosun in
                let pids = try await bosun.status().processes.compactMap(\.pid)
                let stop = try await bosun.cli(["stop"])
                #expect(stop.status == .exited(code: 0))
                #expect(stop.output == "stopped\n")
                #expect(await bosun.process.wait(timeout: .seconds(5)) == .exited(code: 0))
                for pid in pids { #expect(ProcessTable.stat(of: pid) == nil || ProcessTable.stat(of: pid)!.isZombie) }
            }
        }

        @Test("init writes a starter config that checks out and runs")
        func initStarter() async throws {
            let directory = TemporaryDirectory("bosun-init")
            let target = directory.file("site")
            let created = try await bosun(["init", target], in: directory)
            #expect(created.status == .exited(code: 0))
            var info = stat()
            stat(target + "/api-token", &info)
            #expect(info.st_mode & 0o777 == 0o600)
            let again = try await bosun(["init", target], in: directory)
            #expect(again.status == .exited(code: 1))
            #expect(again.output.contains("already exists; not overwriting it"))
            let check = try await bosun(["check-config", "-c", target + "/bosun.yaml"], in: directory)
            #expect(check.status == .exited(code: 0), "\(check.output)")
        }
    }
}
