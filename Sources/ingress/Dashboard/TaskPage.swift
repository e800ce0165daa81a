import Store

/// `GET /tasks/{id}`: a task, its timeline of transitions, its jobs, runs and outbox effects.
struct TaskPage {
    var detail: TasksAPI.TaskDetail
    /// The kind (`queue`, `active`, `hold`, `terminal`) of each state of the task's workflow, for the badges.
    var stateKinds: [String: String]
    var nowMs: Int64

    func render() -> HTML {
        let task = detail.task
        return PageLayout.document(
            title: "Task \(task.id): \(task.title)", signedIn: true,
            """
            <h1>Task \(task.id): <span class="title" id="task-title">\(task.title)</span></h1>
            \(facts())
            \(task.feedback.map { "<h2>Feedback for the next agent</h2>\(PageLayout.preformatted($0))" } ?? HTML.empty)
            <details><summary>Issue body</summary>\(PageLayout.preformatted(task.body))</details>
            <section><h2>Timeline</h2>\(timeline())</section>
            <section><h2>Jobs</h2>\(jobs())</section>
            <section><h2>Runs</h2>\(runs())</section>
            <section><h2>Outbox effects</h2>\(effects())</section>
            """)
    }

    private func facts() -> HTML {
        let task = detail.task
        let counters = task.counters.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }
        return PageLayout.facts([
            ("Project", "\(task.project)"),
            ("Issue", "\(task.issue)"),
            ("State", "<span id=\"task-state\">\(badge(task.state))</span>"),
            ("Waiting on", task.waitingOn.map { "\($0)" }),
            ("In state for", "\(PageLayout.duration(fromMs: task.stateEnteredAtMs, toMs: nowMs))"),
            ("Active", task.active ? "yes" : "no"),
            ("Workflow", "\(task.workflow)"),
            ("Level", task.level.map { "\($0)" }),
            ("Branch", "<code>\(task.branch)</code>"),
            ("Pull request", task.pullRequestURL.map(PageLayout.externalLink)),
            ("Author", "\(task.author)"),
            ("Counters", counters.isEmpty ? nil : "\(counters.joined(separator: ", "))"),
            ("Created", PageLayout.time(task.createdAtMs)),
            ("Updated", PageLayout.time(task.updatedAtMs)),
        ])
    }

    private func badge(_ state: String) -> HTML {
        PageLayout.badge(state, kind: stateKinds[state])
    }

    private func timeline() -> HTML {
        let rows = detail.events.map { event -> [HTML] in
            [
                PageLayout.time(event.atMs), event.fromState.map(badge) ?? "–", badge(event.toState), "\(event.event)",
                "<span class=\"reason\">\(event.reason)</span>",
            ]
        }
        return PageLayout.table(id: "timeline", ["Time", "From", "To", "Event", "Reason"], rows, empty: "no events")
    }

    private func jobs() -> HTML {
        let rows = detail.jobs.map { job -> [HTML] in
            [
                "\(job.id)", "\(job.kind)", "\(job.role)", "\(job.stage)", PageLayout.badge(job.state),
                "\(job.attempt)",
                "\(job.failures) + \(job.transientFailures) transient", PageLayout.time(job.availableAtMs),
                "\(PageLayout.truncated(job.lastError ?? "", 300))",
            ]
        }
        return PageLayout.table(
            id: "jobs", ["Job", "Kind", "Role", "Stage", "State", "Attempt", "Failures", "Available", "Last error"],
            rows, empty: "no jobs")
    }

    private func runs() -> HTML {
        let rows = detail.runs.map { run -> [HTML] in
            [
                "<a href=\"/runs/\(run.id)\">run \(run.id)</a>", "\(run.jobID)", "\(run.attempt)",
                PageLayout.badge(run.state),
                run.classification.map { PageLayout.badge($0) } ?? "–", RunPage.exit(run),
                PageLayout.time(run.startedAtMs),
                "\(PageLayout.duration(fromMs: run.startedAtMs, toMs: run.finishedAtMs ?? nowMs))",
                "\(PageLayout.truncated(run.reason ?? "", 300))",
            ]
        }
        return PageLayout.table(
            id: "runs", ["Run", "Job", "Attempt", "State", "Result", "Exit", "Started", "Took", "Reason"], rows,
            empty: "no runs")
    }

    private func effects() -> HTML {
        let rows = detail.effects.map { effect -> [HTML] in
            [
                "\(effect.id)", "\(effect.kind)", "<code>\(PageLayout.truncated(effect.effect, 300))</code>",
                PageLayout.badge(effect.state), "\(effect.attempts)", PageLayout.time(effect.createdAtMs),
                PageLayout.time(effect.doneAtMs), "\(PageLayout.truncated(effect.lastError ?? "", 300))",
            ]
        }
        return PageLayout.table(
            id: "effects", ["Effect", "Kind", "What", "State", "Attempts", "Created", "Done", "Last error"], rows,
            empty: "no effects")
    }
}
