/// The breaker as stored: the supervisor's circuit breaker survives a restart of Bosun.
public struct BreakerRecord: Sendable, Equatable {
    /// `closed`, `open` or `half_open`.
    public var state: String
    public var consecutiveTransients: Int
    public var pauseSeconds: Int
    public var openedAtMs: Int64?
    public var retryAtMs: Int64?
    public var trips: Int
    public var reason: String?

    public init(
        state: String, consecutiveTransients: Int, pauseSeconds: Int, openedAtMs: Int64?, retryAtMs: Int64?,
        trips: Int, reason: String?
    ) {
        self.state = state
        self.consecutiveTransients = consecutiveTransients
        self.pauseSeconds = pauseSeconds
        self.openedAtMs = openedAtMs
        self.retryAtMs = retryAtMs
        self.trips = trips
        self.reason = reason
    }
}

extension Database {
    /// The stored breaker, or nil before it was first saved.
    public func loadBreaker() throws -> BreakerRecord? {
        try read { transaction in
            guard let row = try transaction.queryFirst("SELECT * FROM breaker WHERE id = 1") else { return nil }
            return BreakerRecord(
                state: try row.required("state", row.string),
                consecutiveTransients: try row.required("consecutive_transients", row.int),
                pauseSeconds: try row.required("pause_s", row.int),
                openedAtMs: try row.int64("opened_at_ms"),
                retryAtMs: try row.int64("retry_at_ms"),
                trips: try row.required("trips", row.int),
                reason: try row.string("reason"))
        }
    }

    /// Replaces the stored breaker.
    public func saveBreaker(_ record: BreakerRecord) throws {
        try write { transaction in
            try transaction.execute(
                """
                INSERT INTO breaker (id, state, consecutive_transients, pause_s, opened_at_ms, retry_at_ms, trips,
                                     reason, updated_at_ms)
                VALUES (1, ?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (id) DO UPDATE SET
                    state = excluded.state, consecutive_transients = excluded.consecutive_transients,
                    pause_s = excluded.pause_s, opened_at_ms = excluded.opened_at_ms,
                    retry_at_ms = excluded.retry_at_ms, trips = excluded.trips, reason = excluded.reason,
                    updated_at_ms = excluded.updated_at_ms
                """,
                .text(record.state), .integer(record.consecutiveTransients), .integer(record.pauseSeconds),
                .integer(record.openedAtMs), .integer(record.retryAtMs), .integer(record.trips), .text(record.reason),
                .integer(Clock.nowMilliseconds))
        }
    }

    /// An operator's switch (e.g. `paused`), or nil if never set.
    public func operatorFlag(_ name: String) throws -> String? {
        try read { transaction in
            try transaction.queryFirst("SELECT value FROM operator_flags WHERE name = ?", .text(name))?.string("value")
        }
    }

    /// Sets an operator's switch.
    public func setOperatorFlag(_ name: String, to value: String) throws {
        try write { transaction in
            try transaction.execute(
                """
                INSERT INTO operator_flags (name, value, updated_at_ms) VALUES (?, ?, ?)
                ON CONFLICT (name) DO UPDATE SET value = excluded.value, updated_at_ms = excluded.updated_at_ms
                """,
                .text(name), .text(value), .integer(Clock.nowMilliseconds))
        }
    }
}
