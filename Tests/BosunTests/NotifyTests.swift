import Foundation
import IPC
import Testing

#if canImport(Glibc)
import Glibc
#endif

extension ProcessLevel {
    @Suite("sd_notify")
    struct Notify {
        @Test(
            "READY=1 only once all children are ready; WATCHDOG=1 at half the timeout; RELOADING=1 then READY=1 on SIGHUP; STOPPING=1 on stop"
        )
        func protocolOverDatagrams() async throws {
            let scratch = TemporaryDirectory("bosun-notify")
            let notify = try NotifySocket(path: scratch.file("notify.sock"))
            // The worker fails twice before it starts for real, so readiness is late and observable.
            let counter = scratch.file("count")
            let worker = try writeScript(
                "worker", in: scratch,
                """
                n=$(cat \(counter) 2>/dev/null || echo 0); n=$((n+1)); echo $n > \(counter)
                if [ $n -gt 2 ]; then exec \(Binaries.directory)/bosun-worker; fi
                exit 1
                """)
            let config = """
                supervisor:
                  restart: { base_ms: 300, max_ms: 300, budget: 10, window_s: 60 }
                  executables: { worker: \(worker) }
                """
            try await withBosun(
                extraConfig: config, environment: ["NOTIFY_SOCKET": notify.path, "WATCHDOG_USEC": "400000"],
                waitForReady: false
            ) { bosun in
                try await eventually("READY=1") { !notify.with("READY=1").isEmpty }
                let ready = notify.with("READY=1")[0]
                let report = try await bosun.status()
                #expect(report.processes.allSatisfy { $0.state == .ready })
                #expect(report.processes.first { $0.name == "worker" }?.restarts == 2)
                // Nothing said READY before the worker's third start.
                let before = notify.all.filter { $0.at < ready.at }
                #expect(before.contains { $0.text.contains("worker restarting") })
                #expect(ready.text.contains("STATUS=ingress ready, worker ready, gatekeeper ready"))

                // The children never see the supervisor's systemd variables.
                for process in report.processes {
                    let environment = try String(contentsOfFile: "/proc/\(process.pid!)/environ", encoding: .utf8)
                    #expect(!environment.contains("NOTIFY_SOCKET="))
                    #expect(!environment.contains("WATCHDOG_USEC="))
                    #expect(environment.contains("BOSUN_SUPERVISOR_SOCKET="))
                }

                // WATCHDOG_USEC=400 ms: a ping every 200 ms. The median gap is robust to a ping a loaded machine delays.
                try await Task.sleep(for: .seconds(2))
                let pings = notify.with("WATCHDOG=1").map(\.at)
                #expect(pings.count >= 5, "\(pings.count) pings")
                let gaps = zip(pings.dropFirst(), pings).map { milliseconds($0 - $1) }.sorted()
                let median = gaps.isEmpty ? 0 : gaps[gaps.count / 2]
                #expect((150...300).contains(median), "median gap \(median) ms")

                bosun.process.signal(SIGHUP)
                try await eventually("RELOADING=1 then READY=1") {
                    guard let reloading = notify.with("RELOADING=1").first else { return false }
                    return notify.with("READY=1").contains { $0.at > reloading.at }
                }
                let reloading = try #require(notify.with("RELOADING=1").first)
                #expect(reloading.text.contains("MONOTONIC_USEC="))

                let status = await bosun.stop()
                #expect(status == .exited(code: 0))
                #expect(!notify.with("STOPPING=1").isEmpty)
            }
        }
    }
}

private func milliseconds(_ duration: Duration) -> Int {
    Int(duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000)
}
