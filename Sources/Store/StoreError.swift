/// A store failure: what kind, what SQLite said, and the statement involved.
public struct StoreError: Error, CustomStringConvertible, Sendable {
    /// The classes of failure callers act on differently.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        let name: String
        public var description: String { name }

        /// Another connection held the lock past the busy timeout. Transient: retry or answer 503.
        public static let busy = Code(name: "busy")
        /// The disk or the database is full. Transient for a client: answer 503.
        public static let full = Code(name: "full")
        /// A UNIQUE, CHECK, NOT NULL or foreign key constraint failed.
        public static let constraint = Code(name: "constraint")
        /// The file cannot be opened, read or written.
        public static let io = Code(name: "io")
        /// The file is not a database or is damaged.
        public static let corrupt = Code(name: "corrupt")
        /// The database was migrated by a newer Bosun.
        public static let schemaTooNew = Code(name: "schema_too_new")
        /// A row did not have the shape the code expected.
        public static let decoding = Code(name: "decoding")
        /// Anything else SQLite reports, including SQL errors.
        public static let sqlite = Code(name: "sqlite")
    }

    public var code: Code
    public var message: String
    /// SQLite's extended result code, when the error came from SQLite.
    public var resultCode: Int32?
    /// The statement that failed, when there was one.
    public var sql: String?

    public init(_ code: Code, _ message: String, resultCode: Int32? = nil, sql: String? = nil) {
        self.code = code
        self.message = message
        self.resultCode = resultCode
        self.sql = sql
    }

    /// True for failures that a retry later may not hit: a busy lock or a full disk.
    public var isTransient: Bool { code == .busy || code == .full }

    public var description: String {
        guard let sql else { return message }
        return "\(message) (in: \(sql.prefix(120)))"
    }
}
