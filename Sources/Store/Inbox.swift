/// A verified webhook (or an API request) on its way into the inbox.
public struct NewDelivery: Sendable {
    /// `github`, `gitea`, `gitlab`, `plane` or `api`.
    public var source: String
    public var project: String
    public var event: String
    /// The sender's id for this delivery; (source, project, delivery id) is stored once. Per project, because one
    /// forge event fired at two hooks (a repository's and an organization's) carries the same id to both.
    public var deliveryID: String
    /// A second identity that stays the same across a sender's retries (Plane's `event_id`), if there is one.
    public var dedupeKey: String?
    /// Lowercase hex SHA-256 of `body`.
    public var bodySHA256: String
    /// The headers that matter, as a JSON object.
    public var headers: String
    /// The raw body, byte for byte.
    public var body: [UInt8]
    public var receivedAtMs: Int64
    /// For senders that re-sign retries under new ids (Plane): the same body from the same source and project
    /// within this many milliseconds is a duplicate. Nil: no body check.
    public var bodyDedupeWindowMs: Int64?

    public init(
        source: String, project: String, event: String, deliveryID: String, dedupeKey: String? = nil,
        bodySHA256: String, headers: String, body: [UInt8], receivedAtMs: Int64, bodyDedupeWindowMs: Int64? = nil
    ) {
        self.source = source
        self.project = project
        self.event = event
        self.deliveryID = deliveryID
        self.dedupeKey = dedupeKey
        self.bodySHA256 = bodySHA256
        self.headers = headers
        self.body = body
        self.receivedAtMs = receivedAtMs
        self.bodyDedupeWindowMs = bodyDedupeWindowMs
    }
}

/// What storing a delivery did.
public enum DeliveryOutcome: Sendable, Equatable {
    /// A new row, with its id (the inbox's arrival order).
    case stored(id: Int64)
    /// Already in the inbox: nothing was written.
    case duplicate
}

/// The inbox's depth: deliveries not yet applied by the gatekeeper.
public struct InboxDepth: Sendable, Equatable {
    public var unprocessed: Int
    /// When the oldest unprocessed delivery arrived.
    public var oldestReceivedAtMs: Int64?

    public init(unprocessed: Int, oldestReceivedAtMs: Int64?) {
        self.unprocessed = unprocessed
        self.oldestReceivedAtMs = oldestReceivedAtMs
    }
}

extension Transaction {
    /// Stores `delivery` unless it duplicates one already stored for the same project: the same (source, delivery
    /// id), the same (source, dedupe key), or for a body window the same body from the same source.
    public func insertDelivery(_ delivery: NewDelivery) throws(StoreError) -> DeliveryOutcome {
        if let window = delivery.bodyDedupeWindowMs {
            let seen = try queryFirst(
                """
                SELECT 1 AS seen FROM deliveries
                WHERE source = ? AND project = ? AND body_sha256 = ? AND received_at_ms >= ? LIMIT 1
                """,
                .text(delivery.source), .text(delivery.project), .text(delivery.bodySHA256),
                .integer(delivery.receivedAtMs - window))
            if seen != nil { return .duplicate }
        }
        let inserted = try execute(
            """
            INSERT INTO deliveries (source, project, event, delivery_id, dedupe_key, body_sha256, received_at_ms)
            VALUES (?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT DO NOTHING
            """,
            .text(delivery.source), .text(delivery.project), .text(delivery.event), .text(delivery.deliveryID),
            .text(delivery.dedupeKey), .text(delivery.bodySHA256), .integer(delivery.receivedAtMs))
        guard inserted == 1 else { return .duplicate }
        let id = lastInsertRowID
        try execute(
            "INSERT INTO delivery_bodies (id, headers, body) VALUES (?, ?, ?)", .integer(id),
            .text(delivery.headers), .blob(delivery.body))
        return .stored(id: id)
    }
}

// The inbox lives in its own file (`inbox.db`), written only by intake: ingress's group commits never wait behind
// the gatekeeper's or the worker's transactions in the main file. The main file's `inbox_cursor` says how far the
// gatekeeper has applied it, advanced in the same transaction as the effects; row ids are the arrival order and only
// grow (a delivery is never deleted), so "applied" is exactly "id <= applied_through". See docs/STORE.md.

extension Database {
    /// How many deliveries in this inbox file wait for the gatekeeper, and since when; `store` is the main file,
    /// which holds how far the gatekeeper got.
    public func inboxDepth(appliedIn store: Database) throws -> InboxDepth {
        let cursor = try store.read { try $0.inboxCursor() }
        return try read { try $0.inboxDepth(after: cursor) }
    }
}

extension Transaction {
    /// In the inbox file: how many deliveries came after `cursor`, and when the oldest of them arrived.
    public func inboxDepth(after cursor: Int64) throws(StoreError) -> InboxDepth {
        let row = try queryFirst(
            "SELECT COUNT(*) AS unprocessed, MIN(received_at_ms) AS oldest FROM deliveries WHERE id > ?",
            .integer(cursor))
        return InboxDepth(unprocessed: try row?.int("unprocessed") ?? 0, oldestReceivedAtMs: try row?.int64("oldest"))
    }

    /// In the main file: the last delivery the gatekeeper applied (every one up to it is applied).
    public func inboxCursor() throws(StoreError) -> Int64 {
        try queryFirst("SELECT applied_through FROM inbox_cursor WHERE id = 1")?.int64("applied_through") ?? 0
    }

    /// In the main file: records every delivery up to `id` applied, in the transaction that applied them. Never moves
    /// back: returns false if another gatekeeper already got as far.
    @discardableResult
    public func advanceInboxCursor(to id: Int64) throws(StoreError) -> Bool {
        try execute(
            "UPDATE inbox_cursor SET applied_through = ? WHERE id = 1 AND applied_through < ?", .integer(id),
            .integer(id)) == 1
    }
}

