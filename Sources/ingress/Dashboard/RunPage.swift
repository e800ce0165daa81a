import Foundation
import Store

/// `GET /runs/{id}`: one agent or gate run and the end of its log, which follows the file while the run lasts.
struct RunPage {
    var run: RunRecord
    var job: JobRecord?
    /// The last lines of the log, or nil if it has none yet.
    var log: LogChunk?
    var nowMs: Int64

    /// How much of the log the page shows at first.
    static let initialLogBytes = 64 << 10

    /// Whether the run may still write to its log.
    static func isLive(_ run: RunRecord) -> Bool {
        run.state == "starting" || run.state == "running"
    }

    /// `exit 0`, `signal 9`, `timed out`, or `–`.
    static func exit(_ run: RunRecord) -> HTML {
        var parts: [String] = []
        if let code = run.exitCode { parts.append("exit \(code)") }
        if let signal = run.signal { parts.append("signal \(signal)") }
        if run.timedOut { parts.append("timed out") }
        return parts.isEmpty ? "–" : "\(parts.joined(separator: ", "))"
    }

    func render() -> HTML {
        let live = Self.isLive(run)
        let logURL = "/runs/\(run.id)/log"
        let offset = log?.end ?? 0
        let text = log?.text ?? ""
        let truncatedNote: HTML =
            (log?.start ?? 0) > 0
            ? "<p class=\"note\">The log's first \(log?.start ?? 0) bytes are not shown.</p>" : .empty
        return PageLayout.document(
            title: "Run \(run.id)", signedIn: true,
            """
            <h1>Run \(run.id)\(job.map { " · \($0.kind) \($0.stage)" as HTML } ?? .empty)</h1>
            \(facts())
            <section><h2>Log <span id="log-status" class="\(live ? "is-live" : "is-finished")">\
            \(live ? "live: reload for new lines" : "finished")</span></h2>
            \(truncatedNote)<pre id="log" class="log" data-src="\(logURL)" data-offset="\(offset)" \
            data-live="\(live ? "true" : "false")">\(text)</pre>
            </section>
            <script src="\(DashboardAssets.scriptPath)"></script>
            """)
    }

    private func facts() -> HTML {
        let tokens: HTML? =
            run.inputTokens == nil && run.outputTokens == nil
            ? nil : "\(run.inputTokens ?? 0) in, \(run.outputTokens ?? 0) out"
        return PageLayout.facts([
            ("Task", job.map { "<a href=\"/tasks/\($0.taskID)\">task \($0.taskID)</a>" }),
            ("Job", "\(run.jobID)\(job.map { " (\($0.role), \($0.project))" } ?? "")"),
            ("Attempt", "\(run.attempt)"),
            ("State", "<span id=\"run-state\">\(PageLayout.badge(run.state))</span>"),
            ("Result", run.classification.map { PageLayout.badge($0) }),
            ("Exit", RunPage.exit(run)),
            ("Reason", run.reason.map { "<span class=\"reason\">\($0)</span>" }),
            ("Worker", "\(run.worker)"),
            ("Shim pid", run.shimPID.map { "\($0)" }),
            ("Agent pid", run.agentPID.map { "\($0)" }),
            ("Tokens", tokens),
            ("Cost", run.costUSD.map { "$\(String(format: "%.4f", $0))" }),
            ("Pull request", run.pullRequestURL.map(PageLayout.externalLink)),
            ("Started", PageLayout.time(run.startedAtMs)),
            ("Finished", run.finishedAtMs.map { PageLayout.time($0) }),
            ("Took", "\(PageLayout.duration(fromMs: run.startedAtMs, toMs: run.finishedAtMs ?? nowMs))"),
            ("Log file", "<code>\(run.logPath)</code>"),
        ])
    }
}
