import Foundation
import LinuxProcess
import Store
import Testing

extension ProcessLevel {
    @Suite("bosun demo")
    struct Demo {
        /// Runs `bosun demo ARGS` to its end (at most 5 minutes) and returns its exit status and output.
        static func demo(
            _ arguments: [String], in scratch: TemporaryDirectory
        ) async throws -> (status: TerminationStatus, output: String) {
            let process = try TestProcess(
                Binaries.bosun, ["demo"] + arguments,
                output: scratch.file("demo-\(UInt32.random(in: 0...UInt32.max)).out"))
            guard let status = await process.wait(timeout: .seconds(300)) else {
                await process.terminate()
                throw TestFailure("bosun demo did not end within 300 s:\n\(process.output)")
            }
            return (status, process.output)
        }

        static func git(_ arguments: [String], in scratch: TemporaryDirectory) async throws -> String {
            let result = try await run("/usr/bin/git", arguments, in: scratch)
            guard result.status == .exited(code: 0) else { throw TestFailure("git \(arguments): \(result.output)") }
            return result.output
        }

        /// Nothing of that demo directory runs any more: no supervisor, child, shim or agent.
        static func leftovers(of directory: String) -> [ProcessStat] {
            let children = Set(processes(withEnvironment: "BOSUN_CONFIG=\(directory)/bosun.yaml").map(\.pid))
            return ProcessTable.all().filter { process in
                !process.isZombie
                    && (children.contains(process.pid) || commandLine(of: process.pid).contains(directory))
            }
        }

        @Test("--exit-when-done: every transition printed, the approval, one review bounce, the merge; exit 0; again")
        func exitWhenDone() async throws {
            let scratch = TemporaryDirectory("bosun-demo")
            let directory = scratch.file("demo")
            let arguments = ["--exit-when-done", "--dir", directory, "--listen", "127.0.0.1:0"]
            let first = try await Self.demo(arguments, in: scratch)
            #expect(first.status == .exited(code: 0), "\(first.output)")
            let transitions = [
                "new → created", "created → analysis", "approving it as you", "analysis → architecture",
                "architecture → development", "development → review", "review → development",
                "development → review", "review → testing", "testing → deploy", "deploy → done", "done → done",
                "Bosun merged the task's branch", "Bosun stopped.",
            ]
            var position = first.output.startIndex
            for expected in transitions {
                let found = first.output.range(of: expected, range: position..<first.output.endIndex)
                #expect(found != nil, "\(expected) missing or out of order in:\n\(first.output)")
                position = found?.upperBound ?? position
            }
            #expect(first.output.components(separatedBy: "changes_requested: ").count == 2)
            #expect(first.output.contains("task comment 1 :approved: --author you"))

            // The merge is on the demo repository's main, with the agent's code; the checkout has it too.
            let origin = directory + "/origin.git"
            let log = try await Self.git(["-C", origin, "log", "--format=%s", "main"], in: scratch)
            #expect(log.contains("Merge branch 'bosun/1-add-a-greeting-script-bounce-1'"), "\(log)")
            let files = try await Self.git(["-C", origin, "ls-tree", "--name-only", "main"], in: scratch)
            #expect(files.contains("greet-1.sh") && files.contains("feature-1.txt") && !files.contains(".bosun"))
            #expect(FileManager.default.fileExists(atPath: directory + "/repo/greet-1.sh"))
            // The approval went in as a comment by the named human, exactly like `bosun task comment`.
            let inbox = try Database(path: directory + "/state/inbox.db")
            let comments = try inbox.read {
                try $0.query(
                    "SELECT body FROM deliveries JOIN delivery_bodies USING (id) WHERE event = 'comment.create'")
            }.map { String(decoding: try $0.blob("body") ?? [], as: UTF8.self) }
            #expect(comments.count == 1)
            #expect(comments.first?.contains("\"author\":\"you\"") == true)
            #expect(comments.first?.contains(":approved:") == true)
            #expect(Self.leftovers(of: directory).isEmpty)

            // Again in the same directory: a fresh start, not a second task on the old state.
            let second = try await Self.demo(arguments, in: scratch)
            #expect(second.status == .exited(code: 0), "\(second.output)")
            #expect(second.output.contains("task 1: every transition"))
            let again = try await Self.git(["-C", origin, "log", "--format=%s", "main"], in: scratch)
            #expect(again.components(separatedBy: "Merge branch").count == 2)
            #expect(Self.leftovers(of: directory).isEmpty)
        }

        @Test("a deadline that passes: exit 1 with the task's state, and Bosun is stopped")
        func deadline() async throws {
            let scratch = TemporaryDirectory("bosun-demo")
            let directory = scratch.file("demo")
            let result = try await Self.demo(
                ["--exit-when-done", "--dir", directory, "--listen", "127.0.0.1:0", "--timeout", "1"], in: scratch)
            #expect(result.status == .exited(code: 1), "\(result.output)")
            #expect(result.output.contains("bosun: task 1 is not done and merged after 1 s (it is in "))
            #expect(result.output.contains("Bosun stopped. Its log: \(directory)/bosun.log"))
            #expect(Self.leftovers(of: directory).isEmpty)
        }

        @Test("a directory bosun demo did not make is refused and left alone")
        func foreignDirectory() async throws {
            let scratch = TemporaryDirectory("bosun-demo")
            try FileManager.default.createDirectory(atPath: scratch.file("mine"), withIntermediateDirectories: true)
            let keep = try scratch.write("mine/notes.txt", "")
            let result = try await Self.demo(["--dir", scratch.file("mine")], in: scratch)
            #expect(result.status == .exited(code: 1))
            #expect(
                result.output
                    == "bosun: \(scratch.file("mine")) is not empty and was not made by `bosun demo`; pass another --dir or remove it\n"
            )
            #expect(FileManager.default.fileExists(atPath: keep))
        }
    }
}