/// A stored delivery, as the gatekeeper reads it back.
public struct StoredDelivery: Sendable, Equatable {
    public var id: Int64
    public var source: String
    public var project: String
    public var event: String
    public var deliveryID: String
    /// The stored headers: lowercased name → value.
    public var headers: String
    public var body: [UInt8]
    public var receivedAtMs: Int64
}

/// A delivery as the dashboard lists it: no headers, no body.
public struct DeliverySummary: Sendable, Equatable {
    public var id: Int64
    public var source: String
    public var project: String
    public var event: String
    public var receivedAtMs: Int64
}

extension Transaction {
    /// In the inbox file: the deliveries after `cursor`, in arrival order.
    public func deliveries(after cursor: Int64, limit: Int) throws(StoreError) -> [StoredDelivery] {
        try query(
            """
            SELECT d.id, d.source, d.project, d.event, d.delivery_id, b.headers, b.body, d.received_at_ms
            FROM deliveries d JOIN delivery_bodies b ON b.id = d.id
            WHERE d.id > ? ORDER BY d.id LIMIT ?
            """, .integer(cursor), .integer(limit)
        ).map { row throws(StoreError) in
            StoredDelivery(
                id: try row.required("id", row.int64), source: try row.required("source", row.string),
                project: try row.required("project", row.string), event: try row.required("event", row.string),
                deliveryID: try row.required("delivery_id", row.string),
                headers: try row.required("headers", row.string), body: try row.blob("body") ?? [],
                receivedAtMs: try row.required("received_at_ms", row.int64))
        }
    }

    /// In the inbox file: the latest deliveries, newest first, without bodies.
    public func recentDeliveries(limit: Int) throws(StoreError) -> [DeliverySummary] {
        try query(
            "SELECT id, source, project, event, received_at_ms FROM deliveries ORDER BY id DESC LIMIT ?",
            .integer(limit)
        ).map { row throws(StoreError) in
            DeliverySummary(
                id: try row.required("id", row.int64), source: try row.required("source", row.string),
                project: try row.required("project", row.string), event: try row.required("event", row.string),
                receivedAtMs: try row.required("received_at_ms", row.int64))
        }
    }
}

extension Database {
    /// The inbox's page size, for a file created now: a typical webhook body (GitHub's `issues` event is 13.5 KB) then
    /// fits in one page, not a chain of four overflow pages, so a commit writes about a quarter as many WAL frames
    /// (measured on a copy of the intake's inserts: 84 → 67 µs of CPU per stored delivery). Files made with
    /// SQLite's default (4 KiB) keep it.
    public static let inboxPageSize = 16384

    /// Opens (creating if needed) the inbox file at `path` and brings its schema up to date.
    public static func openInbox(
        path: String, durability: Durability = .full, busyTimeout: Duration = .seconds(5)
    ) throws -> Database {
        let inbox = try Database(
            path: path, durability: durability, busyTimeout: busyTimeout, pageSize: inboxPageSize)
        try inbox.migrate(InboxSchema.migrations)
        return inbox
    }

    /// Moves the deliveries a store from before the inbox file kept in its main file (`legacy_deliveries`, renamed by
    /// migration 7) into `inbox`, ids kept, and drops them from this file. Returns how many rows it copied. Safe to
    /// repeat and to run from several processes: the copy runs under the inbox's write lock, skips rows already there,
    /// and the legacy tables go only after the copy committed. Every process that opens the inbox runs it before it
    /// stores anything, so no new delivery can take a legacy id.
    @discardableResult
    public func moveLegacyDeliveries(into inbox: Database) throws -> Int {
        let legacy = try read { transaction in
            try transaction.queryFirst(
                "SELECT 1 AS found FROM sqlite_master WHERE type = 'table' AND name = 'legacy_deliveries'") != nil
        }
        guard legacy else { return 0 }
        let copied = try inbox.write { target in
            var copied = 0
            var after: Int64 = 0
            while true {
                let rows = try read { source in
                    try source.query(
                        """
                        SELECT d.id, d.source, d.project, d.event, d.delivery_id, d.dedupe_key, d.body_sha256,
                               d.received_at_ms, b.headers, b.body
                        FROM legacy_deliveries d JOIN legacy_delivery_bodies b ON b.id = d.id
                        WHERE d.id > ? ORDER BY d.id LIMIT 256
                        """, .integer(after))
                }
                guard let last = rows.last else { return copied }
                for row in rows {
                    let id = try row.required("id", row.int64)
                    let inserted = try target.execute(
                        """
                        INSERT INTO deliveries (id, source, project, event, delivery_id, dedupe_key, body_sha256,
                                                received_at_ms)
                        VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING
                        """,
                        .integer(id), .text(try row.required("source", row.string)),
                        .text(try row.required("project", row.string)), .text(try row.required("event", row.string)),
                        .text(try row.required("delivery_id", row.string)), .text(try row.string("dedupe_key")),
                        .text(try row.required("body_sha256", row.string)),
                        .integer(try row.required("received_at_ms", row.int64)))
                    guard inserted == 1 else { continue }
                    try target.execute(
                        "INSERT INTO delivery_bodies (id, headers, body) VALUES (?, ?, ?)", .integer(id),
                        .text(try row.required("headers", row.string)), .blob(try row.blob("body") ?? []))
                    copied += 1
                }
                after = try last.required("id", last.int64)
            }
        }
        try write { transaction in
            try transaction.executeScript(
                "DROP TABLE IF EXISTS legacy_delivery_bodies; DROP TABLE IF EXISTS legacy_deliveries;")
        }
        return copied
    }
}
