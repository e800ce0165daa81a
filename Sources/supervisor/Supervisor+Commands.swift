import Config
import Foundation
import IPC
import LinuxProcess
import ProcessRuntime

/// The control commands and the stop sequence.
extension Supervisor {
    // MARK: Stop

    /// The stop sequence: `STOPPING=1`, every process asked to stop (IPC `stop`, or SIGTERM without a link), SIGKILL
    /// to the process group of any still there after the grace period, then `run` returns.
    func shutdown(reason: String) async {
        guard phase != .stopping else { return }
        phase = .stopping
        statusText = "stopping: \(reason)"
        notifier.stopping(status: statusText)
        logger.info("stopping", metadata: ["reason": "\(reason)"])
        timers.cancelAll()
        // A process whose fork is under way is not in the snapshot below yet; no new spawn starts from here on.
        await waitForSpawns()
        var running: [(ChildName, ChildInstance)] = []
        for name in ChildName.allCases {
            slots[name]!.state = .stopping
            running += ([slots[name]!.current].compactMap { $0 } + slots[name]!.retiring.values).map { (name, $0) }
        }
        await withTaskGroup(of: Void.self) { group in
            for (name, instance) in running {
                group.addTask { await self.stop(instance, name: name, reason: reason) }
            }
        }
        finishStopping()
    }

    /// Stops one process within its grace period (`stop_grace_s`, plus `drain_s` for the worker), then kills its
    /// process group.
    func stop(_ instance: ChildInstance, name: ChildName, reason: String) async {
        var asked = false
        if let connection = instance.connection {
            do {
                _ = try await connection.request(Stop(reason: reason), timeout: .seconds(2))
                asked = true
            } catch {
                // A connection that closes on a stop request is a process on its way out.
                asked = error.code == .closed
            }
        }
        // Signals only go to a pid not yet reaped: until then it cannot have been reused.
        if !asked && known.name(of: instance.pid) != nil {
            kill(instance.pid, SIGTERM)
        }
        let seconds = config.stopGraceSeconds(for: name.rawValue)
        if await waitForExit(instance.pid, timeout: .seconds(seconds)) { return }
        logger.warning(
            "\(name.rawValue) did not stop within \(seconds)s; killing it",
            metadata: ["pid": "\(instance.pid)"])
        if known.name(of: instance.pid) != nil {
            kill(-instance.pid, SIGKILL)
            kill(instance.pid, SIGKILL)
        }
        if !(await waitForExit(instance.pid, timeout: .seconds(5))) {
            logger.error("\(name.rawValue) survived SIGKILL", metadata: ["pid": "\(instance.pid)"])
        }
    }

    /// Starts the stop sequence in `run`'s stop task (so that a `bosun stop` reply goes out first).
    func requestStop(reason: String) {
        stopRequests.continuation.yield(reason)
    }

    // MARK: Restarts

    /// `bosun restart NAME`: clears `failed` and the restart budget, replaces the process, and returns once the
    /// replacement is ready.
    func restart(_ name: ChildName) async throws(SupervisorError) -> ProcessStatus {
        try beginMaintenance("restart of \(name.rawValue)")
        defer { endMaintenance() }
        maintenanceStep = "restart: replacing \(name.rawValue)"
        publishStatus()
        slots[name]!.policy.reset()
        await waitForSpawns(of: name)
        if slots[name]!.current == nil {
            guard let pid = await spawn(name) else {
                throw SupervisorError(
                    .childFailed, "cannot start \(name.rawValue): \(slots[name]!.failure ?? "unknown")")
            }
            try await waitUntilReady(pid)
        } else {
            _ = try await replace(name, reason: "restart requested")
        }
        return slots[name]!.status(now: .now, paused: name == .worker ? paused : nil)
    }

