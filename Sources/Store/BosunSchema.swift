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
        Migration(
            version: 3, name: "tasks, jobs, runs, outbox",
            sql: """
                CREATE TABLE tasks (
                    id INTEGER PRIMARY KEY,
                    project TEXT NOT NULL,
                    issue TEXT NOT NULL,
                    title TEXT NOT NULL,
                    body TEXT NOT NULL,
                    author TEXT NOT NULL,
                    workflow TEXT NOT NULL,
                    state TEXT NOT NULL,
                    active INTEGER NOT NULL,
                    waiting_on TEXT,
                    gate_index INTEGER NOT NULL DEFAULT 0,
                    level TEXT,
                    branch TEXT NOT NULL,
                    counters TEXT NOT NULL DEFAULT '{}',
                    feedback TEXT,
                    pr_number TEXT,
                    pr_url TEXT,
                    created_at_ms INTEGER NOT NULL,
                    updated_at_ms INTEGER NOT NULL,
                    state_entered_at_ms INTEGER NOT NULL
                );
                CREATE UNIQUE INDEX tasks_active_issue ON tasks (project, issue) WHERE active = 1;
                CREATE INDEX tasks_state ON tasks (state);
                CREATE INDEX tasks_branch ON tasks (project, branch) WHERE active = 1;

                CREATE TABLE task_events (
                    id INTEGER PRIMARY KEY,
                    task_id INTEGER NOT NULL REFERENCES tasks (id),
                    from_state TEXT,
                    to_state TEXT NOT NULL,
                    event TEXT NOT NULL,
                    reason TEXT NOT NULL,
                    delivery_id INTEGER,
                    at_ms INTEGER NOT NULL
                );
                CREATE INDEX task_events_task ON task_events (task_id, id);

                CREATE TABLE jobs (
                    id INTEGER PRIMARY KEY,
                    task_id INTEGER NOT NULL REFERENCES tasks (id),
                    project TEXT NOT NULL,
                    kind TEXT NOT NULL CHECK (kind IN ('agent', 'gate', 'merge')),
                    role TEXT NOT NULL,
                    stage TEXT NOT NULL,
                    spec TEXT NOT NULL,
                    state TEXT NOT NULL CHECK (state IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
                    priority INTEGER NOT NULL DEFAULT 0,
                    attempt INTEGER NOT NULL DEFAULT 0,
                    failures INTEGER NOT NULL DEFAULT 0,
                    transient_failures INTEGER NOT NULL DEFAULT 0,
                    available_at_ms INTEGER NOT NULL,
                    lease_owner TEXT,
                    lease_expires_at_ms INTEGER,
                    unique_key TEXT NOT NULL UNIQUE,
                    outcome TEXT,
                    outcome_applied_at_ms INTEGER,
                    last_error TEXT,
                    created_at_ms INTEGER NOT NULL,
                    finished_at_ms INTEGER
                );
                CREATE INDEX jobs_claimable ON jobs (priority DESC, available_at_ms, id) WHERE state = 'queued';
                CREATE INDEX jobs_running ON jobs (lease_expires_at_ms) WHERE state = 'running';
                CREATE INDEX jobs_unapplied ON jobs (finished_at_ms, id)
                    WHERE outcome_applied_at_ms IS NULL AND state IN ('succeeded', 'failed');
                CREATE INDEX jobs_task ON jobs (task_id);

                CREATE TABLE runs (
                    id INTEGER PRIMARY KEY,
                    job_id INTEGER NOT NULL REFERENCES jobs (id),
                    attempt INTEGER NOT NULL,
                    worker TEXT NOT NULL,
                    state TEXT NOT NULL CHECK (state IN ('starting', 'running', 'exited', 'lost')),
                    run_dir TEXT NOT NULL,
                    log_path TEXT NOT NULL,
                    shim_pid INTEGER,
                    shim_start_time INTEGER,
                    agent_pid INTEGER,
                    agent_start_time INTEGER,
                    exit_code INTEGER,
                    signal INTEGER,
                    timed_out INTEGER NOT NULL DEFAULT 0,
                    classification TEXT,
                    reason TEXT,
                    retry_at_ms INTEGER,
                    input_tokens INTEGER,
                    output_tokens INTEGER,
                    cost_usd REAL,
                    pr_url TEXT,
                    started_at_ms INTEGER NOT NULL,
                    finished_at_ms INTEGER,
                    UNIQUE (job_id, attempt)
                );
                CREATE INDEX runs_live ON runs (worker) WHERE state IN ('starting', 'running');

                CREATE TABLE outbox (
                    id INTEGER PRIMARY KEY,
                    task_id INTEGER REFERENCES tasks (id),
                    project TEXT NOT NULL,
                    kind TEXT NOT NULL CHECK (kind IN ('forge', 'local', 'notify')),
                    effect TEXT NOT NULL,
                    idempotency_key TEXT NOT NULL UNIQUE,
                    state TEXT NOT NULL CHECK (state IN ('pending', 'done', 'failed')),
                    attempts INTEGER NOT NULL DEFAULT 0,
                    next_try_at_ms INTEGER NOT NULL,
                    last_error TEXT,
                    result TEXT,
                    created_at_ms INTEGER NOT NULL,
                    done_at_ms INTEGER
                );
                CREATE INDEX outbox_due ON outbox (next_try_at_ms, id) WHERE state = 'pending';
                """),
        Migration(
            version: 4, name: "delivery bodies apart",
            sql: """
                CREATE TABLE delivery_bodies (
                    id INTEGER PRIMARY KEY REFERENCES deliveries (id),
                    headers TEXT NOT NULL,
                    body BLOB NOT NULL
                );
                INSERT INTO delivery_bodies (id, headers, body) SELECT id, headers, body FROM deliveries;
                ALTER TABLE deliveries DROP COLUMN headers;
                ALTER TABLE deliveries DROP COLUMN body;
                DROP INDEX deliveries_unprocessed;
                CREATE INDEX deliveries_unprocessed ON deliveries (id) WHERE processed_at_ms IS NULL;
                """),
        Migration(
            version: 5, name: "forge API stats",
            sql: """
                CREATE TABLE forge_api_stats (
                    host TEXT NOT NULL,
                    forge TEXT NOT NULL,
                    calls_2xx INTEGER NOT NULL DEFAULT 0,
                    calls_3xx INTEGER NOT NULL DEFAULT 0,
                    calls_4xx INTEGER NOT NULL DEFAULT 0,
                    calls_5xx INTEGER NOT NULL DEFAULT 0,
                    calls_error INTEGER NOT NULL DEFAULT 0,
                    rate_limit_remaining INTEGER,
                    rate_limit_limit INTEGER,
                    rate_limit_reset_at_ms INTEGER,
                    rate_limit_seen_at_ms INTEGER,
                    updated_at_ms INTEGER NOT NULL,
                    PRIMARY KEY (host, forge)
                );
                """),
        Migration(
            version: 6, name: "login links",
            sql: """
                CREATE TABLE login_links (
                    code_sha256 TEXT PRIMARY KEY,
                    expires_at_ms INTEGER NOT NULL,
                    used_at_ms INTEGER
                );
                """),
        Migration(
            version: 7, name: "inbox in its own file",
            sql: """
                CREATE TABLE inbox_cursor (
                    id INTEGER PRIMARY KEY CHECK (id = 1),
                    applied_through INTEGER NOT NULL
                );
                INSERT INTO inbox_cursor (id, applied_through)
                SELECT 1, COALESCE(
                    (SELECT MIN(id) - 1 FROM deliveries WHERE processed_at_ms IS NULL),
                    (SELECT MAX(id) FROM deliveries), 0);
                ALTER TABLE deliveries RENAME TO legacy_deliveries;
                ALTER TABLE delivery_bodies RENAME TO legacy_delivery_bodies;
                """),
    ]
}

