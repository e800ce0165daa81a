import Foundation

/// Base64 with the URL- and cookie-safe alphabet (`-`, `_`) and no padding (RFC 4648 §5).
enum Base64URL {
    static func encode(_ bytes: [UInt8]) -> String {
        Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
    }

    /// Nil for anything but the URL-safe alphabet without padding.
    static func decode(_ text: Substring) -> [UInt8]? {
        guard text.count % 4 != 1, text.unicodeScalars.allSatisfy(\.isWordCharacter) else { return nil }
        var standard = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        standard += String(repeating: "=", count: (4 - standard.count % 4) % 4)
        return Data(base64Encoded: standard).map(Array.init)
    }
}

extension Unicode.Scalar {
    /// An ASCII letter or digit, `-` or `_`: the URL-safe base64 alphabet, and safe in a CSS class name.
    var isWordCharacter: Bool {
        ("a"..."z").contains(self) || ("A"..."Z").contains(self) || ("0"..."9").contains(self) || self == "-"
            || self == "_"
    }
}
