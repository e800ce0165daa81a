import Foundation
import Store
import Testing

/// Debian's headless Chromium with a profile of its own, so that the session cookie one page set is sent by the
/// next. In a container it needs `--no-sandbox` (no user namespaces for its sandbox) and `--disable-dev-shm-usage`
/// (a small /dev/shm).
struct HeadlessChromium {
    let directory: TemporaryDirectory

    static func binary() throws -> String {
        guard
            let found = ["/usr/bin/chromium", "/usr/bin/chromium-browser"].first(
                where: FileManager.default.isExecutableFile)
        else { throw TestFailure("chromium is not installed: run scripts/setup.sh (Debian's chromium package)") }
        return found
    }

    private func run(_ arguments: [String]) async throws -> String {
        let flags = [
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
            "--no-default-browser-check", "--disable-extensions", "--user-data-dir=\(directory.file("profile"))",
        ]
        // Chromium's own complaints (no D-Bus here) go to a file, so that stdout is only what was asked for.
        let result = try await BosunTests.run(
            "/bin/sh", ["-c", "exec \"$@\" 2>>\"$CHROMIUM_LOG\"", "sh", try Self.binary()] + flags + arguments,
            environment: ["CHROMIUM_LOG": directory.file("chromium.log")], in: directory)
        guard result.status == .exited(code: 0) else {
            let log = (try? String(contentsOfFile: directory.file("chromium.log"), encoding: .utf8)) ?? ""
            throw TestFailure("chromium \(arguments) ended \(result.status): \(result.output)\n\(log.suffix(2000))")
        }
        return result.output
    }

    /// The page's DOM after it loaded and its scripts ran, as Chromium serializes it.
    func dumpDOM(_ url: String) async throws -> String {
        try await run(["--dump-dom", url])
    }

    func screenshot(_ url: String, to path: String, width: Int = 1280, height: Int = 1100) async throws {
        _ = try await run(["--hide-scrollbars", "--window-size=\(width),\(height)", "--screenshot=\(path)", url])
    }
}

/// The part of `dom` from `start` to the next `end`, or "".
func slice(_ dom: String, from start: String, to end: String) -> String {
    guard let begin = dom.range(of: start) else { return "" }
    let rest = dom[begin.lowerBound...]
    guard let finish = rest.range(of: end) else { return String(rest) }
    return String(rest[..<finish.upperBound])
}

