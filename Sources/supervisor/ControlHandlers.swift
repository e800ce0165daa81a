import IPC

/// The control socket's requests, each mapped to the supervisor command that answers it.
enum ControlHandlers {
    static func make(for supervisor: Supervisor) -> IPCHandlers {
        var handlers = IPCHandlers()
        handlers.onRequest(Status.self) { _, _ in await supervisor.status() }
        handlers.onRequest(Restart.self) { request, _ in
            guard let name = ChildName(rawValue: request.name) else {
                let names = ChildName.allCases.map(\.rawValue).joined(separator: ", ")
                throw SupervisorError(.unknownProcess, "no process named \(request.name); the processes are \(names)")
            }
            return try await supervisor.restart(name)
        }
        handlers.onRequest(RollingRestart.self) { _, _ in try await supervisor.rollingRestart() }
        handlers.onRequest(Stop.self) { request, _ in
            await supervisor.requestStop(reason: request.reason)
            return Empty()
        }
        handlers.onRequest(Pause.self) { _, _ in try await supervisor.setPaused(true) }
        handlers.onRequest(Resume.self) { _, _ in try await supervisor.setPaused(false) }
        handlers.onRequest(BreakerCommand.self) { request, _ in await supervisor.breakerCommand(reset: request.reset) }
        handlers.onRequest(Reload.self) { _, _ in try await supervisor.reload() }
        // `bosun task create` / `comment` store into the inbox directly and ring the gatekeeper through here.
        handlers.onEvent(InboxWake.self) { event, _ in await supervisor.relay(event, to: .gatekeeper) }
        return handlers
    }
}
