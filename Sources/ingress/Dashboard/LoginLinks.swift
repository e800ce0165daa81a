import Crypto
import Store
import WebhookAuth

/// One-time dashboard login links (`/login/CODE`) for the CLI and for tests: a code is 256 random bits, valid for
/// `lifetimeMs`, and spent by its first use. The store remembers the codes (their SHA-256 only), so a link made
/// through one ingress process works through its successor in a rolling restart, and is spent for both.
struct LoginLinks: Sendable {
    let database: Database
    static let lifetimeMs: Int64 = 60_000

    /// Makes and records a new code.
    func create(nowMs: Int64) throws -> String {
        let code = Base64URL.encode(SymmetricKey(size: .bits256).withUnsafeBytes { Array($0) })
        try database.write { transaction in
            try transaction.insertLoginLink(
                codeSHA256: Self.digest(code), expiresAtMs: nowMs + Self.lifetimeMs, nowMs: nowMs)
        }
        return code
    }

    /// Spends `code`: true the first time for a code that was made here and has not expired; false otherwise,
    /// including for anything that is not shaped like a code (the store is not asked then).
    func redeem(_ code: String, nowMs: Int64) throws -> Bool {
        guard Self.isWellFormed(code) else { return false }
        return try database.write { transaction in
            try transaction.redeemLoginLink(codeSHA256: Self.digest(code), nowMs: nowMs)
        }
    }

    /// 43 characters of the URL-safe base64 alphabet: what `create` makes.
    static func isWellFormed(_ code: String) -> Bool {
        code.utf8.count == 43 && Base64URL.decode(Substring(code))?.count == 32
    }

    static func digest(_ code: String) -> String {
        WebhookAuthenticator.sha256Hex(Array(code.utf8))
    }
}
