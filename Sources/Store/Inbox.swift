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
            INSERT INTO deliveries (source, project, event, delivery_id, dedupe_key, body_sha256, headers, body,
                                    received_at_ms)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT DO NOTHING
            """,
            .text(delivery.source), .text(delivery.project), .text(delivery.event), .text(delivery.deliveryID),
            .text(delivery.dedupeKey), .text(delivery.bodySHA256), .text(delivery.headers), .blob(delivery.body),
            .integer(delivery.receivedAtMs))
        return inserted == 0 ? .duplicate : .stored(id: lastInsertRowID)
    }
}

extension Database {
    /// How many deliveries wait for the gatekeeper, and since when.
    public func inboxDepth() throws -> InboxDepth {
        try read { transaction in
            let row = try transaction.queryFirst(
                """
                SELECT COUNT(*) AS unprocessed, MIN(received_at_ms) AS oldest
                FROM deliveries WHERE processed_at_ms IS NULL
                """)
            return InboxDepth(
                unprocessed: try row?.int("unprocessed") ?? 0, oldestReceivedAtMs: try row?.int64("oldest"))
        }
    }
}
