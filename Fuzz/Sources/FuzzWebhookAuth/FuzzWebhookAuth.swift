import Config
import Crypto
import FuzzSupport
import HTTPTypes
import WebhookAuth

// Webhook signature verification for every forge, on arbitrary headers and bodies.
//
// Input: forge, signature variant, mutation kind, mutation position (2 bytes); the secret up to "\n"; header lines
// `Name: value` up to an empty line; the body is the rest.
//
// Invariants:
// 1. On the headers as given, `verify` accepts exactly when an independent reading of the forge's documented rule
//    says the request is signed for this body and secret (and it never crashes).
// 2. The same request correctly signed (any accepted header and hex case) is accepted.
// 3. That signed request with its body changed, or its signature or token changed, is refused.

/// Where each forge puts its signature, in the order `verify` is documented to look.
let signatureHeaders: [Forge: [String]] = [
    .github: ["X-Hub-Signature-256"],
    .gitea: ["X-Gitea-Signature", "X-Forgejo-Signature", "X-Gogs-Signature", "X-Hub-Signature-256"],
    .gitlab: ["X-Gitlab-Token"],
    .plane: ["X-Plane-Signature"],
]

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzWebhookAuth(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    var input = FuzzInput(data, size)
    let forge = input.pick([Forge.github, .gitea, .gitlab, .plane])
    let variant = Int(input.byte())
    let mutation = Int(input.byte())
    let position = Int(input.byte()) << 8 | Int(input.byte())
    let secretBytes = input.field(until: UInt8(ascii: "\n"))
    let secretText = String(decoding: secretBytes, as: UTF8.self)
    let secret = Secret(value: secretText.isEmpty ? "secret" : secretText, source: "fuzz")
    var headers = HTTPFields()
    while !input.isAtEnd {
        let line = input.field(until: UInt8(ascii: "\n"))
        if line.isEmpty { break }
        let colon = line.firstIndex(of: UInt8(ascii: ":")) ?? line.endIndex
        let nameText = String(decoding: line[..<colon], as: UTF8.self)
        guard let name = HTTPField.Name(nameText) else { continue }
        var value = line[colon...].dropFirst()
        while value.first == UInt8(ascii: " ") { value = value.dropFirst() }
        headers.append(HTTPField(name: name, value: value))
    }
    let body = input.rest()

    // 1. As given.
    let verdict = WebhookAuthenticator.verify(forge, headers: headers, body: body, secret: secret)
    let expected = isAuthentic(forge, headers, body, secret.value)
    require(
        (verdict == nil) == expected,
        "\(forge) verify says \(verdict.map(\.detail) ?? "authentic"), the documented rule says \(expected)")

    // 2. Correctly signed, whatever other headers came along.
    let names = signatureHeaders[forge]!
    var signed = headers
    for name in names { signed[HTTPField.Name(name)!] = nil }
    let header = HTTPField.Name(names[variant % names.count])!
    let mac = Array(HMAC<SHA256>.authenticationCode(for: body, using: SymmetricKey(data: Array(secret.value.utf8))))
    let digits = hexDigits(mac, case: variant / names.count)
    let signature: String
    switch forge {
    case .gitlab: signature = secret.value
    case .github: signature = "sha256=" + digits
    case .gitea: signature = header.rawName == "X-Hub-Signature-256" ? "sha256=" + digits : digits
    case .plane: signature = digits
    }
    signed[header] = signature
    // A token with characters a header value cannot carry (a newline, a NUL) cannot be sent at all.
    guard signed[header] == signature else { return 0 }
    let signedVerdict = WebhookAuthenticator.verify(forge, headers: signed, body: body, secret: secret)
    require(signedVerdict == nil, "\(forge) refuses a correctly signed request: \(signedVerdict?.detail ?? "")")

    // 3. Any change to the body or to the signature is refused.
    if forge != .gitlab {
        var changed = body
        switch mutation % 3 {
        case 0 where !changed.isEmpty: changed[position % changed.count] ^= 1 << (mutation / 3 % 8)
        case 1 where !changed.isEmpty: changed.remove(at: position % changed.count)
        default: changed.insert(UInt8(truncatingIfNeeded: mutation), at: position % (changed.count + 1))
        }
        require(
            WebhookAuthenticator.verify(forge, headers: signed, body: changed, secret: secret) != nil,
            "\(forge) accepts a changed body")
    }
    var forged = Array(signature.utf8)
    if forge == .gitlab {
        switch mutation % 3 {
        case 0: forged[position % forged.count] = forged[position % forged.count] == UInt8(ascii: "x") ? 0x79 : 0x78
        case 1 where forged.count > 1: forged.remove(at: position % forged.count)
        default: forged.insert(UInt8(ascii: "x"), at: position % (forged.count + 1))
        }
    } else {
        // Another hex value for one digit: a change of case is not a change.
        let index = forged.count - 64 + position % 64
        let value = hexValue(forged[index])! + 1 + UInt8(mutation % 15)
        forged[index] = Array("0123456789abcdef".utf8)[Int(value % 16)]
    }
    var forgedHeaders = signed
    forgedHeaders[header] = String(decoding: forged, as: UTF8.self)
    if forgedHeaders[header].map({ Array($0.utf8) }) == forged {
        require(
            WebhookAuthenticator.verify(forge, headers: forgedHeaders, body: body, secret: secret) != nil,
            "\(forge) accepts a changed signature \(String(decoding: forged, as: UTF8.self))")
    }
    return 0
}

/// The documented rule, read independently of `WebhookAuthenticator`: the first present, non-empty signature header
/// of the forge must be the HMAC-SHA256 of the body in hex (either case; `sha256=` before it in
/// `X-Hub-Signature-256`), or, for GitLab, `X-Gitlab-Token` must be the secret's exact bytes.
func isAuthentic(_ forge: Forge, _ headers: HTTPFields, _ body: [UInt8], _ secret: String) -> Bool {
    let names = signatureHeaders[forge]!
    guard
        let (name, value) = names.lazy.compactMap({ name in
            headers[HTTPField.Name(name)!].flatMap { $0.isEmpty ? nil : (name, Array($0.utf8)) }
        }).first
    else { return false }
    if forge == .gitlab { return value == Array(secret.utf8) }
    let prefix = Array((name == "X-Hub-Signature-256" ? "sha256=" : "").utf8)
    guard value.starts(with: prefix) else { return false }
    let lowered = value.dropFirst(prefix.count).map { (0x41...0x5A).contains($0) ? $0 | 0x20 : $0 }
    let mac = HMAC<SHA256>.authenticationCode(for: body, using: SymmetricKey(data: Array(secret.utf8)))
    return lowered == Array(hex(mac).utf8)
}

/// `bytes` in hex: lowercase, uppercase or alternating, by `case`.
func hexDigits(_ bytes: [UInt8], case variant: Int) -> String {
    let lower = Array(hex(bytes).utf8)
    let digits = lower.enumerated().map { index, digit in
        let upper = variant % 3 == 1 || (variant % 3 == 2 && index % 2 == 0)
        return upper && digit >= UInt8(ascii: "a") ? digit & ~0x20 : digit
    }
    return String(decoding: digits, as: UTF8.self)
}

func hexValue(_ digit: UInt8) -> UInt8? {
    switch digit {
    case UInt8(ascii: "0")...UInt8(ascii: "9"): digit - UInt8(ascii: "0")
    case UInt8(ascii: "a")...UInt8(ascii: "f"): digit - UInt8(ascii: "a") + 10
    case UInt8(ascii: "A")...UInt8(ascii: "F"): digit - UInt8(ascii: "A") + 10
    default: nil
    }
}
