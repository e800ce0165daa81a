import Config
import Crypto
import HTTPTypes

/// Checks a webhook's authenticity on the raw body bytes, in constant time, before anything is parsed.
///
/// GitHub, Gitea/Forgejo and Plane send HMAC-SHA256 of the body keyed with the secret, as hex (GitHub and Gitea's
/// `X-Hub-Signature-256` with a `sha256=` prefix). GitLab sends the secret itself in `X-Gitlab-Token`. Hex digits
/// are accepted in either case; anything else — a missing header, a wrong prefix or length, a non-hex character —
/// is a failure.
public enum WebhookAuthenticator {
    /// Why a webhook failed authentication, for the 401's detail.
    public enum Failure: Equatable, Sendable {
        case missing(header: String)
        case malformed(header: String)
        case mismatch(header: String)

        public var detail: String {
            switch self {
            case .missing(let header): "no \(header) header"
            case .malformed(let header): "\(header) is not a well-formed signature"
            case .mismatch(let header): "\(header) does not match the body"
            }
        }
    }

    /// Nil if the request is authentic for `secret`.
    public static func verify(_ forge: Forge, headers: HTTPFields, body: [UInt8], secret: Secret) -> Failure? {
        let key = Array(secret.value.utf8)
        switch forge {
        case .github:
            return verifyHex(headers, ["X-Hub-Signature-256"], prefix: "sha256=", body: body, key: key)
        case .gitea:
            if headers.first(of: ["X-Gitea-Signature", "X-Forgejo-Signature", "X-Gogs-Signature"]) != nil {
                return verifyHex(
                    headers, ["X-Gitea-Signature", "X-Forgejo-Signature", "X-Gogs-Signature"], prefix: "", body: body,
                    key: key)
            }
            return verifyHex(headers, ["X-Hub-Signature-256"], prefix: "sha256=", body: body, key: key)
        case .plane:
            return verifyHex(headers, ["X-Plane-Signature"], prefix: "", body: body, key: key)
        case .gitlab:
            guard let (name, token) = headers.first(of: ["X-Gitlab-Token"]) else {
                return .missing(header: "X-Gitlab-Token")
            }
            return constantTimeEqual(Array(token.utf8), key) ? nil : .mismatch(header: name)
        }
    }

    private static func verifyHex(
        _ headers: HTTPFields, _ names: [String], prefix: String, body: [UInt8], key: [UInt8]
    ) -> Failure? {
        guard let (name, value) = headers.first(of: names) else { return .missing(header: names[0]) }
        guard value.hasPrefix(prefix), let signature = decodeHex(value.utf8.dropFirst(prefix.utf8.count)),
            signature.count == SHA256.byteCount
        else { return .malformed(header: name) }
        let valid = HMAC<SHA256>.isValidAuthenticationCode(
            signature, authenticating: body, using: SymmetricKey(data: key))
        return valid ? nil : .mismatch(header: name)
    }

    /// Lowercase hex SHA-256 of `body`.
    public static func sha256Hex(_ body: [UInt8]) -> String {
        hex(SHA256.hash(data: body))
    }

    /// Lowercase hex HMAC-SHA256 of `body` keyed with `secret`, as a sender computes it.
    public static func signature(_ body: [UInt8], secret: String) -> String {
        hex(HMAC<SHA256>.authenticationCode(for: body, using: SymmetricKey(data: Array(secret.utf8))))
    }

    /// Equal bytes, compared in time that depends on neither content nor length: both sides are hashed first.
    public static func constantTimeEqual(_ left: [UInt8], _ right: [UInt8]) -> Bool {
        let key = SymmetricKey(size: .bits256)
        let mac = HMAC<SHA256>.authenticationCode(for: right, using: key)
        return HMAC<SHA256>.isValidAuthenticationCode(mac, authenticating: left, using: key)
    }

    private static func decodeHex<Digits: Collection<UInt8>>(_ digits: Digits) -> [UInt8]? {
        guard digits.count % 2 == 0 else { return nil }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(digits.count / 2)
        var high: UInt8?
        for digit in digits {
            let value: UInt8
            switch digit {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): value = digit - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): value = digit - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): value = digit - UInt8(ascii: "A") + 10
            default: return nil
            }
            if let first = high {
                bytes.append(first << 4 | value)
                high = nil
            } else {
                high = value
            }
        }
        return bytes
    }

    private static func hex<Bytes: Sequence<UInt8>>(_ bytes: Bytes) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var text: [UInt8] = []
        for byte in bytes {
            text.append(digits[Int(byte >> 4)])
            text.append(digits[Int(byte & 0x0f)])
        }
        return String(decoding: text, as: UTF8.self)
    }
}