    /// `bosun rolling-restart`: replaces each child in turn; the next starts only when the replacement is ready. With
    /// new binaries on disk, this is the upgrade.
    func rollingRestart() async throws(SupervisorError) -> RollingRestartReport {
        try beginMaintenance("rolling restart")
        defer { endMaintenance() }
        var steps: [RollingRestartReport.Step] = []
        for (index, name) in ChildName.allCases.enumerated() {
            maintenanceStep = "rolling restart: replacing \(name.rawValue) (\(index + 1)/\(ChildName.allCases.count))"
            publishStatus()
            slots[name]!.policy.reset()
            steps.append(try await replace(name, reason: "rolling restart"))
            logger.info(
                "rolling restart: \(name.rawValue) replaced",
                metadata: ["new_pid": "\(steps.last!.newPid)", "ms": "\(steps.last!.durationMs)"])
        }
        return RollingRestartReport(steps: steps)
    }

    private func beginMaintenance(_ what: String) throws(SupervisorError) {
        guard phase != .stopping else { throw SupervisorError(.busy, "bosun is stopping") }
        if let running = maintenance {
            throw SupervisorError(.busy, "a \(running) is in progress; try again when it is done")
        }
        maintenance = what
    }

    private func endMaintenance() {
        maintenance = nil
        maintenanceStep = nil
        publishStatus()
    }

    /// Replaces the current process of `name` by its handover: ingress starts the new process first and stops the
    /// old one once the new one is ready; the others stop first. If a new ingress does not become ready, the old one
    /// keeps serving and the command fails.
    private func replace(_ name: ChildName, reason: String) async throws(SupervisorError) -> RollingRestartReport.Step {
        let began = ContinuousClock.now
        await waitForSpawns(of: name)
        guard let old = slots[name]!.current else {
            guard let pid = await spawn(name) else {
                throw SupervisorError(
                    .childFailed, "cannot start \(name.rawValue): \(slots[name]!.failure ?? "unknown")")
            }
            try await waitUntilReady(pid)
            return step(name, old: nil, new: pid, since: began)
        }
        slots[name]!.retiring[old.pid] = old
        slots[name]!.current = nil
        switch name.handover {
        case .startThenStop:
            slots[name]!.isBeingReplaced = true
            let started = await spawn(name)
            do throws(SupervisorError) {
                guard let pid = started else {
                    throw SupervisorError(
                        .childFailed, "cannot start \(name.rawValue): \(slots[name]!.failure ?? "unknown")")
                }
                try await waitUntilReady(pid)
                try await handOverSocket(from: old, to: slots[name]!.current)
            } catch {
                restoreAfterFailedReplacement(name, old: old, failed: started)
                slots[name]!.isBeingReplaced = false
                throw error
            }
            // The new process now serves alone; from here on its crashes are ordinary ones.
            slots[name]!.isBeingReplaced = false
            if slots[name]!.current == nil { crashed(name, uptime: .zero) }
            await stop(old, name: name, reason: reason)
            return step(name, old: old.pid, new: started!, since: began)
        case .stopThenStart:
            slots[name]!.state = .stopping
            await stop(old, name: name, reason: reason)
            guard let pid = await spawn(name) else {
                throw SupervisorError(
                    .childFailed, "cannot start \(name.rawValue): \(slots[name]!.failure ?? "unknown")")
            }
            try await waitUntilReady(pid)
            return step(name, old: old.pid, new: pid, since: began)
        }
    }

    /// The listening socket changes hands: the old ingress stops accepting, then the new one starts, so that two
    /// processes never accept at once; meanwhile the kernel queues connections in the backlog.
    private func handOverSocket(from old: ChildInstance, to new: ChildInstance?) async throws(SupervisorError) {
        guard let new, let connection = new.connection else {
            throw SupervisorError(.childFailed, "the new ingress is not connected")
        }
        if let previous = old.connection {
            _ = try? await previous.request(SetAccepting(accepting: false))
        }
        do {
            _ = try await connection.request(SetAccepting(accepting: true))
        } catch {
            if let previous = old.connection {
                _ = try? await previous.request(SetAccepting(accepting: true))
            }
            throw SupervisorError(.childFailed, "the new ingress cannot accept connections: \(error)")
        }
    }

