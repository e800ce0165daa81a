import Foundation
import IPC
import Store

/// `GET /`: the processes, the breaker, the queue, the tasks by stage and the latest deliveries.
struct OverviewPage {
    /// A delivery as the overview lists it (no body).
    struct Delivery {
        var id: Int64
        var source: String
        var project: String
        var event: String
        var receivedAtMs: Int64
        /// The gatekeeper has applied it.
        var applied: Bool
    }

    var state: TasksAPI.ServiceState
    var tasks: [TaskRecord]
    var deliveries: [Delivery]
    /// Every known stage in workflow order, with its kind (`queue`, `active`, `hold`, `terminal`).
    var stages: [(name: String, kind: String)]
    var nowMs: Int64

    /// Seconds between automatic reloads.
    static let refreshSeconds = 10

    private static let runColumns = ["Run", "Job", "State", "Worker", "Started", "For"]
    private static let taskColumns = ["Task", "Issue", "Title", "Waiting on", "In stage", "Updated"]

    func render() -> HTML {
        PageLayout.document(
            title: "Bosun", signedIn: true, refreshSeconds: Self.refreshSeconds,
            """
            \(supervisor())
            <div class="columns">
            <section id="processes"><h2>Processes</h2>\(processes())</section>
            <section id="breaker"><h2>Circuit breaker</h2>\(breaker())</section>
            </div>
            <section id="queue"><h2>Job queue</h2>\(queue())</section>
            <section id="tasks"><h2>Tasks by stage</h2>\(tasksByStage())</section>
            <section id="deliveries"><h2>Recent deliveries</h2>\(recentDeliveries())</section>
            """)
    }

    private func supervisor() -> HTML {
        guard let supervisor = state.supervisor else {
            return """
                <p class="warning" id="supervisor">The supervisor did not answer: processes and breaker are \
                unknown.</p>
                """
        }
        return """
            <p id="supervisor">bosun \(supervisor.version) · pid \(supervisor.pid) · \(supervisor.state) · \
            up \(PageLayout.duration(seconds: supervisor.uptimeS)) · \
            <span class="status">\(supervisor.statusText)</span></p>
            """
    }

    private func processes() -> HTML {
        guard let processes = state.processes else { return "<p class=\"empty\">unknown</p>" }
        let rows = processes.map { process -> [HTML] in
            var notes: [String] = []
            if let failure = process.failure { notes.append(failure) }
            if let backoff = process.backoffMs {
                notes.append("restart in \(PageLayout.duration(seconds: Double(backoff) / 1000))")
            }
            if process.paused == true { notes.append("claims paused") }
            return [
                "<span class=\"process-name\">\(process.name)</span>", PageLayout.badge(process.state.rawValue),
                process.pid.map { "\($0)" } ?? "–", "\(process.restarts)",
                process.uptimeS.map { "\(PageLayout.duration(seconds: $0))" } ?? "–",
                process.lastExit.map { "\($0.description)" } ?? "–", "\(notes.joined(separator: "; "))",
            ]
        }
        return PageLayout.table(
            id: "process-table", ["Process", "State", "PID", "Restarts", "Uptime", "Last exit", "Note"], rows,
            empty: "no processes")
    }

    private func breaker() -> HTML {
        guard let breaker = state.breaker else { return "<p class=\"empty\">unknown</p>" }
        return PageLayout.facts([
            ("State", "<span id=\"breaker-state\">\(PageLayout.badge(breaker.state.rawValue))</span>"),
            ("Transients in a row", "\(breaker.consecutiveTransients) of \(breaker.threshold)"),
            ("Trips", "\(breaker.trips)"),
            ("Pause", "\(PageLayout.duration(seconds: Double(breaker.pauseS)))"),
            ("Opened", breaker.openedAt.map(PageLayout.time)),
            ("Retry at", breaker.retryAt.map(PageLayout.time)),
            ("Reason", breaker.reason.map { "\($0)" }),
        ])
    }

    private func queue() -> HTML {
        let order = ["queued", "running", "succeeded", "failed", "cancelled"]
        let counts = order.map { name -> HTML in
            let count = state.jobs[name] ?? 0
            return "<li class=\"\(PageLayout.cssClass(name))\"><span class=\"count\">\(count)</span> \(name)</li>"
        }
        let inbox = state.inbox
        let outbox = ["pending", "done", "failed"].map { "\(state.outbox[$0] ?? 0) \($0)" }.joined(separator: ", ")
        let runs = state.runningRuns.map { run -> [HTML] in
            [
                "<a href=\"/runs/\(run.id)\">run \(run.id)</a>", "job \(run.jobID)", PageLayout.badge(run.state),
                "\(run.worker)", PageLayout.time(run.startedAtMs),
                "\(PageLayout.duration(fromMs: run.startedAtMs, toMs: nowMs))",
            ]
        }
        return """
            <ul class="counts" id="job-counts">\(counts)<li class="is-retrying"><span class="count">\(state.retrying)\
            </span> waiting to retry</li></ul>
            <p>Inbox: \(inbox.unprocessed) unprocessed, lag \(PageLayout.duration(seconds: inbox.lagS)). \
            Outbox: \(outbox).</p>
            <h3>Running</h3>
            \(PageLayout.table(id: "running-runs", Self.runColumns, runs, empty: "no runs in progress"))
            """
    }

    private func tasksByStage() -> HTML {
        guard !tasks.isEmpty else { return "<p class=\"empty\">no tasks yet</p>" }
        var known = stages
        for task in tasks where !known.contains(where: { $0.name == task.state }) {
            known.append((task.state, "unknown"))
        }
        let sections = known.compactMap { stage -> HTML? in
            let members = tasks.filter { $0.state == stage.name }
            guard !members.isEmpty else { return nil }
            let rows = members.map { task -> [HTML] in
                [
                    "<a href=\"/tasks/\(task.id)\">#\(task.id)</a>", "\(task.project)#\(task.issue)",
                    "<span class=\"title\">\(task.title)</span>", "\(task.waitingOn ?? "–")",
                    "\(PageLayout.duration(fromMs: task.stateEnteredAtMs, toMs: nowMs))",
                    PageLayout.time(task.updatedAtMs),
                ]
            }
            return """
                <section class="stage" id="stage-\(PageLayout.cssClass(stage.name))" data-stage="\(stage.name)">
                <h3>\(PageLayout.badge(stage.name, kind: stage.kind)) <span class="count">\(members.count)</span></h3>
                \(PageLayout.table(class: "tasks", Self.taskColumns, rows, empty: ""))
                </section>
                """
        }
        return HTML.join(sections, separator: "\n")
    }

    private func recentDeliveries() -> HTML {
        let rows = deliveries.map { delivery -> [HTML] in
            [
                "\(delivery.source)", "\(delivery.event)", "\(delivery.project)",
                PageLayout.time(delivery.receivedAtMs),
                PageLayout.badge(delivery.applied ? "applied" : "pending"),
            ]
        }
        return PageLayout.table(
            id: "delivery-table", ["Source", "Event", "Project", "Received", "Applied"], rows,
            empty: "no deliveries yet")
    }
}
