import Synchronization

/// The embedded database: one SQLite file in WAL mode, safe to use from several threads of a process and from
/// several processes at once. Writes run in `BEGIN IMMEDIATE` transactions, so a writer takes the lock up front and
/// waits (up to the busy timeout) instead of failing halfway.
public final class Database: Sendable {
    /// How hard a commit waits for the disk (SQLite's `synchronous` in WAL mode).
    public enum Durability: String, Sendable, CaseIterable {
        /// fsync at every commit: a commit survives power loss.
        case full
        /// fsync at checkpoints: a commit survives a crash of any process, not a power loss.
        case normal
    }

    public let path: String
    private let connection: Mutex<SQLiteConnection>

    /// Opens (creating if needed) the database at `path` and applies the connection settings. `pageSize` applies
    /// only to a file created here (SQLite fixes it when the first table is made, and WAL mode cannot change it).
    public init(
        path: String, durability: Durability = .full, busyTimeout: Duration = .seconds(5), pageSize: Int? = nil
    ) throws(StoreError) {
        let milliseconds =
            busyTimeout.components.seconds * 1000 + busyTimeout.components.attoseconds / 1_000_000_000_000_000
        let connection = try SQLiteConnection(path: path, busyTimeoutMilliseconds: Int32(clamping: milliseconds))
        if let pageSize { try connection.execute(script: "PRAGMA page_size = \(pageSize);") }
        let mode = try connection.query("PRAGMA journal_mode = WAL", []).first?["journal_mode"]
        guard mode == .text("wal") else {
            throw StoreError(.io, "cannot switch \(path) to WAL mode (journal_mode is \(String(describing: mode)))")
        }
        let synchronous = durability == .full ? "FULL" : "NORMAL"
        try connection.execute(script: "PRAGMA synchronous = \(synchronous); PRAGMA foreign_keys = ON;")
        self.path = path
        self.connection = Mutex(connection)
    }

    /// Runs `body` in a write transaction (`BEGIN IMMEDIATE`), committing if it returns and rolling back if it
    /// throws. Waits up to the busy timeout for other writers, then throws `busy`.
    @discardableResult
    public func write<T>(_ body: (Transaction) throws -> T) throws -> T {
        try transaction(begin: "BEGIN IMMEDIATE", body)
    }

    /// Runs `body` in a read transaction: one consistent snapshot, never blocking writers.
    @discardableResult
    public func read<T>(_ body: (Transaction) throws -> T) throws -> T {
        try transaction(begin: "BEGIN DEFERRED", body)
    }

    private func transaction<T>(begin: String, _ body: (Transaction) throws -> T) throws -> T {
        try connection.withLock { connection in
            try connection.execute(script: begin)
            do {
                let result = try body(Transaction(connection: connection))
                try connection.execute(script: "COMMIT")
                return result
            } catch {
                if !connection.isAutocommit {
                    try? connection.execute(script: "ROLLBACK")
                }
                throw error
            }
        }
    }

    /// Copies committed WAL frames into the database file without blocking writers (`wal_checkpoint(PASSIVE)`);
    /// returns how many frames the WAL holds and how many of them are now in the database file.
    @discardableResult
    public func checkpoint() throws -> (walFrames: Int, checkpointed: Int) {
        try connection.withLock { connection in
            let row = try connection.query("PRAGMA wal_checkpoint(PASSIVE)", []).first
            return (try row?.int("log") ?? 0, try row?.int("checkpointed") ?? 0)
        }
    }

    /// Changes how long this connection waits for another's lock before failing with `busy`.
    public func setBusyTimeout(_ timeout: Duration) {
        let milliseconds = timeout.components.seconds * 1000 + timeout.components.attoseconds / 1_000_000_000_000_000
        connection.withLock { $0.setBusyTimeout(milliseconds: Int32(clamping: milliseconds)) }
    }

    /// Stops this connection from checkpointing at commit (`wal_autocheckpoint = 0`), for a writer whose commits
    /// must not pay for the copy; something else must then call `checkpoint()`.
    public func disableAutomaticCheckpoints() throws {
        try connection.withLock { _ = try $0.query("PRAGMA wal_autocheckpoint = 0", []) }
    }

    /// The SQLite library version in use.
    public static var sqliteVersion: String { SQLiteConnection.libraryVersion }
}

/// The statements available inside a transaction. Valid only during the `write` or `read` call that provides it.
public struct Transaction {
    private let connection: SQLiteConnection

    init(connection: SQLiteConnection) {
        self.connection = connection
    }

    /// Runs a statement and returns how many rows it changed.
    @discardableResult
    public func execute(_ sql: String, _ bindings: SQLValue...) throws(StoreError) -> Int {
        _ = try connection.query(sql, bindings)
        return connection.changes
    }

    /// Runs a statement with a bindings array and returns how many rows it changed.
    @discardableResult
    public func execute(_ sql: String, bindings: [SQLValue]) throws(StoreError) -> Int {
        _ = try connection.query(sql, bindings)
        return connection.changes
    }

    /// Runs a query and returns all its rows.
    public func query(_ sql: String, _ bindings: SQLValue...) throws(StoreError) -> [Row] {
        try connection.query(sql, bindings)
    }

    /// Runs a query with a bindings array and returns all its rows.
    public func query(_ sql: String, bindings: [SQLValue]) throws(StoreError) -> [Row] {
        try connection.query(sql, bindings)
    }

    /// Runs a query and returns its first row, if any.
    public func queryFirst(_ sql: String, _ bindings: SQLValue...) throws(StoreError) -> Row? {
        try connection.query(sql, bindings).first
    }

    /// The rowid of the last INSERT in this transaction.
    public var lastInsertRowID: Int64 { connection.lastInsertRowID }

    /// Runs a script of several statements, e.g. a migration.
    public func executeScript(_ sql: String) throws(StoreError) {
        try connection.execute(script: sql)
    }

    /// Runs `body` inside a savepoint of this transaction: if it throws, what it wrote is rolled back and the rest
    /// of the transaction goes on. Lets one transaction carry many independent units (a batch of deliveries) and
    /// still apply each whole or not at all.
    public func savepoint<T>(_ body: () throws -> T) throws -> T {
        try connection.execute(script: "SAVEPOINT unit")
        do {
            let result = try body()
            try connection.execute(script: "RELEASE unit")
            return result
        } catch {
            try connection.execute(script: "ROLLBACK TO unit; RELEASE unit")
            throw error
        }
    }
}
