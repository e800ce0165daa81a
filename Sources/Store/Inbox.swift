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

extension Database {
    /// How many deliveries wait for the gatekeeper, and since when.
    public func inboxDepth() throws -> InboxDepth {
        try read { try $0.inboxDepth() }
    }
}

extension Transaction {
    /// How many deliveries wait for the gatekeeper, and since when.
    public func inboxDepth() throws(StoreError) -> InboxDepth {
        let row = try queryFirst(
            """
            SELECT COUNT(*) AS unprocessed, MIN(received_at_ms) AS oldest
            FROM deliveries WHERE processed_at_ms IS NULL
            """)
        return InboxDepth(unprocessed: try row?.int("unprocessed") ?? 0, oldestReceivedAtMs: try row?.int64("oldest"))
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

extension Transaction {
    /// Unprocessed deliveries in arrival order.
    public func unprocessedDeliveries(limit: Int) throws(StoreError) -> [StoredDelivery] {
        try query(
            """
            SELECT d.id, d.source, d.project, d.event, d.delivery_id, b.headers, b.body, d.received_at_ms
            FROM deliveries d JOIN delivery_bodies b ON b.id = d.id
            WHERE d.processed_at_ms IS NULL ORDER BY d.id LIMIT ?
            """, .integer(limit)
        ).map { row throws(StoreError) in
            StoredDelivery(
                id: try row.required("id", row.int64), source: try row.required("source", row.string),
                project: try row.required("project", row.string), event: try row.required("event", row.string),
                deliveryID: try row.required("delivery_id", row.string),
                headers: try row.required("headers", row.string), body: try row.blob("body") ?? [],
                receivedAtMs: try row.required("received_at_ms", row.int64))
        }
    }

    /// Marks a delivery applied. Returns false if it already was (another gatekeeper got there first).
    @discardableResult
    public func markDeliveryProcessed(id: Int64, atMs: Int64) throws(StoreError) -> Bool {
        try execute(
            "UPDATE deliveries SET processed_at_ms = ? WHERE id = ? AND processed_at_ms IS NULL", .integer(atMs),
            .integer(id)) == 1
    }

    /// Recent deliveries, newest first, without bodies.
    public func recentDeliveries(
        limit: Int
    ) throws(StoreError) -> [(
        id: Int64, source: String, project: String, event: String, receivedAtMs: Int64, processedAtMs: Int64?
    )] {
        try query(
            """
            SELECT id, source, project, event, received_at_ms, processed_at_ms FROM deliveries ORDER BY id DESC
            LIMIT ?
            """, .integer(limit)
        ).map { row throws(StoreError) in
            (
                try row.required("id", row.int64), try row.required("source", row.string),
                try row.required("project", row.string), try row.required("event", row.string),
                try row.required("received_at_ms", row.int64), try row.int64("processed_at_ms")
            )
        }
    }
}
