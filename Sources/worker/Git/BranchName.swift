import Foundation

/// A task's branch, `bosun/<number>-<slug>`, and the name of its worktree directory, `<number>-<slug>`.
///
/// Both come from tracker text, which is untrusted, so they are built from lowercase ASCII letters and digits
/// joined by single `-` and nothing else: no `/`, `.`, `@`, `{`, control characters or unicode can appear, so the
/// branch always passes `git check-ref-format --branch` and the directory name is one path component that is
/// neither `.` nor `..`. Letters with accents lose them (`é` → `e`), compatibility forms fold (`ﬁ`, fullwidth
/// letters), a few letters are spelled out (`ß` → `ss`); every other character separates words.
struct BranchName: Hashable, Sendable, CustomStringConvertible {
    /// The prefix of every task branch.
    static let prefix = "bosun/"
    /// The longest slug taken from a title.
    static let maximumSlugLength = 40
    /// The longest part taken from an issue number.
    static let maximumNumberLength = 32

    /// `<number>-<slug>`, or `<number>` when the title gives no slug: the worktree's directory name.
    let directoryName: String

    /// The branch for issue `number` titled `title`. Throws if the number has no ASCII letter or digit.
    init(issue number: String, title: String) throws(WorktreeError) {
        let sanitizedNumber = Self.slug(number, maximumLength: Self.maximumNumberLength)
        guard !sanitizedNumber.isEmpty else {
            throw WorktreeError(
                .invalidIssueNumber,
                "issue number \(String(reflecting: String(number.prefix(64)))) has no letter or digit")
        }
        let slug = Self.slug(title, maximumLength: Self.maximumSlugLength)
        directoryName = slug.isEmpty ? sanitizedNumber : "\(sanitizedNumber)-\(slug)"
    }

    /// Reads back a branch this type made (from the database, say); nil for anything else.
    init?(ref: String) {
        guard ref.hasPrefix(Self.prefix) else { return nil }
        let name = String(ref.dropFirst(Self.prefix.count))
        guard !name.isEmpty, name.count <= Self.maximumNumberLength + 1 + Self.maximumSlugLength,
            name.first != "-", name.last != "-", !name.contains("--"),
            name.unicodeScalars.allSatisfy({ Self.isLowercaseAlphanumeric($0) || $0 == "-" })
        else { return nil }
        directoryName = name
    }

    /// The branch name, `bosun/<number>-<slug>`.
    var name: String { Self.prefix + directoryName }

    /// The full ref, `refs/heads/bosun/<number>-<slug>`.
    var localRef: String { "refs/heads/" + name }

    /// The ref that holds origin's copy in the project repository, `refs/remotes/origin/bosun/<…>`.
    var remoteRef: String { "refs/remotes/origin/" + name }

    var description: String { name }

    /// Lowercase ASCII words of `text` joined by single `-`, at most `maximumLength` characters, cut at a word
    /// boundary when one is near.
    static func slug(_ text: String, maximumLength: Int) -> String {
        var result: [UInt8] = []
        var separatorPending = false
        // NFKD splits accents off their letters and folds compatibility forms; the accents are then dropped.
        scanning: for scalar in text.decomposedStringWithCompatibilityMapping.unicodeScalars {
            let letters: String
            if isLowercaseAlphanumeric(scalar) {
                letters = String(scalar)
            } else if ("A"..."Z").contains(scalar) {
                letters = String(scalar).lowercased()
            } else if let spelled = spelledOut[scalar] {
                letters = spelled
            } else if isSilent(scalar) {
                continue
            } else {
                separatorPending = true
                continue
            }
            if separatorPending && !result.isEmpty { result.append(UInt8(ascii: "-")) }
            separatorPending = false
            result.append(contentsOf: letters.utf8)
            if result.count > maximumLength { break scanning }
        }
        guard result.count > maximumLength else { return String(decoding: result, as: UTF8.self) }
        var cut = Array(result.prefix(maximumLength))
        // A cut inside a word goes back to the previous word break if that keeps at least half.
        if result[maximumLength] != UInt8(ascii: "-"), let lastBreak = cut.lastIndex(of: UInt8(ascii: "-")),
            lastBreak >= maximumLength / 2
        {
            cut = Array(cut[..<lastBreak])
        }
        while cut.last == UInt8(ascii: "-") { cut.removeLast() }
        return String(decoding: cut, as: UTF8.self)
    }

    private static func isLowercaseAlphanumeric(_ scalar: Unicode.Scalar) -> Bool {
        ("a"..."z").contains(scalar) || ("0"..."9").contains(scalar)
    }

    /// Apostrophes (`don't` → `dont`) and combining marks (the accents NFKD split off) vanish without a break.
    private static func isSilent(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar {
        case "'", "\u{2019}", "\u{02BC}": return true
        default:
            switch scalar.properties.generalCategory {
            case .nonspacingMark, .spacingMark, .enclosingMark: return true
            default: return false
            }
        }
    }

    /// Latin letters that NFKD does not decompose.
    private static let spelledOut: [Unicode.Scalar: String] = [
        "ß": "ss", "ẞ": "ss", "æ": "ae", "Æ": "ae", "œ": "oe", "Œ": "oe", "ø": "o", "Ø": "o", "ł": "l", "Ł": "l",
        "đ": "d", "Đ": "d", "ð": "d", "Ð": "d", "þ": "th", "Þ": "th", "ı": "i", "ħ": "h", "Ħ": "h",
    ]
}