extension ProcessLevel {
    @Suite("Dashboard in a browser")
    struct DashboardBrowserTests {
        @Test("the dashboard in headless Chromium: processes, breaker, tasks by stage, a timeline, a live log")
        func chromium() async throws {
            let browser = HeadlessChromium(directory: TemporaryDirectory("bosun-chromium"))
            try await withDashboard { bosun, client in
                let port = client.port
                let hostile = try await client.createTask(["project": "demo", "title": hostileTitle, "body": "x"])
                let design = try await client.createTask([
                    "project": "demo", "title": "Design the plugin API", "stage": "architecture",
                ])
                let waiting = try await client.createTask([
                    "project": "demo", "title": "Upgrade SQLite to 3.46", "stage": "created",
                ])
                let blocked = try await client.createTask([
                    "project": "demo", "title": "Retry failed webhook deliveries", "stage": "blocked",
                ])
                let done = try await client.createTask([
                    "project": "demo", "title": "Fix the README typo", "stage": "done",
                ])
                let database = try Database(path: bosun.directory.file("state/bosun.db"))
                var liveRun: RunRecord?
                try await eventually(timeout: .seconds(60), "analysis waits for approval; the design run talks") {
                    let analysed = try database.read { try $0.task(id: hostile) }?.waitingOn == "approval"
                    liveRun = try database.read { try $0.runs(taskID: design) }.first { $0.state == "running" }
                    let lines = liveRun.flatMap { try? String(contentsOfFile: $0.logPath, encoding: .utf8) } ?? ""
                    return analysed && lines.contains("working: step 3\n")
                }
                let runID = try #require(liveRun?.id)

                // Logged in through `bosun dashboard`'s one-time link: the redirect lands on the overview.
                let link = try await bosun.cli(["dashboard"])
                let url = try #require(link.output.split(separator: "\n").last.map(String.init), "\(link.output)")
                let overview = try await browser.dumpDOM(url)
                #expect(overview.contains("<title>Bosun</title>"), "\(overview.prefix(3000))")
                let processes = slice(overview, from: "id=\"process-table\"", to: "</table>")
                for name in ["ingress", "worker", "gatekeeper"] {
                    let row = slice(processes, from: "<span class=\"process-name\">\(name)</span>", to: "</tr>")
                    #expect(row.contains(">ready</span>"), "\(name): \(row)")
                }
                #expect(overview.contains("id=\"breaker-state\"><span class=\"badge is-closed\">closed</span>"))
                for (stage, task) in [
                    ("analysis", hostile), ("architecture", design), ("created", waiting), ("blocked", blocked),
                    ("done", done),
                ] {
                    let section = slice(overview, from: "data-stage=\"\(stage)\"", to: "</section>")
                    #expect(section.contains("href=\"/tasks/\(task)\""), "task \(task) under \(stage): \(section)")
                }
                #expect(overview.contains("href=\"/runs/\(runID)\""), "the running run is listed")
                // The hostile title is text in the DOM: escaped by the serializer, never an element.
                let serialized = "&lt;script&gt;document.title='pwned'&lt;/script&gt; &amp; \"quotes\" ünïcødé 🚀"
                #expect(overview.contains(serialized))
                #expect(!overview.contains("<script>document.title"))
                #expect(!overview.contains("pwned</title>"))

                // The same browser (its cookie) on the task page: the timeline, and still no script from the title.
                let taskPage = try await browser.dumpDOM("http://127.0.0.1:\(port)/tasks/\(hostile)")
                #expect(
                    taskPage.contains("<title>Task \(hostile): &lt;script&gt;document.title='pwned'&lt;/script&gt;"))
                let timeline = slice(taskPage, from: "id=\"timeline\"", to: "</table>")
                #expect(timeline.contains(">created</span>") && timeline.contains(">analysis</span>"), "\(timeline)")
                #expect(timeline.contains("created through the API"))
                #expect(!taskPage.contains("<script>document.title"))

                // The run page: the log so far, and the tail script running (allowed by the policy) says so.
                let runPage = try await browser.dumpDOM("http://127.0.0.1:\(port)/runs/\(runID)")
                #expect(runPage.contains("working: step 1\nworking: step 2\n"))
                #expect(runPage.contains("id=\"log-status\" class=\"is-live\">following</span>"), "\(runPage)")

                // Without the cookie (a fresh profile) the browser ends on the login form.
                let stranger = HeadlessChromium(directory: TemporaryDirectory("bosun-chromium"))
                let login = try await stranger.dumpDOM("http://127.0.0.1:\(port)/tasks/\(hostile)")
                #expect(login.contains("<form method=\"post\" action=\"/login\""))
                #expect(!login.contains("pwned"))

                let screenshot = browser.directory.file("overview.png")
                try await browser.screenshot("http://127.0.0.1:\(port)/", to: screenshot)
                let png = try Data(contentsOf: URL(fileURLWithPath: screenshot))
                #expect(png.starts(with: [0x89, 0x50, 0x4E, 0x47]))
                #expect(png.count > 20_000, "a page, not a blank: \(png.count) bytes")
                // scripts/dashboard-screenshot.sh sets this to refresh docs/dashboard.png.
                if let target = ProcessInfo.processInfo.environment["BOSUN_DASHBOARD_SCREENSHOT"] {
                    try? FileManager.default.removeItem(atPath: target)
                    try FileManager.default.copyItem(atPath: screenshot, toPath: target)
                }
            }
        }
    }
}
