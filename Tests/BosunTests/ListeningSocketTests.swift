import Foundation
import IPC
import Testing

#if canImport(Glibc)
import Glibc
#endif

extension ProcessLevel {
    @Suite("The listening socket survives ingress")
    struct ListeningSocket {
        @Test("20 kill -9 of ingress while a client connects in a loop: zero connections refused")
        func ingressKillsRefuseNothing() async throws {
            let config = "supervisor:\n  restart: { base_ms: 10, max_ms: 50, budget: 100, window_s: 60 }\n"
            try await withBosun(extraConfig: config) { bosun in
                let port = try await bosun.port()
                let client = ConnectLoop(port: port)
                for _ in 0..<20 {
                    let ingress = try await bosun.process("ingress")
                    kill(ingress.pid!, SIGKILL)
                    _ = try await bosun.waitForReplacement(of: "ingress", oldPID: ingress.pid)
                }
                let counts = client.stop()
                #expect(counts.refused == 0)
                #expect(counts.otherErrors == 0)
                #expect(counts.succeeded > 100)
                #expect(try await bosun.process("ingress").restarts == 20)
                #expect(try httpGet(port: port, path: "/healthz").status == 200)
            }
        }

        @Test("a request sent while ingress is down is answered by the next ingress")
        func queuedWhileDown() async throws {
            let config = "supervisor:\n  restart: { base_ms: 500, max_ms: 500, budget: 10, window_s: 60 }\n"
            try await withBosun(extraConfig: config) { bosun in
                let port = try await bosun.port()
                let ingress = try await bosun.process("ingress")
                kill(ingress.pid!, SIGKILL)
                try await eventually("ingress in backoff") { (try? await bosun.process("ingress"))?.state == .backoff }
                // Nobody accepts for ~500 ms; the kernel queues the connection and the request.
                let response = try httpGet(port: port, path: "/healthz")
                #expect(response.status == 200)
            }
        }

        @Test("rolling restart replaces every child, ingress without refusing a connection")
        func rollingRestart() async throws {
            try await withBosun { bosun in
                let port = try await bosun.port()
                let before = try await bosun.status().processes
                let client = ConnectLoop(port: port)
                let result = try await bosun.cli(["rolling-restart"])
                let counts = client.stop()
                #expect(result.status == .exited(code: 0), "\(result.output)")
                let after = try await bosun.status().processes
                for (old, new) in zip(before, after) {
                    #expect(old.pid != new.pid)
                    #expect(new.state == .ready)
                    #expect(new.restarts == 0)
                    #expect(result.output.contains("\(new.name): \(old.pid!) -> \(new.pid!)"))
                }
                #expect(counts.refused == 0)
                #expect(counts.otherErrors == 0)
                #expect(try httpGet(port: port, path: "/healthz").status == 200)
            }
        }

        @Test("the listen address comes from systemd socket activation when LISTEN_FDS is set")
        func socketActivation() async throws {
            // Bind a listener here and pass it as fd 3, as systemd does.
            let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            _ = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    bind(listener, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
            listen(listener, 128)
            var bound = sockaddr_in()
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            _ = withUnsafeMutablePointer(to: &bound) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(listener, $0, &length) }
            }
            let port = Int(UInt16(bigEndian: bound.sin_port))
            defer { close(listener) }

            let directory = TemporaryDirectory("bosun-activation")
            let config = try directory.write("bosun.yaml", "state_dir: ./state\nlisten: 127.0.0.1:1\n")
            // LISTEN_PID must be the supervisor's pid, which only a wrapper that execs it can know.
            let wrapper = try writeScript(
                "activate", in: directory, "export LISTEN_PID=$$ LISTEN_FDS=1\nexec \(Binaries.bosun) run -c \(config)")
            let process = try TestProcess(
                wrapper, [], output: directory.file("out"), extraDescriptors: [(listener, 3)])
            defer { Task { await process.terminate() } }
            try await eventually("ingress answers on the passed socket; output: \(process.output)") {
                (try? httpGet(port: port, path: "/healthz").status) == 200
            }
            #expect(process.output.contains("using the socket from systemd"))
            let status = try await IPCClient.withConnection(
                path: directory.file("state/run/control.sock"),
                hello: Hello(role: .cli, pid: getpid(), program: "test", version: "test"), logger: quietLogger
            ) { try await $0.request(Status()) }
            #expect(status.supervisor.listen == "127.0.0.1:\(port)")
            for child in status.processes {
                let environment = try String(contentsOfFile: "/proc/\(child.pid!)/environ", encoding: .utf8)
                #expect(!environment.contains("LISTEN_FDS="))
                #expect(!environment.contains("LISTEN_PID="))
            }
            await process.terminate()
        }
    }
}
