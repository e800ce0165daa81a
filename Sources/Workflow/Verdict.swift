import Foundation
import Yams

/// A reviewer's verdict, read from the YAML front matter of the review file. Only the `verdict` field counts, and
/// only its two exact values; prose is never searched for words.
public enum Verdict: Sendable, Equatable {
    case approved(notes: String)
    case changesRequested(notes: String)
    /// The file has no front matter, no verdict, or a value that is neither.
    case invalid(reason: String)

    /// Reads the front matter at the very start of `text` (`---` line, YAML, `---` line).
    public static func parse(_ text: String) -> Verdict {
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map {
            $0.hasSuffix("\r") ? $0.dropLast() : $0
        }
        guard lines.first == "---" else {
            return .invalid(reason: "the review file does not start with YAML front matter (a --- line)")
        }
        lines.removeFirst()
        guard let end = lines.firstIndex(where: { $0 == "---" || $0 == "..." }) else {
            return .invalid(reason: "the review file's front matter is not closed by a --- line")
        }
        let yaml = lines[..<end].joined(separator: "\n")
        let notes = lines[(end + 1)...].joined(separator: "\n").trimmingCharacters(in: .whitespacesAndNewlines)
        let node: Node?
        do {
            node = try Yams.compose(yaml: yaml)
        } catch {
            return .invalid(reason: "the review file's front matter is not valid YAML")
        }
        guard let mapping = node?.mapping else {
            return .invalid(reason: "the review file's front matter is not a mapping")
        }
        guard let value = mapping["verdict"] else {
            return .invalid(reason: "the review file's front matter has no verdict field")
        }
        guard let scalar = value.scalar?.string else {
            return .invalid(reason: "the review file's verdict is not a single value")
        }
        switch scalar {
        case "APPROVED": return .approved(notes: notes)
        case "REQUEST_CHANGES": return .changesRequested(notes: notes)
        default:
            return .invalid(reason: "verdict must be APPROVED or REQUEST_CHANGES, not \(scalar.prefix(40))")
        }
    }
}