    private func restoreAfterFailedReplacement(_ name: ChildName, old: ChildInstance, failed: Int32?) {
        timers.cancel("restart.\(name.rawValue)")
        if let failed, slots[name]!.current?.pid == failed {
            slots[name]!.retiring[failed] = slots[name]!.current
            slots[name]!.current = nil
            kill(-failed, SIGKILL)
        }
        if let survivor = slots[name]!.retiring.removeValue(forKey: old.pid) {
            slots[name]!.current = survivor
            if survivor.isReady {
                slots[name]!.state = .ready
                logger.warning("\(name.rawValue): the replacement failed; the old process keeps serving")
            } else {
                // It never got to serve (its ready was ignored while it was being replaced): start over cleanly.
                logger.warning("\(name.rawValue): the replacement failed and the old process was not ready; killing it")
                kill(-survivor.pid, SIGKILL)
            }
        } else {
            crashed(name, uptime: .zero)
        }
        publishStatus()
    }

    private func step(
        _ name: ChildName, old: Int32?, new: Int32, since: ContinuousClock.Instant
    )
        -> RollingRestartReport.Step
    {
        RollingRestartReport.Step(
            name: name.rawValue, oldPid: old, newPid: new, durationMs: ChildSlot.milliseconds(.now - since))
    }

    // MARK: Pause

    /// `bosun pause` / `bosun resume`: recorded in the store (so it holds across restarts) and passed to the worker.
    func setPaused(_ value: Bool) async throws(SupervisorError) -> PauseState {
        do {
            try database.setOperatorFlag("paused", to: value ? "true" : "false")
        } catch {
            throw SupervisorError(.setup, "cannot record the pause in the store: \(error)")
        }
        paused = value
        logger.info(value ? "claims paused by the operator" : "claims resumed by the operator")
        guard let worker = slots[.worker]!.current, worker.isReady, let connection = worker.connection else {
            return PauseState(paused: value)
        }
        do {
            _ = value ? try await connection.request(Pause()) : try await connection.request(Resume())
        } catch {
            throw SupervisorError(
                .childFailed, "recorded, but the worker did not confirm (\(error)); it applies it when it reconnects")
        }
        return PauseState(paused: value)
    }

    /// Tells a worker that just became ready what it must know: the pause and the breaker.
    func bringWorkerUpToDate(_ connection: IPCConnection) async {
        if paused {
            _ = try? await connection.request(Pause())
        }
        try? await connection.send(BreakerChanged(breaker: breaker.status))
    }

    // MARK: Breaker

    /// A run outcome from the worker.
    func breakerReport(_ report: BreakerReport) async {
        await breakerMoved(breaker.record(report, at: Date()))
    }

    /// `bosun breaker [--reset]`.
    func breakerCommand(reset: Bool) async -> BreakerStatus {
        if reset {
            logger.info("breaker reset by the operator")
            await breakerMoved(breaker.reset(), force: true)
        }
        return breaker.status
    }

    /// Starts the timer of a breaker restored open from the store.
    func resumeBreakerTimer() {
        if let retryAt = breaker.retryAt, breaker.state == .open {
            scheduleBreakerTick(at: retryAt)
        }
    }

    private func breakerMoved(_ transition: CircuitBreaker.Transition?, force: Bool = false) async {
        guard transition != nil || force else { return }
        do {
            try database.saveBreaker(breaker.record)
        } catch {
            logger.error("cannot store the breaker", metadata: ["error": "\(error)"])
        }
        switch transition {
        case .opened(let until):
            logger.warning(
                "breaker opened: claims paused",
                metadata: ["until": "\(until)", "reason": "\(breaker.reason ?? "")", "trips": "\(breaker.trips)"])
            scheduleBreakerTick(at: until)
        case .halfOpened:
            logger.info("breaker half-open: one probe may run")
        case .closed:
            timers.cancel("breaker")
            logger.info("breaker closed")
        case nil:
            break
        }
        if let worker = slots[.worker]!.current, worker.isReady, let connection = worker.connection {
            try? await connection.send(BreakerChanged(breaker: breaker.status))
        }
    }

    private func scheduleBreakerTick(at date: Date) {
        let delay = max(0, date.timeIntervalSinceNow)
        timers.schedule("breaker", after: .milliseconds(Int((delay * 1000).rounded(.up)))) {
            await self.breakerTick()
        }
    }

