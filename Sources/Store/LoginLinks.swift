extension Transaction {
    /// Records a one-time dashboard login link by the SHA-256 of its code (the code itself is never stored), and
    /// drops links that expired: an expired link is refused whether its row is there or not.
    public func insertLoginLink(codeSHA256: String, expiresAtMs: Int64, nowMs: Int64) throws(StoreError) {
        _ = try execute("DELETE FROM login_links WHERE expires_at_ms <= ?", .integer(nowMs))
        _ = try execute(
            "INSERT INTO login_links (code_sha256, expires_at_ms) VALUES (?, ?)", .text(codeSHA256),
            .integer(expiresAtMs))
    }

    /// Spends a login link: true exactly once for a link that exists and has not expired. One statement, so that two
    /// ingress processes redeeming the same code at once cannot both succeed.
    public func redeemLoginLink(codeSHA256: String, nowMs: Int64) throws(StoreError) -> Bool {
        try execute(
            """
            UPDATE login_links SET used_at_ms = ?
            WHERE code_sha256 = ? AND used_at_ms IS NULL AND expires_at_ms > ?
            """, .integer(nowMs), .text(codeSHA256), .integer(nowMs)) == 1
    }
}
