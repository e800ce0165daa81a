import Foundation
import IPC
import Store

/// `bosun status` for people.
enum StatusTable {
    static func render(_ report: StatusReport) -> String {
        let supervisor = report.supervisor
        var text =
            "bosun \(supervisor.version) · pid \(supervisor.pid) · \(supervisor.state) · listening on "
            + "\(supervisor.listen) · up \(duration(supervisor.uptimeS))\n"
        text += "status: \(supervisor.statusText)\n\n"
        let rows =
            [["PROCESS", "PID", "STATE", "RESTARTS", "UPTIME", "LAST EXIT"]]
            + report.processes.map { process in
                var state = process.state.rawValue
                if let backoff = process.backoffMs { state += " (\(backoff) ms)" }
                if process.paused == true { state += ", paused" }
                var exit =
                    process.lastExit.map { "\($0.description), \(duration(-$0.at.timeIntervalSinceNow)) ago" } ?? "-"
                if let failure = process.failure { exit += " — \(failure)" }
                return [
                    process.name, process.pid.map(String.init) ?? "-", state, String(process.restarts),
                    process.uptimeS.map(duration) ?? "-", exit,
                ]
            }
        text += TaskStoreAccess.table(rows)
        text += "\n" + describe(report.breaker) + "\n"
        return text
    }

    /// Why the store's figures are missing from the table.
    struct Unavailable: Error {
        var message: String
    }

    /// The queue by kind and state, the runs going on, active tasks, the inbox and the outbox.
    static func render(work: Result<WorkFigures, Unavailable>, nowMs: Int64) -> String {
        let figures: WorkFigures
        switch work {
        case .success(let value): figures = value
        case .failure(let unavailable): return "queue, runs, inbox, outbox: unknown (\(unavailable.message))\n"
        }
        var jobs: [String: [String: Int]] = [:]
        for count in figures.jobs { jobs[count.kind, default: [:]][count.state, default: 0] += count.count }
        let kinds =
            ["agent", "gate", "merge"] + jobs.keys.filter { !["agent", "gate", "merge"].contains($0) }.sorted()
        var rows = [["JOBS", "QUEUED", "RETRYING", "RUNNING", "SUCCEEDED", "FAILED", "CANCELLED"]]
        for kind in kinds {
            let states = jobs[kind] ?? [:]
            rows.append(
                [kind, String(states["queued"] ?? 0), String(figures.retryingJobs[kind] ?? 0)]
                    + ["running", "succeeded", "failed", "cancelled"].map { String(states[$0] ?? 0) })
        }
        var text = TaskStoreAccess.table(rows) + "\n"

        let running = figures.liveRuns.values.reduce(0, +)
        text += "runs: \(running) running\n"
        if !figures.oldestLiveRuns.isEmpty {
            var runRows = [["  RUN", "TASK", "KIND", "ROLE", "STAGE", "RUNNING FOR"]]
            for run in figures.oldestLiveRuns {
                runRows.append([
                    "  \(run.runID)", String(run.taskID), run.kind, run.role, run.stage,
                    duration(Double(nowMs - run.startedAtMs) / 1000),
                ])
            }
            text += TaskStoreAccess.table(runRows)
            if running > figures.oldestLiveRuns.count {
                text += "  … and \(running - figures.oldestLiveRuns.count) more\n"
            }
        }
        let tasks = figures.activeTasks.sorted { $0.key < $1.key }
        let active = tasks.map(\.value).reduce(0, +)
        text +=
            "tasks: \(active) active"
            + (tasks.isEmpty ? "" : " (" + tasks.map { "\($0.key) \($0.value)" }.joined(separator: ", ") + ")") + "\n"

        let lag = figures.inbox.oldestReceivedAtMs.map { Double(max(0, nowMs - $0)) / 1000 } ?? 0
        text += "inbox: \(figures.inbox.unprocessed) unprocessed, lag \(duration(lag))\n"

        var effects: [String: Int] = [:]
        for count in figures.outbox { effects[count.state, default: 0] += count.count }
        let oldest = figures.oldestPendingEffectAtMs.map { " (oldest \(duration(Double(max(0, nowMs - $0)) / 1000)))" }
        let failedAttempts = figures.outboxFailedAttempts.values.reduce(0, +)
        text +=
            "outbox: \(effects["pending"] ?? 0) pending\(oldest ?? ""), \(effects["failed"] ?? 0) failed, "
            + "\(effects["done"] ?? 0) done; \(failedAttempts) failed attempt(s)\n"
        return text
    }

    static func describe(_ breaker: BreakerStatus) -> String {
        switch breaker.state {
        case .closed:
            return "breaker: closed (\(breaker.consecutiveTransients)/\(breaker.threshold) transient failures in a row)"
        case .open:
            let until = breaker.retryAt.map { " until \(ISO8601DateFormatter().string(from: $0))" } ?? ""
            return "breaker: OPEN\(until), claims paused — \(breaker.reason ?? "transient failures") "
                + "(opened \(breaker.trips) time(s); `bosun breaker --reset` closes it)"
        case .halfOpen:
            return "breaker: half-open, one probe job may run — \(breaker.reason ?? "")"
        }
    }

    /// `3d4h`, `2m05s`, `12s`, `0.4s`.
    static func duration(_ seconds: Double) -> String {
        if seconds < 10 { return String(format: "%.1fs", max(seconds, 0)) }
        let total = Int(seconds)
        let (days, hours, minutes, secs) = (total / 86400, total / 3600 % 24, total / 60 % 60, total % 60)
        if days > 0 { return "\(days)d\(hours)h" }
        if hours > 0 { return "\(hours)h\(String(format: "%02d", minutes))m" }
        if minutes > 0 { return "\(minutes)m\(String(format: "%02d", secs))s" }
        return "\(secs)s"
    }
}
