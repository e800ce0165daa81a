/// A piece of HTML markup. Literals are markup; every interpolated `String` is escaped, so untrusted text (titles,
/// bodies, authors, reasons, log lines) can only ever become text. Only `HTML` values are inserted as they are.
struct HTML: Sendable, Equatable, ExpressibleByStringInterpolation, CustomStringConvertible {
    private(set) var markup: String

    init(stringLiteral markup: String) {
        self.markup = markup
    }

    init(stringInterpolation: StringInterpolation) {
        markup = stringInterpolation.markup
    }

    /// Markup that is trusted as it is.
    private init(trusted markup: String) {
        self.markup = markup
    }

    var description: String { markup }

    static let empty: HTML = ""

    /// The pieces one after another.
    static func join(_ pieces: some Sequence<HTML>, separator: HTML = "") -> HTML {
        HTML(trusted: pieces.map(\.markup).joined(separator: separator.markup))
    }

    static func + (left: HTML, right: HTML) -> HTML {
        HTML(trusted: left.markup + right.markup)
    }

    static func += (left: inout HTML, right: HTML) {
        left.markup += right.markup
    }

    struct StringInterpolation: StringInterpolationProtocol {
        fileprivate var markup = ""

        init(literalCapacity: Int, interpolationCount: Int) {
            markup.reserveCapacity(literalCapacity + 16 * interpolationCount)
        }

        mutating func appendLiteral(_ literal: String) {
            markup += literal
        }

        /// Text: escaped.
        mutating func appendInterpolation(_ text: String) {
            markup += HTML.escape(text)
        }

        /// Text: escaped.
        mutating func appendInterpolation(_ text: Substring) {
            markup += HTML.escape(String(text))
        }

        mutating func appendInterpolation<Number: BinaryInteger>(_ number: Number) {
            markup += String(number)
        }

        mutating func appendInterpolation(_ html: HTML) {
            markup += html.markup
        }

        mutating func appendInterpolation(_ pieces: [HTML]) {
            markup += pieces.map(\.markup).joined()
        }
    }

    /// `text` with `&`, `<`, `>`, `"` and `'` as character references, safe in element content and in quoted
    /// attribute values. NUL and the other C0 controls but tab, newline and carriage return become U+FFFD: HTML has
    /// no use for them, and a NUL in a page is a parse error.
    static func escape(_ text: String) -> String {
        var escaped = ""
        escaped.unicodeScalars.reserveCapacity(text.unicodeScalars.count)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "&": escaped += "&amp;"
            case "<": escaped += "&lt;"
            case ">": escaped += "&gt;"
            case "\"": escaped += "&quot;"
            case "'": escaped += "&#39;"
            case "\t", "\n", "\r": escaped.unicodeScalars.append(scalar)
            case let control where control.value < 0x20 || control.value == 0x7F: escaped += "\u{FFFD}"
            default: escaped.unicodeScalars.append(scalar)
            }
        }
        return escaped
    }
}
