import IPC
import Store

/// The service-wide families of `/metrics`: the supervisor's processes and breaker (from its status reply) and the
/// queue, runs, inbox, outbox and forge calls (from the store). A source that cannot be read leaves its families
/// out; `bosun_supervisor_reachable` says whether the supervisor answered.
struct ServiceMetrics {
    /// Kinds and states that always get a series, zero when no row has them, so that queries and alerts find them.
    static let jobKinds = ["agent", "gate", "merge"]
    static let jobStates = ["queued", "running", "succeeded", "failed", "cancelled"]
    static let runOutcomes = ["success", "transient", "permanent", "timeout", "lost"]
    static let effectKinds = ["forge", "local", "notify"]
    static let effectStates = ["pending", "done", "failed"]

    var status: StatusReport?
    var figures: StoreFigures?
    var nowMs: Int64

    func write(into text: inout PrometheusText) {
        writeSupervisor(into: &text)
        if let figures {
            writeWork(figures.work, into: &text)
            writeRuns(figures.runs, live: figures.work.liveRuns, into: &text)
            writeForge(figures.forge, into: &text)
        }
    }

    // MARK: Supervisor

    private func writeSupervisor(into text: inout PrometheusText) {
        text.single(
            "bosun_supervisor_reachable", .gauge, help: "1 if the supervisor answered the last status request.",
            status == nil ? 0 : 1)
        guard let status else { return }
        text.single(
            "bosun_supervisor_uptime_seconds", .gauge, help: "Seconds since the supervisor started.",
            status.supervisor.uptimeS)
        let processes = status.processes
        text.family(
            "bosun_process_state", .gauge, help: "1 for the state each supervised process is in, 0 for the others.",
            processes.flatMap { process in
                ProcessState.allCases.map { state in
                    ([("process", process.name), ("state", state.rawValue)], process.state == state ? 1.0 : 0)
                }
            })
        text.family(
            "bosun_process_restarts_total", .counter,
            help: "Restarts of each process after a crash since the supervisor started.",
            processes.map { ([("process", $0.name)], Double($0.restarts)) })
        text.family(
            "bosun_process_uptime_seconds", .gauge, help: "Seconds since the running instance of each process started.",
            processes.compactMap { process in process.uptimeS.map { ([("process", process.name)], $0) } })
        if let paused = processes.first(where: { $0.name == "worker" })?.paused {
            text.single(
                "bosun_worker_paused", .gauge, help: "1 while the operator has paused job claims.", paused ? 1 : 0)
        }
        let breaker = status.breaker
        text.family(
            "bosun_breaker_state", .gauge, help: "1 for the circuit breaker's state, 0 for the others.",
            BreakerState.allCases.map { ([("state", $0.rawValue)], breaker.state == $0 ? 1.0 : 0) })
        text.family(
            "bosun_breaker_transitions_total", .counter,
            help: "Moves of the circuit breaker into each state since the supervisor started.",
            [
                ([("to", BreakerState.open.rawValue)], Double(breaker.transitions.opened)),
                ([("to", BreakerState.halfOpen.rawValue)], Double(breaker.transitions.halfOpened)),
                ([("to", BreakerState.closed.rawValue)], Double(breaker.transitions.closed)),
            ])
        text.single(
            "bosun_breaker_consecutive_transients", .gauge,
            help: "Transient failures in a row; the breaker opens at its threshold.",
            Double(breaker.consecutiveTransients))
    }

    // MARK: Store

    private func writeWork(_ work: WorkFigures, into text: inout PrometheusText) {
        text.family(
            "bosun_jobs", .gauge, help: "Jobs by kind and state (queued and running are the queue's depth).",
            Self.grid(work.jobs, kinds: Self.jobKinds, states: Self.jobStates, stateLabel: "state"))
        text.family(
            "bosun_jobs_retrying", .gauge, help: "Queued jobs waiting out a retry backoff, by kind.",
            Self.byKind(work.retryingJobs, kinds: Self.jobKinds))
        text.family(
            "bosun_tasks_active", .gauge, help: "Active tasks by workflow state.",
            work.activeTasks.sorted { $0.key < $1.key }.map { ([("state", $0.key)], Double($0.value)) })
        text.single(
            "bosun_inbox_unprocessed", .gauge, help: "Deliveries stored and not yet applied by the gatekeeper.",
            Double(work.inbox.unprocessed))
        text.single(
            "bosun_inbox_lag_seconds", .gauge, help: "Age of the oldest unprocessed delivery.",
            Self.age(since: work.inbox.oldestReceivedAtMs, now: nowMs))
        text.family(
            "bosun_outbox_effects", .gauge,
            help: "Outbox effects by kind and state (pending is the backlog still to send).",
            Self.grid(work.outbox, kinds: Self.effectKinds, states: Self.effectStates, stateLabel: "state"))
        text.family(
            "bosun_outbox_failed_attempts_total", .counter,
            help: "Attempts at outbox effects that failed (transient or permanent), by kind.",
            Self.byKind(work.outboxFailedAttempts, kinds: Self.effectKinds))
        text.single(
            "bosun_outbox_oldest_pending_seconds", .gauge, help: "Age of the oldest pending outbox effect.",
            Self.age(since: work.oldestPendingEffectAtMs, now: nowMs))
    }

