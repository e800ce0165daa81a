/// Checks on names that go into refs and paths.
enum NameRules {
    /// A branch name `git check-ref-format --branch` would accept: no control characters, spaces, `~ ^ : ? * [ \`,
    /// no `..`, `@{`, `//`, no leading `-` or `/`, no trailing `/`, `.` or `.lock`, no component starting with `.`.
    static func isValidBranch(_ name: String) -> Bool {
        guard !name.isEmpty, name.utf8.count <= 255, name != "@" else { return false }
        if name.hasPrefix("-") || name.hasPrefix("/") || name.hasSuffix("/") || name.hasSuffix(".")
            || name.hasSuffix(".lock") || name.contains("..") || name.contains("@{") || name.contains("//")
        {
            return false
        }
        for scalar in name.unicodeScalars {
            if scalar.value < 0x20 || scalar.value == 0x7F || " ~^:?*[\\".unicodeScalars.contains(scalar) {
                return false
            }
        }
        return !name.split(separator: "/").contains { $0.hasPrefix(".") || $0.hasSuffix(".lock") }
    }

    /// An issue or pull-request number: 1 to 18 decimal digits.
    static func isNumber(_ text: String) -> Bool {
        (1...18).contains(text.utf8.count)
            && text.utf8.allSatisfy { $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }
    }

    /// Six hex digits, after an optional leading `#` is dropped; nil otherwise.
    static func hexColor(_ text: String) -> String? {
        let digits = text.hasPrefix("#") ? String(text.dropFirst()) : text
        guard digits.utf8.count == 6, digits.allSatisfy(\.isHexDigit) else { return nil }
        return digits.lowercased()
    }
}
