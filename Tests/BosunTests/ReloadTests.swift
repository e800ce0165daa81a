import Foundation
import IPC
import Store
import Testing

#if canImport(Glibc)
import Glibc
#endif

extension ProcessLevel {
    @Suite("Hot reload")
    struct HotReload {
        /// A GitHub project whose webhooks are signed with the `hook-secret` file.
        static func project(_ name: String) -> String {
            """

            - name: \(name)
              tracker: github
              repo: { url: https://github.com/acme/\(name).git }
              webhook: { secret_file: ./hook-secret }
            """.replacingOccurrences(of: "\n", with: "\n  ")
        }

        static func post(port: Int, project: String, delivery: String) throws -> HTTPTestClient.Reply {
            let fixture = try #require(WebhookFixture.all.first { $0.path == "github/issues.opened.json" })
            return try HTTPTestClient(port: port).send(
                "POST", "/webhooks/github/\(project)",
                headers: try fixture.headers(delivery: delivery, secret: "reload-secret") + [
                    ("Content-Type", "application/json"), ("Connection", "close"),
                ], body: fixture.body)
        }

        static func stored(_ bosun: BosunInstance, project: String) throws -> [String] {
            let inbox = try Database(path: bosun.directory.file("state/inbox.db"))
            return try inbox.read {
                try $0.query("SELECT delivery_id FROM deliveries WHERE project = ? ORDER BY id", .text(project))
            }.compactMap { try $0.string("delivery_id") }
        }

        static func supervisorLog(_ bosun: BosunInstance) -> String {
            (try? String(contentsOfFile: bosun.directory.file("state/logs/supervisor.log"), encoding: .utf8)) ?? ""
        }

        @Test("a project added by bosun reload or by SIGHUP takes webhooks at once; an invalid file changes nothing")
        func addProject() async throws {
            let scratch = TemporaryDirectory("bosun-reload")
            let notify = try NotifySocket(path: scratch.file("notify.sock"))
            let base = "projects:" + Self.project("first") + "\n"
            try await withBosun(
                extraConfig: base, environment: ["NOTIFY_SOCKET": notify.path],
                files: ["hook-secret": "reload-secret\n"]
            ) { bosun in
                let port = try await bosun.port()
                let pids = try await bosun.status().processes.map(\.pid)
                #expect(try Self.post(port: port, project: "first", delivery: "d-1").status == 202)
                #expect(try Self.post(port: port, project: "second", delivery: "d-2").status == 404)

                // bosun reload: the new project's webhooks are accepted and stored, nothing restarted.
                let original = try String(contentsOfFile: bosun.configPath, encoding: .utf8)
                let withSecond = original + Self.project("second") + "\n"
                try withSecond.write(toFile: bosun.configPath, atomically: true, encoding: .utf8)
                let reload = try await bosun.cli(["reload"])
                #expect(reload.status == .exited(code: 0), "\(reload.output)")
                #expect(reload.output.contains("project second added"), "\(reload.output)")
                let accepted = try Self.post(port: port, project: "second", delivery: "d-3")
                #expect(accepted.status == 202, "\(accepted.body)")
                #expect(try Self.stored(bosun, project: "second") == ["d-3"])

                // SIGHUP to the supervisor does the same.
                #expect(try Self.post(port: port, project: "third", delivery: "d-4").status == 404)
                let withThird = withSecond + Self.project("third") + "\n"
                try withThird.write(toFile: bosun.configPath, atomically: true, encoding: .utf8)
                let reloadsBefore = notify.with("RELOADING=1").count
                bosun.process.signal(SIGHUP)
                try await eventually("the SIGHUP reload is done") {
                    notify.with("RELOADING=1").count > reloadsBefore
                        && Self.supervisorLog(bosun).contains("project third added")
                }
                let viaSignal = try Self.post(port: port, project: "third", delivery: "d-5")
                #expect(viaSignal.status == 202, "\(viaSignal.body)")
                #expect(try Self.stored(bosun, project: "third") == ["d-5"])

                // An invalid file, by SIGHUP and by bosun reload: nothing changes; STATUS=, the log and the exit
                // code say why.
                try (withThird + "worker: { lease_s: soon }\n").write(
                    toFile: bosun.configPath, atomically: true, encoding: .utf8)
                let why = "worker.lease_s: must be an integer, not \"soon\""
                bosun.process.signal(SIGHUP)
                try await eventually("STATUS= says why the SIGHUP reload failed") {
                    notify.all.contains { $0.text.contains("STATUS=reload failed (") && $0.text.contains(why) }
                }
                #expect(try await bosun.status().supervisor.statusText.contains(why))
                #expect(Self.supervisorLog(bosun).contains("reload failed; keeping the running configuration"))
                // Metadata values are quoted, so the reason's own quotes appear escaped.
                let logged = #"error="worker.lease_s: must be an integer, not \"soon\""#
                #expect(Self.supervisorLog(bosun).contains(logged))
                let refused = try await bosun.cli(["reload"])
                #expect(refused.status == .exited(code: 1))
                #expect(refused.output.contains("the config is invalid; nothing changed"))
                #expect(refused.output.contains(why))
                #expect(try Self.post(port: port, project: "third", delivery: "d-6").status == 202)
                #expect(try await bosun.status().processes.map(\.pid) == pids)

                // Fixed again: the failure leaves STATUS=.
                try withThird.write(toFile: bosun.configPath, atomically: true, encoding: .utf8)
                let fixed = try await bosun.cli(["reload"])
                #expect(fixed.status == .exited(code: 0), "\(fixed.output)")
                #expect(fixed.output == "reloaded: no changes\n")
                #expect(
                    try await bosun.status().supervisor.statusText == "ingress ready, worker ready, gatekeeper ready")
                #expect(notify.all.last { $0.text.contains("STATUS=") }?.text.contains("reload failed") == false)
                #expect(try await bosun.status().processes.map(\.pid) == pids)
            }
        }
    }
}
