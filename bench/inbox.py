"""Writes deliveries straight into the inbox, as ingress stores them (a row in `deliveries`, its headers and body
in `delivery_bodies`), for benchmarks that start from a pre-filled inbox."""


def insert_deliveries(db, rows):
    """rows: (source, project, event, delivery_id, body_sha256, headers_json, body_bytes, received_at_ms)."""
    for source, project, event, delivery_id, sha, headers, body, received in rows:
        cursor = db.execute("""INSERT INTO deliveries (source, project, event, delivery_id, body_sha256,
                               received_at_ms) VALUES (?, ?, ?, ?, ?, ?)""",
                            (source, project, event, delivery_id, sha, received))
        db.execute("INSERT INTO delivery_bodies (id, headers, body) VALUES (?, ?, ?)",
                   (cursor.lastrowid, headers, body))
