import Foundation
import LinuxProcess
import Store
import Testing

#if canImport(Glibc)
import Glibc
#endif

extension ProcessLevel {
    @Suite("Logs: bosun logs, rotation through the real pipe, the drain on stop")
    struct Logs {
        static func lines(_ text: String) -> [Substring] {
            text.split(separator: "\n", omittingEmptySubsequences: false).dropLast()
        }

        /// Creates a task on the local project and returns the store and the task's first run once its agent runs.
        static func startRun(_ bosun: BosunInstance, title: String) async throws -> (Database, RunRecord) {
            let created = try await bosun.cli(["task", "create", "--project", "demo", "--title", title])
            #expect(created.status == .exited(code: 0), "\(created.output)")
            let database = try Database(path: bosun.directory.file("state/bosun.db"))
            var run: RunRecord?
            try await eventually(timeout: .seconds(60), "a run under way") {
                run = try database.read { try $0.liveRuns() }.first { $0.shimPID != nil }
                return run != nil
            }
            return (database, run!)
        }

        @Test("bosun logs NAME shows the file's last lines; bad names, bad -n, unknown runs, missing files say so")
        func processLogs() async throws {
            try await withBosun { bosun in
                let file = bosun.directory.file("state/logs/supervisor.log")
                let three = try await bosun.cli(["logs", "supervisor", "-n", "3"])
                #expect(three.status == .exited(code: 0))
                let all = Self.lines(try String(contentsOfFile: file, encoding: .utf8))
                #expect(Self.lines(three.output) == Array(all.suffix(3)))
                #expect(three.output.contains("all children ready"))
                let ingress = try await bosun.cli(["logs", "ingress"])
                #expect(ingress.status == .exited(code: 0))
                #expect(ingress.output.contains("] info accepting connections"))

                let usage: [([String], String)] = [
                    (
                        ["logs", "janitor"],
                        "no process named janitor; the logs are supervisor, ingress, worker, gatekeeper"
                    ),
                    (["logs"], "give a process name (supervisor, ingress, worker, gatekeeper) or --run ID"),
                    (["logs", "worker", "--run", "1"], "give a process name or --run ID, not both"),
                    (["logs", "worker", "-n", "garbage"], "The value 'garbage' is invalid for '-n <lines>'"),
                    (["logs", "worker", "--lines=-1"], "-n must be 0 or more, not -1"),
                    (["logs", "--run", "seven"], "The value 'seven' is invalid for '--run <run>'"),
                ]
                for (arguments, message) in usage {
                    let result = try await bosun.cli(arguments)
                    #expect(result.status == .exited(code: 64), "\(arguments)")
                    #expect(result.output.hasPrefix("Error: \(message)\n"), "\(arguments): \(result.output)")
                }
                let unknownRun = try await bosun.cli(["logs", "--run", "99"])
                #expect(unknownRun.status == .exited(code: 1))
                #expect(unknownRun.output == "bosun: no run 99\n")
            }

            let directory = TemporaryDirectory("bosun-logs")
            let config = try directory.write("bosun.yaml", "state_dir: ./state\nlisten: 127.0.0.1:0\n")
            let missing = try await bosun(["logs", "worker", "-c", config], in: directory)
            #expect(missing.status == .exited(code: 1))
            #expect(
                missing.output
                    == "bosun: no log file \(directory.file("state/logs/worker.log")); "
                    + "has bosun run with this state directory?\n")
            let noDatabase = try await bosun(["logs", "--run", "1", "-c", config], in: directory)
            #expect(noDatabase.status == .exited(code: 1))
            #expect(noDatabase.output.hasPrefix("bosun: no database at \(directory.file("state/bosun.db"))"))
        }

