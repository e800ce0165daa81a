import LinuxProcess

#if canImport(Glibc)
import Glibc
#endif

/// Where a run stands, judged from its run directory and the shim's identity.
public enum RunState: Equatable, Sendable {
    /// The shim runs (same pid and start time): watch it, and its exit will come.
    case running(shim: ProcessIdentity)
    /// The shim wrote the agent's exit.
    case exited(RunExit)
    /// The shim is gone without an exit status: it was killed itself. Its agent, if still alive, has been killed.
    case lost(reason: String)
    /// No shim was recorded and the run directory shows none started: the worker stopped before it launched one, so
    /// nothing ran.
    case notStarted
}

/// Decides the state of a run after a restart: the adoption step of a new worker (SPEC §5.4).
public enum RunProbe {
    /// Probes the run in `runDirectory`. `shim` is the identity the worker recorded at launch; nil reads it from
    /// `agent.pid`. An exited shim that is a child of this process is reaped. A run whose shim is gone without
    /// `exit.status` is `.lost`; if its agent still runs (same pid and start time) its session and group are killed.
    public static func probe(runDirectory: String, shim: ProcessIdentity?) -> RunState {
        let record: AgentRecord?
        do {
            record = try AgentRecord.read(runDirectory: runDirectory)
        } catch {
            record = nil
        }
        guard let shim = shim ?? record?.shim else {
            // No shim known and no agent.pid: nothing ever ran here, unless a status says otherwise.
            return settle(runDirectory: runDirectory, record: nil, lostReason: "no shim recorded", neverLaunched: true)
        }
        switch shim.liveness {
        case .running:
            return .running(shim: shim)
        case .zombie:
            shim.reapIfExitedChild()
        case .gone:
            break
        }
        return settle(runDirectory: runDirectory, record: record, lostReason: "the shim ended without exit.status")
    }

    /// The verdict on a run whose shim has ended: its `exit.status`, or `.lost` after killing what is left of the
    /// agent. The shim writes `exit.status` before it exits, so reading after its end cannot miss it. With
    /// `neverLaunched` (no shim was recorded), a run directory holding neither file is `.notStarted`.
    static func settle(
        runDirectory: String, record knownRecord: AgentRecord?, lostReason: String, neverLaunched: Bool = false
    ) -> RunState {
        do {
            if let exit = try RunExit.read(runDirectory: runDirectory) { return .exited(exit) }
        } catch {
            return .lost(reason: "\(error)")
        }
        let record = knownRecord ?? (try? AgentRecord.read(runDirectory: runDirectory)) ?? nil
        guard let agent = record?.agent else { return neverLaunched ? .notStarted : .lost(reason: lostReason) }
        let alive = agent.liveness == .running
        agent.killSession()
        let strays = killMarkedProcesses(runDirectory: runDirectory)
        var reason = alive ? "\(lostReason); its agent \(agent.pid) was killed" : lostReason
        if strays > 0 { reason += "; \(strays) process(es) it left outside its session were killed" }
        return .lost(reason: reason)
    }

    /// SIGKILLs every process that carries this run's marker (`RunLauncher.runMarker`) and is not this process: what
    /// left the agent's session (`setsid`) and lost the shim that would have killed it. A process that replaced its
    /// environment before its exec is not found. Returns how many were signalled.
    static func killMarkedProcesses(runDirectory: String) -> Int {
        let marked = ProcessTable.processes(withEnvironmentEntry: "\(RunLauncher.runMarker)=\(runDirectory)")
        return marked.filter { $0.pid != getpid() && !$0.isZombie && kill($0.pid, SIGKILL) == 0 }.count
    }
}
