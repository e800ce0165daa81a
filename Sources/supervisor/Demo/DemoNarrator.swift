import Foundation
import Store

/// Turns what the store says about one task into lines for people, each thing once: every transition (from, to, the
/// event and its reason) and every finished run. Pure: the caller reads the store and prints.
struct DemoNarrator {
    private var eventsShown: Set<Int64> = []
    private var runsShown: Set<Int64> = []

    /// The lines for what has happened since the last call, oldest first.
    mutating func lines(events: [TaskEventRecord], jobs: [JobRecord], runs: [RunRecord]) -> [String] {
        var entries: [(at: Int64, order: Int, text: String)] = []
        for event in events where eventsShown.insert(event.id).inserted {
            entries.append((event.atMs, 1, Self.describe(event)))
        }
        for run in runs where run.state == "exited" || run.state == "lost" {
            guard let job = jobs.first(where: { $0.id == run.jobID }), runsShown.insert(run.id).inserted else {
                continue
            }
            entries.append((run.finishedAtMs ?? run.startedAtMs, 0, Self.describe(run, of: job)))
        }
        return entries.sorted { ($0.at, $0.order) < ($1.at, $1.order) }.map(\.text)
    }

    /// `12:00:01  analysis → architecture   passed: the gates passed`.
    static func describe(_ event: TaskEventRecord) -> String {
        let move = "\(event.fromState ?? "new") → \(event.toState)"
        let padded = move.count < 30 ? move.padding(toLength: 30, withPad: " ", startingAt: 0) : move + " "
        return "\(clock(event.atMs))  \(padded)\(event.event): \(event.reason.prefix(100))"
    }

    /// `12:00:01      run 3: analysis agent (analyst) exited 0, success`.
    static func describe(_ run: RunRecord, of job: JobRecord) -> String {
        let what: String
        switch job.kind {
        case "agent": what = "\(job.stage) agent (\(job.role))"
        case "gate": what = "\(job.stage) gate command"
        default: what = job.kind
        }
        let ending = run.exitCode.map { "exited \($0)" } ?? run.signal.map { "killed by signal \($0)" } ?? run.state
        let verdict = [run.classification, run.reason.map { String($0.prefix(60)) }].compactMap { $0 }
            .joined(separator: ": ")
        return "\(clock(run.finishedAtMs ?? run.startedAtMs))      run \(run.id): \(what) \(ending)"
            + (verdict.isEmpty ? "" : ", \(verdict)")
    }

    static func clock(_ ms: Int64) -> String {
        let formatter = DateFormatter()
        formatter.dateFormat = "HH:mm:ss"
        return formatter.string(from: Date(timeIntervalSince1970: Double(ms) / 1000))
    }
}