    private func writeRuns(_ runs: RunFigures, live: [String: Int], into text: inout PrometheusText) {
        text.family(
            "bosun_runs_running", .gauge, help: "Agent and gate runs not yet finished, by job kind.",
            Self.byKind(live, kinds: Self.jobKinds))
        text.family(
            "bosun_runs_total", .counter, help: "Finished runs by job kind and outcome.",
            Self.grid(runs.outcomes, kinds: Self.jobKinds, states: Self.runOutcomes, stateLabel: "outcome"))
        let bounds = StoreFigures.runDurationBuckets
        let kinds = Self.jobKinds + runs.durations.keys.filter { !Self.jobKinds.contains($0) }.sorted()
        text.histogram(
            "bosun_run_duration_seconds", help: "Durations of finished runs, by job kind.",
            kinds.map { kind in
                let durations = runs.durations[kind]
                return PrometheusText.HistogramSeries(
                    labels: [("kind", kind)], bounds: bounds,
                    cumulativeCounts: durations?.cumulativeCounts ?? Array(repeating: 0, count: bounds.count),
                    count: durations?.count ?? 0, sum: Double(durations?.sumMs ?? 0) / 1000)
            })
    }

    private func writeForge(_ hosts: [ForgeAPIStats], into text: inout PrometheusText) {
        func labels(_ stats: ForgeAPIStats) -> [(String, String)] { [("forge", stats.forge), ("host", stats.host)] }
        text.family(
            "bosun_forge_api_calls_total", .counter,
            help: "Forge API requests by forge, host and status class (error: no response).",
            hosts.flatMap { stats in
                ForgeCallClass.allCases.map { callClass in
                    (labels(stats) + [("status_class", callClass.rawValue)], Double(stats.calls[callClass] ?? 0))
                }
            })
        let limited = hosts.compactMap { stats in stats.rateLimit.map { (stats, $0) } }
        text.family(
            "bosun_forge_rate_limit_remaining", .gauge,
            help: "Requests left in the forge's rate-limit window, as the last response said.",
            limited.map { (labels($0.0), Double($0.1.remaining)) })
        text.family(
            "bosun_forge_rate_limit_limit", .gauge, help: "Requests per rate-limit window, as the last response said.",
            limited.compactMap { stats, limit in limit.limit.map { (labels(stats), Double($0)) } })
        text.family(
            "bosun_forge_rate_limit_reset_timestamp_seconds", .gauge,
            help: "When the forge's rate-limit window resets (Unix time), as the last response said.",
            limited.compactMap { stats, limit in limit.resetAtMs.map { (labels(stats), Double($0) / 1000) } })
        text.family(
            "bosun_forge_rate_limit_seen_timestamp_seconds", .gauge,
            help: "When the last response with rate-limit headers arrived (Unix time).",
            limited.map { (labels($0.0), Double($0.1.seenAtMs) / 1000) })
    }

    // MARK: Shapes

    /// One sample per (kind, state) of the known ones and of any other the rows have, sorted.
    static func grid(
        _ counts: [KindStateCount], kinds: [String], states: [String], stateLabel: String
    ) -> [(labels: [(String, String)], value: Double)] {
        var values: [String: [String: Int]] = [:]
        for count in counts { values[count.kind, default: [:]][count.state, default: 0] += count.count }
        let allKinds = kinds + values.keys.filter { !kinds.contains($0) }.sorted()
        let extraStates = Set(counts.map(\.state)).subtracting(states).sorted()
        return allKinds.flatMap { kind in
            (states + extraStates).map { state in
                ([("kind", kind), (stateLabel, state)], Double(values[kind]?[state] ?? 0))
            }
        }
    }

    /// One sample per kind of the known ones and of any other present.
    static func byKind(_ counts: [String: Int], kinds: [String]) -> [(labels: [(String, String)], value: Double)] {
        (kinds + counts.keys.filter { !kinds.contains($0) }.sorted()).map { ([("kind", $0)], Double(counts[$0] ?? 0)) }
    }

    /// Seconds from `since` to `now`; zero without a start.
    static func age(since: Int64?, now: Int64) -> Double {
        since.map { Double(max(0, now - $0)) / 1000 } ?? 0
    }
}
