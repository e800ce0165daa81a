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
                """),
        Migration(
            version: 2, name: "inbox",
            sql: """
                CREATE TABLE deliveries (
                    id INTEGER PRIMARY KEY,
                    source TEXT NOT NULL CHECK (source IN ('github', 'gitea', 'gitlab', 'plane', 'api')),
                    project TEXT NOT NULL,
                    event TEXT NOT NULL,
                    delivery_id TEXT NOT NULL,
                    dedupe_key TEXT,
                    body_sha256 TEXT NOT NULL,
                    headers TEXT NOT NULL,
                    body BLOB NOT NULL,
                    received_at_ms INTEGER NOT NULL,
                    processed_at_ms INTEGER,
                    UNIQUE (source, project, delivery_id)
                );
                CREATE UNIQUE INDEX deliveries_dedupe_key ON deliveries (source, project, dedupe_key)
                    WHERE dedupe_key IS NOT NULL;
                CREATE INDEX deliveries_body ON deliveries (source, project, body_sha256, received_at_ms);
                CREATE INDEX deliveries_unprocessed ON deliveries (received_at_ms) WHERE processed_at_ms IS NULL;
                """),
    ]
}
