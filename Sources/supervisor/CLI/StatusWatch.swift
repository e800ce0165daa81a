import Config
import Foundation
import IPC
import LinuxProcess
import Store

/// One `bosun status`: the supervisor's report over the control socket, and the queue, runs, inbox and outbox
/// counted in the store (read directly, as `bosun tasks` does; nothing is written).
struct StatusSnapshot: Sendable {
    let configPath: String
    let json: Bool

    /// The text of one status. Throws like any control command when the supervisor does not answer.
    func render() async throws -> String {
        let report = try await ControlClient.send(Status(), configPath: configPath)
        if json {
            return String(decoding: try IPCCoding.encoder().encode(report), as: UTF8.self) + "\n"
        }
        let nowMs = Int64(Date().timeIntervalSince1970 * 1000)
        return StatusTable.render(report) + "\n" + StatusTable.render(work: readWork(nowMs: nowMs), nowMs: nowMs)
    }

    /// The text of one redraw of `--watch`: a header with the time, then the status; a failure (the supervisor
    /// stopped, say) is shown in its place and the watch goes on.
    func renderForWatch(every interval: Duration) async -> String {
        var text = ""
        if !json {
            let formatter = DateFormatter()
            formatter.dateFormat = "yyyy-MM-dd HH:mm:ss"
            text = "every \(StatusWatch.describe(interval)) · \(formatter.string(from: Date())) · Ctrl-C stops\n\n"
        }
        do {
            return text + (try await render())
        } catch let failure as CommandFailure {
            return text + "bosun: \(failure.message)\n"
        } catch {
            return text + "bosun: \(error)\n"
        }
    }

    private func readWork(nowMs: Int64) -> Result<WorkFigures, StatusTable.Unavailable> {
        let layout: StateLayout
        do {
            layout = StateLayout(root: try ConfigLoader.stateDirectory(ofConfigAt: configPath))
        } catch {
            return .failure(StatusTable.Unavailable(message: "\(error)"))
        }
        do {
            let database = try Database(path: layout.database)
            // Read only: the supervisor creates and migrates the inbox file; a status command does not write it.
            let depth = try Database(path: layout.inbox).inboxDepth(appliedIn: database)
            return .success(try database.read { try $0.workFigures(nowMs: nowMs, inbox: depth) })
        } catch {
            return .failure(StatusTable.Unavailable(message: "cannot read the store in \(layout.root): \(error)"))
        }
    }
}

/// `bosun status --watch`: redraws until SIGINT or SIGTERM, then returns (exit 0). On a terminal each redraw
/// replaces the last (ANSI home and clear); otherwise the snapshots follow each other, a blank line apart, so a log
/// or a pipe gets plain text.
struct StatusWatch {
    static let defaultInterval = Duration.seconds(2)

    /// Seconds as given on the command line, 0.1 to 3600; nil for anything else.
    static func interval(_ text: String) -> Duration? {
        guard let seconds = Double(text), seconds.isFinite, seconds >= 0.1, seconds <= 3600 else { return nil }
        return .milliseconds(Int64((seconds * 1000).rounded()))
    }

    /// `2s`, `0.5s`.
    static func describe(_ interval: Duration) -> String {
        let milliseconds = interval.components.seconds * 1000 + interval.components.attoseconds / 1_000_000_000_000_000
        return milliseconds % 1000 == 0 ? "\(milliseconds / 1000)s" : "\(Double(milliseconds) / 1000)s"
    }

    let interval: Duration
    /// Whether standard output is a terminal.
    var clearsScreen = isatty(STDOUT_FILENO) == 1

    init(interval: Duration) {
        self.interval = interval
    }

    /// Prints `snapshot` every `interval` until a stop signal arrives.
    func run(_ snapshot: @escaping @Sendable (Duration) async -> String) async throws {
        try ProcessSignals.install([SIGINT, SIGTERM])
        let signals = try ProcessSignals.stream()
        let (interval, clearsScreen) = (interval, clearsScreen)
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                var first = true
                while !Task.isCancelled {
                    let text = await snapshot(interval)
                    guard !Task.isCancelled else { return }
                    let frame = clearsScreen ? "\u{1B}[H\u{1B}[2J" + text : (first ? "" : "\n") + text
                    FileHandle.standardOutput.write(Data(frame.utf8))
                    first = false
                    try? await Task.sleep(for: interval)
                }
            }
            group.addTask {
                for await _ in signals { return }
            }
            // Whichever ends first (a signal) ends the other.
            _ = await group.next()
            group.cancelAll()
        }
    }
}
