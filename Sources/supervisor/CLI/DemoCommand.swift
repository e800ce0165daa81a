import ArgumentParser
import Config
import Foundation
import IPC
import LinuxProcess
import Store
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// `bosun demo [--exit-when-done]`: the whole pipeline on the local tracker, in one command and without a model.
struct DemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Run a task from issue to merged branch on a demo repository, printing every transition.",
        discussion: """
            Creates (or recreates) the demo directory: a git repository with a test command, a scripted demo agent \
            that calls no model, and a config for one project on the local tracker. Starts Bosun on it, creates a \
            task whose review asks for changes once, approves its analysis as a named human, and prints each \
            transition until the task is done and its branch merged. Then it keeps Bosun running until Ctrl-C, or, \
            with --exit-when-done, stops it and exits 0 (1 if the task ends blocked or the deadline passes).
            """)

    @Option(help: "The demo directory; made by an earlier `bosun demo` or empty.") var dir = "./bosun-demo"
    @Option(help: "The address Bosun listens on.") var listen = "127.0.0.1:8787"
    @Option(help: "The human who approves the analysis (the project's authors list).") var approver = "you"
    @Option(help: "Give up if the task is not done and merged after this many seconds.") var timeout = 600
    @Flag(help: "Stop Bosun and exit once the task is done (for scripts and CI).") var exitWhenDone = false

    func validate() throws {
        guard timeout > 0 else { throw ValidationError("--timeout must be positive") }
        guard !approver.isEmpty, approver.allSatisfy({ $0.isLetter || $0.isNumber || "-_.".contains($0) }) else {
            throw ValidationError("--approver must be a user name (letters, digits, - _ .)")
        }
    }

    func run() async throws {
        try await reportingFailures {
            let interrupt = try DemoInterrupt.install()
            var workspace = DemoWorkspace(directory: dir)
            try workspace.checkReusable()
            if (try? await ControlClient.send(Status(), configPath: workspace.configPath)) != nil {
                throw CommandFailure(
                    message: "a demo is still running in \(workspace.root); stop it first: "
                        + "\(Self.bosun) stop -c \(workspace.configPath)")
            }
            heading("bosun demo: setting up \(workspace.root)")
            try await workspace.create(listen: listen, approver: approver)
            let config: BosunConfig
            do {
                config = try ConfigLoader.load(path: workspace.configPath)
            } catch {
                throw CommandFailure(message: "the demo config is invalid:\n\(error)")
            }
            say("  a git repository with a test command (sh check.sh): \(workspace.origin), cloned in repo/")
            say("  the demo agent, a script that plays every role without a model: \(workspace.agentPath)")
            say("  the config, one project on the local tracker: \(workspace.configPath)")

            heading("starting Bosun: \(Self.bosun) run -c \(workspace.configPath)  (its log: \(workspace.logPath))")
            let supervisor = try await DemoSupervisor(configPath: workspace.configPath, logPath: workspace.logPath)
            let grace = Duration.seconds(config.supervisor.stopGraceSeconds + 15)
            do {
                let report = try await supervisor.waitUntilReady(
                    timeout: .seconds(config.supervisor.readyTimeoutSeconds + 30))
                say(StatusTable.render(report), terminator: "")
                let taskID = try await follow(workspace, supervisor: supervisor, interrupt: interrupt)
                if !exitWhenDone {
                    try await keepRunning(
                        workspace, taskID: taskID, listen: report.supervisor.listen, supervisor: supervisor,
                        interrupt: interrupt)
                }
                let ended = await supervisor.stop(grace: grace)
                guard ended == .exited(code: 0) else {
                    throw CommandFailure(
                        message: "Bosun did not stop cleanly (\(ended.map { "\($0)" } ?? "still running"))")
                }
                say("Bosun stopped.")
                if exitWhenDone {
                    heading("look at what happened (these read the state directory; Bosun need not run)")
                    say("  \(Self.bosun) task \(taskID) -c \(workspace.configPath)   # every transition, job and run")
                    say("  \(Self.bosun) tasks -c \(workspace.configPath)")
                    say("  logs: \(workspace.stateDirectory)/logs/ (one per process, agent runs in runs/)")
                    say("  \(Self.bosun) demo --dir \(workspace.root)   # the demo again, with Bosun kept running")
                }
            } catch {
                await supervisor.stop(grace: grace)
                say("Bosun stopped. Its log: \(workspace.logPath)")
                throw error
            }
        }
    }

    /// Creates the task, prints its life, approves its analysis, waits for the merge and shows it; returns the task.
    private func follow(
        _ workspace: DemoWorkspace, supervisor: DemoSupervisor, interrupt: DemoInterrupt
    ) async throws -> Int64 {
        let config = workspace.configPath
        let database = try TaskStoreAccess.open(config)
        let title = "Add a greeting script [bounce-1]"
        heading("creating a task on the local tracker: \(Self.bosun) task create --project demo --title \"\(title)\"")
        say("  ([bounce-1] makes the demo agent's review ask for changes once)")
        let delivery = try TaskStoreAccess.storeDelivery(
            try TaskStoreAccess.openInbox(config, store: database), project: DemoWorkspace.project,
            event: "task.create",
            payload: ["author": approver, "title": title, "body": "Add greet.sh, which prints a greeting."])
        await TaskStoreAccess.wakeGatekeeper(configPath: config)
        guard
            let taskID = try await TaskStoreAccess.taskCreated(
                byDelivery: delivery, in: database, timeout: .seconds(30))
        else {
            throw CommandFailure(
                message: "the gatekeeper did not create the task within 30 s:\n\(supervisor.logTail())")
        }
        heading("task \(taskID): every transition as it happens")

        let deadline = ContinuousClock.now + .seconds(timeout)
        var narrator = DemoNarrator()
        var approvedVisits = 0
        while true {
            if let signal = interrupt.received {
                throw CommandFailure(message: "\(SignalName.of(signal)) before task \(taskID) was done")
            }
            if let status = supervisor.exitStatus {
                throw CommandFailure(message: "bosun run exited (\(status)):\n\(supervisor.logTail())")
            }
            let (task, events, jobs, runs) = try database.read { transaction in
                (
                    try transaction.task(id: taskID), try transaction.taskEvents(taskID: taskID),
                    try transaction.jobs(taskID: taskID), try transaction.runs(taskID: taskID)
                )
            }
            guard let task else { throw CommandFailure(message: "task \(taskID) disappeared from the store") }
            for line in narrator.lines(events: events, jobs: jobs, runs: runs) { say(line) }

            let analysisVisits = events.filter { $0.toState == "analysis" }.count
            if task.waitingOn == "approval" && approvedVisits < analysisVisits {
                approvedVisits = analysisVisits
                say("         the analysis waits for a human: approving it as \(approver), as")
                say("         \(Self.bosun) task comment \(taskID) :approved: --author \(approver) -c \(config)")
                _ = try await TaskStoreAccess.comment(
                    on: task, text: ":approved:", author: approver, database: database, configPath: config)
            }
            if task.state == "done" {
                if let merge = jobs.first(where: { $0.kind == "merge" }) {
                    // Done once the gatekeeper has applied the merge's outcome: its last transition is written in
                    // that same transaction, and this read (one transaction) has just narrated it.
                    if merge.state == "succeeded" && merge.outcomeAppliedAtMs != nil { break }
                    if merge.state == "failed" || merge.state == "cancelled" {
                        throw CommandFailure(message: "the merge of task \(taskID) failed: \(merge.lastError ?? "")")
                    }
                }
            } else if !task.active {
                throw CommandFailure(message: "task \(taskID) ended \(task.state): \(events.last?.reason ?? "")")
            } else if task.state == "blocked" {
                throw CommandFailure(
                    message: "task \(taskID) is blocked: \(events.last?.reason ?? ""); see \(Self.bosun) task "
                        + "\(taskID) -c \(config)")
            }
            guard ContinuousClock.now < deadline else {
                throw CommandFailure(
                    message: "task \(taskID) is not done and merged after \(timeout) s (it is in \(task.state)"
                        + "\(task.waitingOn.map { ", waiting on \($0)" } ?? ""))")
            }
            try await Task.sleep(for: .milliseconds(200))
        }

        heading("done: Bosun merged the task's branch into main of \(workspace.origin)")
        let summary = try await workspace.mergedSummary()
        say(summary.log.split(separator: "\n").map { "  \($0)" }.joined(separator: "\n"))
        say("")
        say(summary.diff.split(separator: "\n").map { "  \($0)" }.joined(separator: "\n"))
        say("  (the files are in \(workspace.checkout))")
        return taskID
    }

    /// Prints where to look and keeps Bosun running until Ctrl-C (or SIGTERM).
    private func keepRunning(
        _ workspace: DemoWorkspace, taskID: Int64, listen: String, supervisor: DemoSupervisor,
        interrupt: DemoInterrupt
    ) async throws {
        let config = workspace.configPath
        heading("Bosun keeps running; look around from another terminal")
        say("  \(Self.bosun) status -c \(config)")
        say("  \(Self.bosun) task \(taskID) -c \(config)   # every transition, job and run")
        say("  \(Self.bosun) tasks -c \(config)")
        say("  \(Self.bosun) task create --project demo --title \"Another greeting\" -c \(config)")
        say("  \(Self.bosun) rolling-restart -c \(config)   # replace every process, one at a time")
        say("  dashboard: http://\(listen)/  (API token in \(workspace.tokenPath))")
        say("  API: curl -H \"Authorization: Bearer $(cat \(workspace.tokenPath))\" http://\(listen)/api/v1/tasks")
        say("  logs: \(workspace.stateDirectory)/logs/ (one per process, agent runs in runs/)")
        say("Press Ctrl-C to stop Bosun.")
        while interrupt.received == nil {
            if let status = supervisor.exitStatus {
                throw CommandFailure(message: "bosun run exited (\(status)):\n\(supervisor.logTail())")
            }
            try await Task.sleep(for: .milliseconds(200))
        }
        say("\nstopping Bosun...")
    }

    /// How to call this binary in the printed commands: `bosun` if that is what `PATH` finds, else its path.
    static let bosun: String = {
        let own = CurrentProcess.executablePath
        let found = CommandRunner.resolve("bosun", path: ProcessInfo.processInfo.environment["PATH"])
        return found.map { URL(fileURLWithPath: $0).resolvingSymlinksInPath().path } == own ? "bosun" : own
    }()

    private func heading(_ text: String) {
        say("\n== \(text)")
    }
}

/// Writes to stdout unbuffered, so that a pipe (CI, a test) sees each line as it happens.
private func say(_ text: String, terminator: String = "\n") {
    FileHandle.standardOutput.write(Data((text + terminator).utf8))
}

/// SIGINT and SIGTERM, caught so that the demo can stop Bosun cleanly instead of dying.
final class DemoInterrupt: Sendable {
    private let signal = Atomic<Int32>(0)

    static func install() throws -> DemoInterrupt {
        try ProcessSignals.install([SIGINT, SIGTERM])
        let interrupt = DemoInterrupt()
        let signals = try ProcessSignals.stream()
        // Ends with the process: the signal stream never finishes.
        Task {
            for await number in signals { interrupt.signal.store(number, ordering: .relaxed) }
        }
        return interrupt
    }

    /// The first signal received, if any.
    var received: Int32? {
        let number = signal.load(ordering: .relaxed)
        return number == 0 ? nil : number
    }
}
