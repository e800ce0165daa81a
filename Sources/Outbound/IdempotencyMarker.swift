/// The hidden per-key marker Bosun appends to every comment it posts, so that a retry can see whether an earlier
/// attempt's comment already landed. Separate from the Forge module's `<!-- bosun -->` marker, which only says
/// "Bosun wrote this".
public enum IdempotencyMarker {
    /// The marker for a key: `<!-- bosun:key=KEY -->`.
    public static func comment(key: String) -> String { "<!-- bosun:key=\(key) -->" }

    /// The body as posted: the text, a blank line, then the marker.
    public static func appended(to body: String, key: String) -> String { "\(body)\n\n\(comment(key: key))" }

    /// Whether a key is usable inside an HTML comment and a query string: 1 to 200 characters from
    /// `A-Z a-z 0-9 . _ : / + = -`, and no `--` (which would end the comment early).
    public static func isValidKey(_ key: String) -> Bool {
        guard (1...200).contains(key.utf8.count), !key.contains("--") else { return false }
        return key.utf8.allSatisfy { byte in
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"):
                return true
            default:
                return ".:_/+=-".utf8.contains(byte)
            }
        }
    }
}
