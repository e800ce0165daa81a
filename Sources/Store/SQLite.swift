import CBosunSQLite

// Every sqlite3_* call of Bosun is in this file.

/// One SQLite connection and its prepared-statement cache. Not thread-safe: `Database` owns exactly one and lets
/// one thread at a time use it.
final class SQLiteConnection {
    private let handle: OpaquePointer
    private var statements: [String: OpaquePointer] = [:]
    let path: String

    init(path: String, busyTimeoutMilliseconds: Int32) throws(StoreError) {
        var handle: OpaquePointer?
        let flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE
        let result = sqlite3_open_v2(path, &handle, flags, nil)
        guard result == SQLITE_OK, let handle else {
            let message = handle.map { String(cString: sqlite3_errmsg($0)) } ?? String(cString: sqlite3_errstr(result))
            sqlite3_close_v2(handle)
            throw StoreError(Self.code(for: result), "cannot open \(path): \(message)", resultCode: result)
        }
        self.handle = handle
        self.path = path
        bosun_sqlite_busy_timeout(handle, busyTimeoutMilliseconds)
    }

    deinit {
        for statement in statements.values { sqlite3_finalize(statement) }
        sqlite3_close_v2(handle)
    }

    /// Runs one or more statements without parameters or results (pragmas, DDL, BEGIN/COMMIT).
    func execute(script sql: String) throws(StoreError) {
        var message: UnsafeMutablePointer<CChar>?
        let result = sqlite3_exec(handle, sql, nil, nil, &message)
        if result != SQLITE_OK {
            let text = message.map { String(cString: $0) } ?? String(cString: sqlite3_errstr(result))
            sqlite3_free(message)
            throw failure(result, text, sql: sql)
        }
    }

    /// Runs one statement with `bindings` and returns its rows.
    func query(_ sql: String, _ bindings: [SQLValue]) throws(StoreError) -> [Row] {
        let statement = try prepared(sql)
        defer {
            sqlite3_reset(statement)
            sqlite3_clear_bindings(statement)
        }
        let parameterCount = Int(sqlite3_bind_parameter_count(statement))
        guard parameterCount == bindings.count else {
            throw StoreError(
                .sqlite, "statement takes \(parameterCount) parameters, got \(bindings.count)", sql: sql)
        }
        for (offset, value) in bindings.enumerated() {
            try bind(value, at: Int32(offset + 1), in: statement, sql: sql)
        }
        let columnCount = sqlite3_column_count(statement)
        let columns = (0..<columnCount).map { String(cString: sqlite3_column_name(statement, $0)) }
        var rows: [Row] = []
        while true {
            let result = sqlite3_step(statement)
            if result == SQLITE_DONE { return rows }
            guard result == SQLITE_ROW else {
                throw failure(result, String(cString: sqlite3_errmsg(handle)), sql: sql)
            }
            rows.append(Row(columns: columns, values: (0..<columnCount).map { column(statement, $0) }))
        }
    }

    /// How long a statement waits for another connection's lock before failing with `busy`.
    func setBusyTimeout(milliseconds: Int32) {
        bosun_sqlite_busy_timeout(handle, milliseconds)
    }

    /// Rows changed by the last INSERT, UPDATE or DELETE.
    var changes: Int { Int(sqlite3_changes(handle)) }

    /// The rowid of the last INSERT.
    var lastInsertRowID: Int64 { sqlite3_last_insert_rowid(handle) }

    /// True outside BEGIN … COMMIT.
    var isAutocommit: Bool { sqlite3_get_autocommit(handle) != 0 }

    private func prepared(_ sql: String) throws(StoreError) -> OpaquePointer {
        if let cached = statements[sql] { return cached }
        var statement: OpaquePointer?
        let result = sqlite3_prepare_v3(handle, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &statement, nil)
        guard result == SQLITE_OK, let statement else {
            throw failure(result, String(cString: sqlite3_errmsg(handle)), sql: sql)
        }
        statements[sql] = statement
        return statement
    }

    private func bind(_ value: SQLValue, at index: Int32, in statement: OpaquePointer, sql: String) throws(StoreError) {
        let result: Int32
        switch value {
        case .null:
            result = sqlite3_bind_null(statement, index)
        case .integer(let number):
            result = sqlite3_bind_int64(statement, index, number)
        case .real(let number):
            result = sqlite3_bind_double(statement, index, number)
        case .text(let text):
            // With an explicit length, so that a NUL inside the text is stored, not a terminator.
            var utf8 = Array(text.utf8)
            utf8.append(0)
            result = utf8.withUnsafeBufferPointer { bytes in
                bytes.withMemoryRebound(to: CChar.self) { characters in
                    sqlite3_bind_text64(
                        statement, index, characters.baseAddress, sqlite3_uint64(characters.count - 1),
                        bosun_sqlite_transient(), UInt8(SQLITE_UTF8))
                }
            }
        case .blob(let bytes):
            result = bytes.withUnsafeBytes { raw in
                sqlite3_bind_blob64(
                    statement, index, raw.baseAddress, sqlite3_uint64(raw.count), bosun_sqlite_transient())
            }
        }
        guard result == SQLITE_OK else {
            throw failure(result, String(cString: sqlite3_errmsg(handle)), sql: sql)
        }
    }

    private func column(_ statement: OpaquePointer, _ index: Int32) -> SQLValue {
        switch sqlite3_column_type(statement, index) {
        case SQLITE_INTEGER:
            return .integer(sqlite3_column_int64(statement, index))
        case SQLITE_FLOAT:
            return .real(sqlite3_column_double(statement, index))
        case SQLITE_TEXT:
            let count = Int(sqlite3_column_bytes(statement, index))
            guard count > 0, let text = sqlite3_column_text(statement, index) else { return .text("") }
            return .text(String(decoding: UnsafeBufferPointer(start: text, count: count), as: UTF8.self))
        case SQLITE_BLOB:
            let count = Int(sqlite3_column_bytes(statement, index))
            guard count > 0, let bytes = sqlite3_column_blob(statement, index) else { return .blob([]) }
            return .blob(Array(UnsafeRawBufferPointer(start: bytes, count: count)))
        default:
            return .null
        }
    }

    private func failure(_ result: Int32, _ message: String, sql: String) -> StoreError {
        StoreError(Self.code(for: result), message, resultCode: result, sql: sql)
    }

    private static func code(for result: Int32) -> StoreError.Code {
        switch result & 0xff {
        case SQLITE_BUSY, SQLITE_LOCKED: .busy
        case SQLITE_FULL: .full
        case SQLITE_CONSTRAINT: .constraint
        case SQLITE_IOERR, SQLITE_CANTOPEN, SQLITE_READONLY, SQLITE_PERM: .io
        case SQLITE_CORRUPT, SQLITE_NOTADB: .corrupt
        default: .sqlite
        }
    }

    /// The SQLite library version, e.g. `3.40.1`.
    static var libraryVersion: String { String(cString: sqlite3_libversion()) }
}
