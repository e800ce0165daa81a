import Foundation
import Store
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite("Store: SQLite")
struct StoreTests {
    let directory = TemporaryDirectory("bosun-store")
    var path: String { directory.file("bosun.db") }

    func counterDatabase() throws -> Database {
        let database = try Database(path: path)
        try database.migrate([
            Migration(
                version: 1, name: "counter",
                sql: "CREATE TABLE counter (n INTEGER NOT NULL); INSERT INTO counter VALUES (0);")
        ])
        return database
    }

    @Test("WAL mode, and durability maps to synchronous FULL or NORMAL")
    func connectionSettings() throws {
        func pragma(_ database: Database, _ name: String) throws -> SQLValue? {
            try database.read { try $0.queryFirst("PRAGMA \(name)")?[name] }
        }
        let full = try Database(path: path, durability: .full)
        #expect(try pragma(full, "journal_mode") == .text("wal"))
        #expect(try pragma(full, "synchronous") == .integer(2))
        #expect(try pragma(full, "foreign_keys") == .integer(1))
        let normal = try Database(path: path, durability: .normal)
        #expect(try pragma(normal, "synchronous") == .integer(1))
    }

    @Test("migrations apply once, in order, and record themselves")
    func migrations() throws {
        let database = try Database(path: path)
        #expect(try database.schemaVersion() == 0)
        let first = try database.migrate()
        #expect(first.from == 0)
        #expect(first.to == BosunSchema.migrations.count)
        #expect(first.applied == BosunSchema.migrations.map(\.name))
        let again = try database.migrate()
        #expect(again.applied.isEmpty)
        #expect(try database.schemaVersion() == BosunSchema.migrations.count)
        let tables = try database.read { transaction in
            try transaction.query("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").compactMap {
                try $0.string("name")
            }
        }
        #expect(tables.contains("breaker"))
        #expect(tables.contains("operator_flags"))
        #expect(tables.contains("schema_migrations"))
    }

    @Test(
        "migrations 4 and 7: an older store's deliveries move into the inbox file without losing a byte, and the applied ones stay applied"
    )
    func legacyDeliveriesMove() throws {
        let database = try Database(path: path)
        try database.migrate(Array(BosunSchema.migrations.prefix(3)))
        let body: [UInt8] = Array("{\"action\":\"opened\"}".utf8) + [0, 0xFF, 0x80]
        try database.write { transaction in
            for (index, processed) in [(1, Int64?.some(5)), (2, nil), (3, nil)] {
                try transaction.execute(
                    """
                    INSERT INTO deliveries (source, project, event, delivery_id, body_sha256, headers, body,
                                            received_at_ms, processed_at_ms)
                    VALUES ('github', 'demo', 'issues', ?, 'sha', '{"x-github-event":"issues"}', ?, ?, ?)
                    """, .text("d-\(index)"), .blob(body + [UInt8(index)]), .integer(Int64(index)),
                    processed.map { .integer($0) } ?? .null)
            }
        }
        let report = try database.migrate()
        #expect(report.from == 3)
        // The gatekeeper had applied d-1: the cursor starts after it.
        #expect(try database.read { try $0.inboxCursor() } == 1)

        let inbox = try Database.openInbox(path: directory.file("inbox.db"))
        #expect(try database.moveLegacyDeliveries(into: inbox) == 3)
        #expect(try database.moveLegacyDeliveries(into: inbox) == 0, "a second move finds nothing left to move")
        let legacyTables = try database.read { transaction in
            try transaction.query("SELECT name FROM sqlite_master WHERE name LIKE 'legacy_%'")
        }
        #expect(legacyTables.isEmpty)
        let pending = try inbox.read { try $0.deliveries(after: 1, limit: 10) }
        #expect(pending.map(\.deliveryID) == ["d-2", "d-3"])
        #expect(pending.map(\.body) == [body + [2], body + [3]])
        #expect(pending.allSatisfy { $0.headers == #"{"x-github-event":"issues"}"# })
        #expect(try inbox.inboxDepth(appliedIn: database) == InboxDepth(unprocessed: 2, oldestReceivedAtMs: 2))

        // A new delivery comes after the moved ones, and the same delivery id is still a duplicate.
        let next = NewDelivery(
            source: "github", project: "demo", event: "issues", deliveryID: "d-4", bodySHA256: "sha4", headers: "{}",
            body: [], receivedAtMs: 4)
        #expect(try inbox.write { try $0.insertDelivery(next) } == .stored(id: 4))
        var again = next
        again.deliveryID = "d-2"
        #expect(try inbox.write { try $0.insertDelivery(again) } == .duplicate)
    }

