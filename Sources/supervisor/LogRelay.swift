import Foundation
import Logging
import ProcessRuntime
import Systemd

/// Where the supervisor passes every log line on besides its log file. Under systemd, when its stderr is the
/// journal, each line becomes a journal entry of its own: `SYSLOG_IDENTIFIER` of the process (`bosun`,
/// `bosun-ingress`, …), `SYSLOG_PID`, a `PRIORITY` from the line's level, and the task, job and run ids as
/// `BOSUN_TASK`, `BOSUN_JOB`, `BOSUN_RUN` when the line carries them. Otherwise, and whenever journald does not take
/// an entry, the line goes to stderr as `NAME[pid]: line`.
struct LogRelay: Sendable {
    /// True: lines go to the journal.
    let toJournal: Bool

    init(environment: [String: String] = ProcessInfo.processInfo.environment) {
        toJournal = Journal.isStandardErrorConnected(environment: environment)
    }

    /// Passes on one line that the process `pid` wrote.
    func relay(_ line: String, identifier: String, prefix: String, pid: Int32) {
        if toJournal && Journal.send(Self.entry(for: line, identifier: identifier, pid: pid)) { return }
        LineLogHandler.standardError("\(prefix)[\(pid)]: \(line)")
    }

    /// The journal entry for one line in `LineLogHandler`'s format.
    static func entry(for line: String, identifier: String, pid: Int32) -> JournalEntry {
        let parsed = LineLogHandler.parse(line)
        var fields: [JournalField] = []
        for (key, name) in [("task", "BOSUN_TASK"), ("job", "BOSUN_JOB"), ("run", "BOSUN_RUN")] {
            if let value = parsed.metadata[key] { fields.append(JournalField(name, value)) }
        }
        return JournalEntry(
            message: parsed.text, priority: priority(of: parsed.level), identifier: identifier, pid: pid,
            fields: fields)
    }

    /// The syslog priority of a level. A line that is not a log record (a crash report, a runtime message) is a
    /// warning: nothing writes such lines in normal operation.
    static func priority(of level: Logger.Level?) -> Int {
        switch level {
        case .trace, .debug: 7
        case .info: 6
        case .notice: 5
        case .warning, nil: 4
        case .error: 3
        case .critical: 2
        }
    }
}

/// The relay of this process, decided once at start.
let logRelay = LogRelay()