        @Test("a child writes 10x the rotation size: files within retention; a follower sees each line once, in order")
        func rotation() async throws {
            let maxBytes = 4096
            try await withBosun(
                extraConfig: intakeConfig + "\nlogs: { max_file_bytes: \(maxBytes), keep_files: 2 }\n",
                environment: ["BOSUN_LOG_LEVEL": "debug"], files: intakeFiles
            ) { bosun in
                let logs = bosun.directory.file("state/logs")
                let follower = try TestProcess(
                    Binaries.bosun, ["logs", "gatekeeper", "-f", "-n", "1", "-c", bosun.configPath],
                    output: bosun.directory.file("follower.out"))
                defer { kill(follower.pid, SIGKILL) }
                try await eventually("the follower printed the last line") { !follower.output.isEmpty }

                // The gatekeeper logs each comment on an issue without a task at debug level, with the delivery id.
                let comment = try #require(WebhookFixture.all.first { $0.path == "github/issue_comment.created.json" })
                let port = try await bosun.port()
                var sent = 0
                func ignored() -> [Int] {
                    follower.output.split(separator: "\n").filter { $0.contains(" event ignored ") }.compactMap {
                        line in
                        line.split(separator: " ").first { $0.hasPrefix("delivery=") }.flatMap {
                            Int($0.dropFirst("delivery=".count))
                        }
                    }
                }
                // Batches smaller than a file, each seen by the follower before the next: one rotation at most
                // between two of its reads (more would skip the files in between, as `tail -F` does).
                while follower.output.utf8.count < 10 * maxBytes {
                    for _ in 0..<15 {
                        let reply = try Intake.post(comment, port: port, delivery: "rotation-\(sent)")
                        #expect(reply.status == 202, "\(reply.body)")
                        sent += 1
                    }
                    try await eventually("the follower saw \(sent) ignored comments") { ignored().count == sent }
                }
                let seen = ignored()
                #expect(seen == Array(seen.sorted()) && Set(seen).count == seen.count, "\(seen)")

                let files = try FileManager.default.contentsOfDirectory(atPath: logs)
                    .filter { $0.hasPrefix("gatekeeper.log") }.sorted()
                #expect(files == ["gatekeeper.log", "gatekeeper.log.1", "gatekeeper.log.2"])
                var kept = ""
                for file in files.reversed() {
                    let text = try String(contentsOfFile: "\(logs)/\(file)", encoding: .utf8)
                    #expect(text.utf8.count <= maxBytes, "\(file) is \(text.utf8.count) bytes")
                    kept += text
                }
                // What the files keep is exactly the newest part of everything written; the start is gone.
                try await eventually("the follower's output ends with the kept files") {
                    follower.output.hasSuffix(kept)
                }
                #expect(!kept.contains("delivery=\(seen[0]) "))
                #expect(kept.contains("delivery=\(seen.last!) "))
            }
        }

        @Test("bosun logs --run ID -f prints a run's output as it is written and exits 0 once the run has ended")
        func followRun() async throws {
            let scratch = TemporaryDirectory("bosun-origin")
            let origin = try await makeOrigin(in: scratch)
            try await withBosun(
                extraConfig: workerConfig(origin: origin), environment: ["BOSUN_TEST_MODE": "chatty-20"]
            ) { bosun in
                let (database, run) = try await Self.startRun(bosun, title: "Chatty")
                let id = run.id
                let startedFollowing = Int64(Date().timeIntervalSince1970 * 1000)
                let follower = try TestProcess(
                    Binaries.bosun, ["logs", "--run", String(id), "-f", "-c", bosun.configPath],
                    output: bosun.directory.file("follow-run.out"))
                let status = await follower.wait(timeout: .seconds(60))
                if status == nil { await follower.terminate() }
                #expect(status == .exited(code: 0), "\(follower.output)")
                let ended = try #require(try database.read { try $0.run(id: id) })
                #expect(ended.state == "exited")
                #expect(try #require(ended.finishedAtMs) > startedFollowing, "the run ended before it was followed")
                let printed = Self.lines(follower.output)
                #expect(printed.filter { $0.hasPrefix("line ") } == (1...20).map { "line \($0)" })
                #expect(printed.last?.contains("\"type\":\"result\"") == true)
                #expect(follower.output == (try String(contentsOfFile: ended.logPath, encoding: .utf8)))

                let lastTwo = try await bosun.cli(["logs", "--run", String(id), "-n", "2"])
                #expect(lastTwo.status == .exited(code: 0))
                #expect(Self.lines(lastTwo.output) == Array(printed.suffix(2)))
            }
        }