    @Test("the inbox cursor moves forward only, and counts what is left after it")
    func inboxCursor() throws {
        let database = try Database(path: path)
        try database.migrate()
        let inbox = try Database.openInbox(path: directory.file("inbox.db"))
        for index in 1...5 {
            let delivery = NewDelivery(
                source: "api", project: "p", event: "task.create", deliveryID: "r\(index)", bodySHA256: "\(index)",
                headers: "{}", body: [], receivedAtMs: Int64(index * 10))
            #expect(try inbox.write { try $0.insertDelivery(delivery) } == .stored(id: Int64(index)))
        }
        #expect(try database.read { try $0.inboxCursor() } == 0)
        #expect(try inbox.inboxDepth(appliedIn: database) == InboxDepth(unprocessed: 5, oldestReceivedAtMs: 10))
        #expect(try database.write { try $0.advanceInboxCursor(to: 3) })
        #expect(try !database.write { try $0.advanceInboxCursor(to: 2) }, "a slower gatekeeper cannot move it back")
        #expect(try database.read { try $0.inboxCursor() } == 3)
        #expect(try inbox.read { try $0.deliveries(after: 3, limit: 10) }.map(\.deliveryID) == ["r4", "r5"])
        #expect(try inbox.inboxDepth(appliedIn: database) == InboxDepth(unprocessed: 2, oldestReceivedAtMs: 40))
        #expect(try inbox.read { try $0.recentDeliveries(limit: 2) }.map(\.id) == [5, 4])
    }

