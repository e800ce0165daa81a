import Config
import Crypto
import Foundation

/// The dashboard's session: a cookie `bosun_session=v1.EXPIRY.MAC`, where EXPIRY is a Unix time in seconds and MAC
/// an HMAC-SHA256 over it with a key derived from the API token. Nothing is stored: every ingress process, before
/// and after a restart, verifies the same cookies, and changing the token ends every session. The price: logging out
/// only removes the browser's copy, and a stolen cookie works until it expires.
struct SessionCookie: Sendable {
    static let name = "bosun_session"
    /// How long a session lasts.
    static let lifetimeSeconds: Int64 = 12 * 3600

    private let key: SymmetricKey

    init(token: Secret) {
        key = HKDF<SHA256>.deriveKey(
            inputKeyMaterial: SymmetricKey(data: Array(token.value.utf8)), salt: Array("bosun dashboard".utf8),
            info: Array("session cookie v1".utf8), outputByteCount: 32)
    }

    /// Why a cookie was not accepted.
    enum Refusal: Equatable {
        case malformed
        case expired
        /// The MAC does not match: tampered, or made with another token.
        case forged
    }

    /// A new session's cookie value, valid for `lifetimeSeconds` from `nowMs`.
    func issue(nowMs: Int64) -> String {
        let expires = nowMs / 1000 + Self.lifetimeSeconds
        return "v1.\(expires).\(Base64URL.encode(Array(mac(expires: expires))))"
    }

    /// Checks a cookie value: well formed, not expired, not further in the future than a session lasts, and its
    /// MAC valid (compared in constant time).
    func verify(_ value: String, nowMs: Int64) -> Refusal? {
        let parts = value.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0] == "v1", parts[1].count <= 12, parts[1].allSatisfy(\.isASCIIDigit),
            let expires = Int64(parts[1]), let code = Base64URL.decode(parts[2]), code.count == SHA256.byteCount
        else { return .malformed }
        guard HMAC<SHA256>.isValidAuthenticationCode(code, authenticating: Self.message(expires), using: key) else {
            return .forged
        }
        let now = nowMs / 1000
        guard expires > now, expires <= now + Self.lifetimeSeconds + 60 else { return .expired }
        return nil
    }

    private func mac(expires: Int64) -> HashedAuthenticationCode<SHA256> {
        HMAC<SHA256>.authenticationCode(for: Self.message(expires), using: key)
    }

    private static func message(_ expires: Int64) -> [UInt8] {
        Array("bosun session v1 \(expires)".utf8)
    }

    /// The `Set-Cookie` value that stores `value`: HttpOnly, SameSite=Strict, for the whole site, and Secure when
    /// the client reached us over HTTPS (through a proxy that says so).
    static func setCookie(_ value: String, secure: Bool) -> String {
        "\(name)=\(value); Path=/; Max-Age=\(lifetimeSeconds); HttpOnly; SameSite=Strict" + (secure ? "; Secure" : "")
    }

    /// The `Set-Cookie` value that removes the session cookie.
    static func clearCookie(secure: Bool) -> String {
        "\(name)=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict" + (secure ? "; Secure" : "")
    }
}

extension Character {
    fileprivate var isASCIIDigit: Bool { isASCII && isNumber }
}
