import Foundation
import Logging
import ProcessRuntime
import Systemd
import Testing

@testable import BosunSupervisor

#if canImport(Glibc)
import Glibc
#endif

/// The pieces of `bosun logs` and of the journal relay that need no process: the log line parser, the journal
/// entry of a line, `JOURNAL_STREAM`, and the follower on real files.
@Suite("Logs: line parsing, journal entries, following files")
struct LogsTests {
    @Test("a formatted line parses back into its level, text and metadata, whatever the values hold")
    func parseRoundTrip() {
        let metadata: Logger.Metadata = [
            "task": "12", "run": "7", "reason": "rate limit \"hit\" at=5", "empty": "", "path": "/a b/c=d",
            "error": "ends with a quote\"",
        ]
        for level in Logger.Level.allCases {
            let line = LineLogHandler.format(level: level, message: "run ended: exit=1 \"x\"", metadata: metadata)
            let parsed = LineLogHandler.parse(line)
            #expect(parsed.level == level)
            #expect(parsed.text == String(line.dropFirst("\(level) ".count)))
            #expect(parsed.metadata == metadata.mapValues { "\($0)" }, "\(line)")
        }
    }

    @Test("lines that are not log records have no level; a message is never taken for metadata")
    func parseOther() {
        let crash = LineLogHandler.parse("Fatal error: Unexpectedly found nil task=3")
        #expect(crash.level == nil && crash.text == "Fatal error: Unexpectedly found nil task=3")
        #expect(crash.metadata.isEmpty)
        #expect(LineLogHandler.parse("").level == nil)
        #expect(LineLogHandler.parse("info").level == nil)
        // Pairs are read from the end until the first token that is not one: `x=1` is part of the message.
        let mixed = LineLogHandler.parse("info took x=1 then waited job=4 run=9")
        #expect(mixed.metadata == ["job": "4", "run": "9"])
        let noPairs = LineLogHandler.parse("warning disk full, giving up")
        #expect(noPairs.level == .warning && noPairs.metadata.isEmpty)
        // A value with a lone quote is not a well-formed pair: nothing is guessed.
        #expect(LineLogHandler.parse("info a b=\"c").metadata.isEmpty)
    }