    private func breakerTick() async {
        let transition = breaker.tick(at: Date())
        if transition == nil, breaker.state == .open, let retryAt = breaker.retryAt {
            // Woken before `retryAt` by the wall clock (the timer sleeps on another clock): wait for the rest. Without
            // this an early wake-up left the breaker open for good (found by chaos/scenarios/rate_limit.py).
            scheduleBreakerTick(at: retryAt)
            return
        }
        await breakerMoved(transition)
    }

    // MARK: Reload

    /// SIGHUP or `bosun reload`: re-reads the config file. An invalid file, or a change to what only a restart can
    /// change (`state_dir`, `listen`), changes nothing and throws why. Otherwise the supervisor applies its part and
    /// each running child re-reads the new snapshot.
    func reload() async throws(SupervisorError) -> ReloadReport {
        guard phase != .stopping else { throw SupervisorError(.busy, "bosun is stopping") }
        guard !reloading else { throw SupervisorError(.busy, "a reload is in progress; try again when it is done") }
        reloading = true
        defer { reloading = false }
        let source: ConfigSource
        do {
            source = try ConfigLoader.loadSource(path: config.file)
        } catch {
            let more = error.issues.count > 1 ? " and \(error.issues.count - 1) more" : ""
            reloadFailed(
                "\(config.file): \(error.issues.first.map { "\($0)" } ?? "invalid")\(more)", detail: "\(error)")
            throw SupervisorError(.config, "the config is invalid; nothing changed:\n\(error)")
        }
        let new = source.config
        var fixed: [String] = []
        if new.stateDirectory != config.stateDirectory { fixed.append("state_dir") }
        if new.listen != config.listen && !listener.fromSystemd { fixed.append("listen") }
        // Every process opened its database connections with it; a new value would be half applied.
        if new.durability != config.durability { fixed.append("durability") }
        guard fixed.isEmpty else {
            let keys = fixed.joined(separator: " and ")
            let message = "\(keys) cannot change while bosun runs; nothing changed (restart bosun to apply it)"
            reloadFailed("\(keys) changed; only a restart of bosun applies it", detail: message)
            throw SupervisorError(.config, message)
        }

        notifier.reloading(status: "reloading \(config.file)")
        do {
            try ConfigSnapshot.write(source.text, to: layout.configSnapshot)
        } catch {
            let message = "cannot write the config snapshot: \(error)"
            reloadFailed(message, detail: message)
            notifier.ready(status: statusText)
            throw SupervisorError(.setup, message)
        }
        var changes = ConfigDiff.changes(from: config, to: new)
        config = new
        for name in ChildName.allCases { slots[name]!.policy.config = new.supervisor.restart }
        breaker.config = new.breaker
        supervisorLog.setLimits(maxBytes: new.logs.maxFileBytes, keep: new.logs.keepFiles)
        applyLogLimits(new.logs)

        for name in ChildName.allCases {
            guard let instance = slots[name]!.current, instance.isReady, let connection = instance.connection else {
                changes.append("\(name.rawValue): not running; it reads the new config when it starts")
                continue
            }
            do {
                // A child reports only what needs the operator's attention (e.g. what applies after its restart).
                let report = try await connection.request(Reload(), timeout: .seconds(10))
                changes += report.changes.map { "\(name.rawValue): \($0)" }
            } catch {
                changes.append("\(name.rawValue): did not apply the new config (\(error))")
            }
        }
        logger.info("configuration reloaded", metadata: ["changes": "\(changes)"])
        // A failed reload's STATUS= stays until one succeeds; this one replaces it.
        statusText = describeChildren()
        if announcedReady {
            notifier.send("READY=1\nSTATUS=\(statusText)")
        } else {
            notifier.status(statusText)
        }
        return ReloadReport(changes: changes)
    }

    /// A reload that changed nothing: the log gets every reason, `STATUS=` (one line) the first.
    private func reloadFailed(_ why: String, detail: String) {
        logger.error(
            "reload failed; keeping the running configuration",
            metadata: ["file": "\(config.file)", "error": "\(detail)"])
        let text = "reload failed (\(why)); running the previous configuration"
        notifier.status(text)
        statusText = text
    }
}