        @Test(
            "under systemd's journal each line is an entry: identifier, pid, priority, and the task, job and run ids",
            .enabled(if: PrivateJournal.available, "needs unshare -m (CAP_SYS_ADMIN) and systemd-journald"))
        func journal() async throws {
            let scratch = TemporaryDirectory("bosun-origin")
            let origin = try await makeOrigin(in: scratch)
            let journal = TemporaryDirectory("bosun-journal")
            try await withBosun(
                extraConfig: workerConfig(origin: origin), environment: ["BOSUN_TEST_MODE": "sleep-1"],
                launcher: try PrivateJournal.launcher(in: journal)
            ) { bosun in
                let created = try await bosun.cli(["task", "create", "--project", "demo", "--title", "Journal"])
                let task = try #require(created.output.split(separator: "\n").last.flatMap { Int64($0.dropFirst(5)) })
                let database = try Database(path: bosun.directory.file("state/bosun.db"))
                var run: RunRecord?
                try await eventually(timeout: .seconds(60), "a run that ended") {
                    run = try database.read { try $0.runs(taskID: task) }.first { $0.state == "exited" }
                    return run != nil
                }
                let ended = try #require(run)
                let worker = try #require(try await bosun.process("worker").pid)
                let ingress = try #require(try await bosun.process("ingress").pid)

                var entries: [[String: String]] = []
                try await eventually(timeout: .seconds(20), "the worker's run lines in the journal") {
                    entries = try await PrivateJournal.entries(in: journal)
                    return entries.contains { $0["MESSAGE"]?.hasPrefix("run started ") == true }
                }
                let started = try #require(entries.first { $0["MESSAGE"]?.hasPrefix("run started ") == true })
                #expect(started["SYSLOG_IDENTIFIER"] == "bosun-worker")
                #expect(started["SYSLOG_PID"] == String(worker))
                #expect(started["PRIORITY"] == "6")
                #expect(started["BOSUN_TASK"] == String(task))
                #expect(started["BOSUN_JOB"] == String(ended.jobID))
                #expect(started["BOSUN_RUN"] == String(ended.id))
                let ready = try #require(entries.first { $0["MESSAGE"] == "all children ready" })
                #expect(ready["SYSLOG_IDENTIFIER"] == "bosun" && ready["SYSLOG_PID"] == String(bosun.process.pid))
                let accepting = try #require(
                    entries.first { $0["MESSAGE"]?.hasPrefix("accepting connections ") == true })
                #expect(accepting["SYSLOG_IDENTIFIER"] == "bosun-ingress")
                #expect(accepting["SYSLOG_PID"] == String(ingress))
                #expect(entries.allSatisfy { $0["BOSUN_TASK"] == nil || Int($0["BOSUN_TASK"]!) != nil })

                // The files still get every line; stderr no longer carries the copies.
                let workerLog = try String(
                    contentsOfFile: bosun.directory.file("state/logs/worker.log"), encoding: .utf8)
                #expect(workerLog.contains("info run started "))
                #expect(!bosun.output.contains("worker[\(worker)]") && !bosun.output.contains("bosun["))
            }
        }

        @Test("a stop waits worker.drain_s for a running agent on top of stop_grace_s; the worker records its end")
        func drainOnStop() async throws {
            let scratch = TemporaryDirectory("bosun-origin")
            let origin = try await makeOrigin(in: scratch)
            try await withBosun(
                extraConfig: workerConfig(
                    origin: origin, extra: "worker: { drain_s: 20 }\nsupervisor: { stop_grace_s: 1 }"),
                environment: ["BOSUN_TEST_MODE": "sleep-3"]
            ) { bosun in
                let (database, run) = try await Self.startRun(bosun, title: "Drain")
                let stopped = try await bosun.cli(["stop"])
                #expect(stopped.status == .exited(code: 0), "\(stopped.output)")
                // Without the drain the worker is killed after 1 s and the run is left `running` for the next one.
                let ended = try #require(try database.read { try $0.run(id: run.id) })
                #expect(ended.state == "exited" && ended.classification == "success", "\(ended)")
                #expect(!bosun.output.contains("worker did not stop within"))
            }
        }
    }
}