    @Test("a worker line becomes a journal entry with its identifier, pid, priority and ids")
    func journalEntry() {
        let line = LineLogHandler.format(
            level: .info, message: "run started",
            metadata: ["task": "2", "job": "3", "run": "7", "kind": "agent", "attempt": "1"])
        let entry = LogRelay.entry(for: line, identifier: "bosun-worker", pid: 4242)
        #expect(
            entry.assignments == [
                "MESSAGE=run started attempt=1 job=3 kind=agent run=7 task=2", "PRIORITY=6",
                "SYSLOG_IDENTIFIER=bosun-worker", "SYSLOG_PID=4242", "BOSUN_TASK=2", "BOSUN_JOB=3", "BOSUN_RUN=7",
            ])
        let plain = LogRelay.entry(for: "error cannot open the store", identifier: "bosun", pid: 1)
        #expect(
            plain.assignments == [
                "MESSAGE=cannot open the store", "PRIORITY=3", "SYSLOG_IDENTIFIER=bosun", "SYSLOG_PID=1",
            ])
        let crash = LogRelay.entry(for: "Fatal error: boom", identifier: "bosun-ingress", pid: 9)
        #expect(crash.message == "Fatal error: boom" && crash.priority == 4)
        let priorities = Logger.Level.allCases.map { LogRelay.priority(of: $0) }
        #expect(priorities == [7, 7, 6, 5, 4, 3, 2])
    }

    @Test("journal field names follow journald's rules; priorities are clamped")
    func journalFields() {
        let entry = JournalEntry(
            message: "two\nlines", priority: 12, identifier: "bosun",
            fields: [
                JournalField("BOSUN_TASK", "1"), JournalField("_PID", "1"), JournalField("bosun_run", "2"),
                JournalField("9LIVES", "x"), JournalField(String(repeating: "A", count: 65), "x"),
                JournalField("", "x"), JournalField("A_1", "ok"),
            ])
        #expect(
            entry.assignments == [
                "MESSAGE=two\nlines", "PRIORITY=7", "SYSLOG_IDENTIFIER=bosun", "BOSUN_TASK=1", "A_1=ok",
            ])
        #expect(JournalEntry(message: "", priority: -3, identifier: "x").priority == 0)
        #expect(JournalEntry.isValidFieldName(String(repeating: "A", count: 64)))
    }

    @Test("JOURNAL_STREAM must name this process's stderr to count")
    func journalStream() {
        #expect(JournalStream(parsing: "8:123") == JournalStream(parsing: "8:123"))
        #expect(JournalStream(parsing: "8:123")?.inode == 123)
        for bad in ["", "8", "8:", ":1", "a:b", "1:2:3", "-1:2", "8:12x"] {
            #expect(JournalStream(parsing: bad) == nil, "\(bad)")
        }
        var info = stat()
        fstat(2, &info)
        let matching = "\(info.st_dev):\(info.st_ino)"
        #expect(Journal.isStandardErrorConnected(environment: ["JOURNAL_STREAM": matching]))
        #expect(!Journal.isStandardErrorConnected(environment: ["JOURNAL_STREAM": "\(info.st_dev):\(info.st_ino + 1)"]))
        #expect(!Journal.isStandardErrorConnected(environment: [:]))
        #expect(!LogRelay(environment: ["INVOCATION_ID": "x", "NOTIFY_SOCKET": "/run/x"]).toJournal)
    }

    // MARK: The follower

    func append(_ path: String, _ text: String) throws {
        let handle = try #require(FileHandle(forWritingAtPath: path))
        defer { try? handle.close() }
        try handle.seekToEnd()
        try handle.write(contentsOf: Data(text.utf8))
    }

    func initialLines(_ path: String, _ count: Int) throws -> String {
        var initial: [UInt8] = []
        _ = try LogFollower(path: path, lastLines: count, initial: &initial)
        return String(decoding: initial, as: UTF8.self)
    }

    @Test("the last N lines, also across the 64 KiB chunks it reads backwards in, and without a last newline")
    func lastLines() throws {
        let directory = TemporaryDirectory("bosun-tail")
        let path = try directory.write("a.log", "one\ntwo\nthree\n")
        #expect(try initialLines(path, 2) == "two\nthree\n")
        #expect(try initialLines(path, 3) == "one\ntwo\nthree\n")
        #expect(try initialLines(path, 50) == "one\ntwo\nthree\n")
        #expect(try initialLines(path, 0) == "")
        try append(path, "four")
        #expect(try initialLines(path, 1) == "four")
        #expect(try initialLines(path, 2) == "three\nfour")
        let empty = try directory.write("empty.log", "")
        #expect(try initialLines(empty, 5) == "")

        let lines = (0..<20_000).map { "line \($0) " + String(repeating: "x", count: $0 % 97) }
        let big = try directory.write("big.log", lines.joined(separator: "\n") + "\n")
        #expect(try initialLines(big, 3000) == lines.suffix(3000).joined(separator: "\n") + "\n")
        #expect(try initialLines(big, 30_000) == lines.joined(separator: "\n") + "\n")

        do {
            _ = try initialLines(directory.file("absent.log"), 5)
            Issue.record("a missing file opened")
        } catch let error as LogFileError {
            #expect(error.missing && error.path == directory.file("absent.log"))
        }
    }

    @Test("following: appends, a rotation by rename (old rest first, then the new file), a truncation, a gap")
    func follow() throws {
        let directory = TemporaryDirectory("bosun-follow")
        let path = try directory.write("worker.log", "a\nb\n")
        var initial: [UInt8] = []
        var follower = try LogFollower(path: path, lastLines: 1, initial: &initial)
        #expect(String(decoding: initial, as: UTF8.self) == "b\n")
        #expect(follower.readAppended().isEmpty)

        try append(path, "c\n")
        #expect(String(decoding: follower.readAppended(), as: UTF8.self) == "c\n")

        // The writer's last lines before the rotation, the rotation, the new file's first lines: all, in order.
        try append(path, "d\n")
        #expect(rename(path, path + ".1") == 0)
        try directory.write("worker.log", "e\n")
        #expect(String(decoding: follower.readAppended(), as: UTF8.self) == "d\ne\n")
        try append(path + ".1", "never\n")  // the old file is no longer followed
        try append(path, "f\n")
        #expect(String(decoding: follower.readAppended(), as: UTF8.self) == "f\n")

        // Cut shorter than what was read: read again from its start.
        #expect(truncate(path, 0) == 0)
        try append(path, "g\n")
        #expect(String(decoding: follower.readAppended(), as: UTF8.self) == "g\n")

        // Gone for a while (rotated, not yet recreated): nothing, then the new file from its start.
        #expect(rename(path, path + ".2") == 0)
        #expect(follower.readAppended().isEmpty)
        try directory.write("worker.log", "h\n")
        #expect(String(decoding: follower.readAppended(), as: UTF8.self) == "h\n")
    }
}