    @Test("a failing migration changes nothing; a newer schema is refused; versions must be sequential")
    func migrationFailures() throws {
        let database = try Database(path: path)
        let good = Migration(version: 1, name: "one", sql: "CREATE TABLE one (x INTEGER)")
        let bad = Migration(version: 2, name: "two", sql: "CREATE TABLE two (x INTEGER); THIS IS NOT SQL")
        #expect(throws: StoreError.self) { try database.migrate([good, bad]) }
        #expect(try database.schemaVersion() == 0)
        #expect(try database.read { try $0.queryFirst("SELECT name FROM sqlite_master WHERE name = 'one'") } == nil)

        try database.migrate([good])
        do {
            try database.migrate([])
            Issue.record("expected schema_too_new")
        } catch let error as StoreError {
            #expect(error.code == .schemaTooNew)
            #expect(error.message.contains("schema version 1, newer than this Bosun knows (0)"))
        }
        #expect(throws: StoreError.self) {
            try database.migrate([good, Migration(version: 3, name: "gap", sql: "SELECT 1")])
        }
    }

    @Test("a transaction that throws rolls back; values of every type round-trip")
    func transactions() throws {
        let database = try Database(path: path)
        try database.migrate([Migration(version: 1, name: "t", sql: "CREATE TABLE t (k TEXT PRIMARY KEY, v)")])
        struct Abort: Error {}
        #expect(throws: Abort.self) {
            try database.write { transaction in
                try transaction.execute("INSERT INTO t VALUES ('a', 1)")
                throw Abort()
            }
        }
        #expect(try database.read { try $0.query("SELECT * FROM t") }.isEmpty)

        let values: [SQLValue] = [
            .null, .integer(Int64.max), .integer(-1), .real(2.5), .text("snow ☃ and a\0nul"), .blob([0, 1, 255]),
            .text(""),
        ]
        try database.write { transaction in
            for (index, value) in values.enumerated() {
                try transaction.execute("INSERT INTO t VALUES (?, ?)", .text("k\(index)"), value)
            }
        }
        let stored = try database.read { transaction in
            try transaction.query("SELECT v FROM t ORDER BY k").map { $0["v"] }
        }
        #expect(stored == values)
    }

    @Test("SQL errors, constraint violations and wrong parameter counts are errors that name the statement")
    func statementErrors() throws {
        let database = try Database(path: path)
        try database.migrate([Migration(version: 1, name: "t", sql: "CREATE TABLE t (k TEXT PRIMARY KEY)")])
        try database.write { try $0.execute("INSERT INTO t VALUES ('a')") }
        do {
            try database.write { try $0.execute("INSERT INTO t VALUES ('a')") }
            Issue.record("expected a constraint error")
        } catch let error as StoreError {
            #expect(error.code == .constraint)
            #expect(error.sql == "INSERT INTO t VALUES ('a')")
        }
        do {
            try database.write { try $0.execute("INSERT INTO t VALUES (?)") }
            Issue.record("expected a parameter count error")
        } catch let error as StoreError {
            #expect(error.message == "statement takes 1 parameters, got 0")
        }
        do {
            _ = try database.read { try $0.query("SELECT x FROM nowhere") }
            Issue.record("expected an SQL error")
        } catch let error as StoreError {
            #expect(error.code == .sqlite)
            #expect(error.message.contains("no such table"))
        }
    }

    @Test("a file that is not a database is reported as corrupt")
    func notADatabase() throws {
        try directory.write("bosun.db", String(repeating: "this is not sqlite ", count: 100))
        do {
            let database = try Database(path: path)
            try database.migrate()
            Issue.record("expected an error")
        } catch let error as StoreError {
            #expect(error.code == .corrupt)
        }
    }

    @Test("a writer waits for the lock up to the busy timeout, then fails with busy (transient)")
    func busyTimeout() async throws {
        let holder = try counterDatabase()
        let waiter = try Database(path: path, busyTimeout: .milliseconds(200))
        let locked = AsyncStream<Void>.makeStream()
        let release = DispatchSemaphore(value: 0)
        let thread = Thread {
            try? holder.write { transaction in
                try transaction.execute("UPDATE counter SET n = n + 1")
                locked.continuation.yield()
                release.wait()
            }
        }
        thread.start()
        var iterator = locked.stream.makeAsyncIterator()
        await iterator.next()
        let started = ContinuousClock.now
        do {
            try waiter.write { try $0.execute("UPDATE counter SET n = n + 1") }
            Issue.record("expected busy")
        } catch let error as StoreError {
            #expect(error.code == .busy)
            #expect(error.isTransient)
            #expect(ContinuousClock.now - started >= .milliseconds(150))
        }
        release.signal()
        try await eventually("the holder commits") {
            try waiter.read { try $0.queryFirst("SELECT n FROM counter")?.int("n") } == 1
        }
    }

    @Test("concurrent writers in threads and in another process lose no update")
    func concurrentWriters() async throws {
        let first = try counterDatabase()
        let second = try Database(path: path)
        let python = "/usr/bin/python3"
        #expect(
            FileManager.default.isExecutableFile(atPath: python), "python3 is the second process; setup installs it")
        let script = """
            import sqlite3, sys
            db = sqlite3.connect(sys.argv[1], timeout=30, isolation_level=None)
            for _ in range(300):
                db.execute("BEGIN IMMEDIATE")
                db.execute("UPDATE counter SET n = n + 1")
                db.execute("COMMIT")
            """
        let other = try TestProcess(python, ["-c", script, path], output: directory.file("python.out"))
        let done = AsyncStream<Int>.makeStream()
        for database in [first, second] {
            Thread {
                var failures = 0
                for _ in 0..<300 {
                    do {
                        try database.write { try $0.execute("UPDATE counter SET n = n + 1") }
                    } catch {
                        failures += 1
                    }
                }
                done.continuation.yield(failures)
            }.start()
        }
        var iterator = done.stream.makeAsyncIterator()
        #expect(await iterator.next() == 0)
        #expect(await iterator.next() == 0)
        let status = await other.wait(timeout: .seconds(60))
        #expect(status == .exited(code: 0), "\(other.output)")
        #expect(try first.read { try $0.queryFirst("SELECT n FROM counter")?.int("n") } == 900)
    }

    @Test("operator flags and the breaker row persist")
    func supervisorState() throws {
        let database = try Database(path: path)
        try database.migrate()
        #expect(try database.operatorFlag("paused") == nil)
        try database.setOperatorFlag("paused", to: "true")
        try database.setOperatorFlag("paused", to: "false")
        #expect(try database.operatorFlag("paused") == "false")
        #expect(try database.loadBreaker() == nil)
        let record = BreakerRecord(
            state: "open", consecutiveTransients: 3, pauseSeconds: 600, openedAtMs: 1, retryAtMs: 2, trips: 4,
            reason: "429")
        try database.saveBreaker(record)
        #expect(try Database(path: path).loadBreaker() == record)
    }
}