/// A real systemd-journald for one test: the supervisor runs in a private mount namespace whose `/run` is a
/// directory of the test, with journald listening there and `JOURNAL_STREAM` naming the supervisor's stderr, as
/// systemd sets it for a service. Nothing outside the namespace changes; the journal files stay in the directory.
enum PrivateJournal {
    static let script = """
        #!/bin/sh
        # usage: private-journal.sh DIR COMMAND...
        dir=$1
        shift
        mkdir -p "$dir/run" "$dir/var-log-journal"
        exec unshare -m --propagation private /bin/sh -c '
            dir=$1
            shift
            mount --bind "$dir/run" /run || exit 1
            if [ -d /var/log/journal ]; then mount --bind "$dir/var-log-journal" /var/log/journal || exit 1; fi
            mkdir -p /run/systemd/journal
            /lib/systemd/systemd-journald </dev/null >"$dir/journald.out" 2>&1 &
            tries=0
            while [ ! -S /run/systemd/journal/socket ]; do
                tries=$((tries + 1))
                if [ "$tries" -gt 200 ]; then echo "journald did not start" >&2; exit 1; fi
                sleep 0.05
            done
            export JOURNAL_STREAM="$(stat -L -c %d:%i /proc/self/fd/2)"
            exec "$@"
        ' sh "$dir" "$@"
        """

    /// The command line that runs its arguments under a private journal stored in `directory`.
    static func launcher(in directory: TemporaryDirectory) throws -> [String] {
        ["/bin/sh", try directory.write("private-journal.sh", script, mode: 0o755), directory.path]
    }

    /// True where the namespace can be made and journald starts in it (root, or CAP_SYS_ADMIN, and Debian's
    /// systemd package).
    static let available: Bool = {
        guard FileManager.default.isExecutableFile(atPath: "/lib/systemd/systemd-journald"),
            FileManager.default.isExecutableFile(atPath: "/usr/bin/journalctl"),
            FileManager.default.isExecutableFile(atPath: "/usr/bin/unshare")
        else { return false }
        let directory = TemporaryDirectory("bosun-journal-probe")
        guard let launcher = try? launcher(in: directory),
            let probe = try? TestProcess(
                launcher[0], Array(launcher.dropFirst()) + ["/bin/true"], output: directory.file("probe.out"))
        else { return false }
        var status: Int32 = 0
        waitpid(probe.pid, &status, 0)
        kill(-probe.pid, SIGKILL)  // the probe's journald
        return status == 0
    }()

    /// Every entry in the journal files under `directory`, with its string fields.
    static func entries(in directory: TemporaryDirectory) async throws -> [[String: String]] {
        // Journal files only: journald's varlink socket is also named `….journal`.
        let files = (FileManager.default.enumerator(atPath: directory.path)?.allObjects as? [String] ?? [])
            .map { "\(directory.path)/\($0)" }
            .filter {
                $0.hasSuffix(".journal")
                    && (try? FileManager.default.attributesOfItem(atPath: $0)[.type] as? FileAttributeType)
                        == .typeRegular
            }
            .map { "--file=\($0)" }
        guard !files.isEmpty else { return [] }
        let result = try await run("/usr/bin/journalctl", files + ["-o", "json", "--no-pager"], in: directory)
        return result.output.split(separator: "\n").compactMap { line in
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
                return nil
            }
            return object.compactMapValues { $0 as? String }
        }
    }
}