/// The inbox file's schema (`inbox.db`, see docs/STORE.md): the deliveries ingress stores, nothing else. How far the
/// gatekeeper got is in the main file (`inbox_cursor`), so that nothing but intake writes here.
public enum InboxSchema {
    public static let migrations: [Migration] = [
        Migration(
            version: 1, name: "deliveries",
            sql: """
                CREATE TABLE deliveries (
                    id INTEGER PRIMARY KEY,
                    source TEXT NOT NULL CHECK (source IN ('github', 'gitea', 'gitlab', 'plane', 'api')),
                    project TEXT NOT NULL,
                    event TEXT NOT NULL,
                    delivery_id TEXT NOT NULL,
                    dedupe_key TEXT,
                    body_sha256 TEXT NOT NULL,
                    received_at_ms INTEGER NOT NULL,
                    UNIQUE (source, project, delivery_id)
                );
                CREATE UNIQUE INDEX deliveries_dedupe_key ON deliveries (source, project, dedupe_key)
                    WHERE dedupe_key IS NOT NULL;
                CREATE INDEX deliveries_body ON deliveries (source, project, body_sha256, received_at_ms);
                CREATE TABLE delivery_bodies (
                    id INTEGER PRIMARY KEY REFERENCES deliveries (id),
                    headers TEXT NOT NULL,
                    body BLOB NOT NULL
                );
                """)
    ]
}
