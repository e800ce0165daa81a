import Foundation
import IPC

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
        let widths = (0..<rows[0].count).map { column in rows.map { $0[column].count }.max()! }
        for row in rows {
            text +=
                row.enumerated().map { index, cell in
                    index == row.count - 1 ? cell : cell.padding(toLength: widths[index], withPad: " ", startingAt: 0)
                }.joined(separator: "  ") + "\n"
        }
        text += "\n" + describe(report.breaker) + "\n"
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
