/// Bosun's schema, one migration per change. Append only: a released migration never changes.
///
/// Conventions (see docs/STORE.md): timestamps are INTEGER milliseconds since the Unix epoch in columns named
/// `*_ms`; booleans are INTEGER 0/1; SQL stays portable to PostgreSQL (no SQLite-only types).
public enum BosunSchema {
    public static let migrations: [Migration] = [
        Migration(
            version: 1, name: "supervisor state",
            sql: """
                CREATE TABLE breaker (
                    id INTEGER PRIMARY KEY CHECK (id = 1),
                    state TEXT NOT NULL CHECK (state IN ('closed', 'open', 'half_open')),
                    consecutive_transients INTEGER NOT NULL,
                    pause_s INTEGER NOT NULL,
                    opened_at_ms INTEGER,
                    retry_at_ms INTEGER,
                    trips INTEGER NOT NULL,
                    reason TEXT,
                    updated_at_ms INTEGER NOT NULL
                );
                CREATE TABLE operator_flags (
                    name TEXT PRIMARY KEY,
                    value TEXT NOT NULL,
                    updated_at_ms INTEGER NOT NULL
                );
                """)
    ]
}
