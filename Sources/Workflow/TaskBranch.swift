/// The branch and worktree directory of a task, derived from the issue number and a sanitized slug of its title:
/// always valid for `git check-ref-format --branch`, and the directory is one path component (it stays under the
/// worktree root).
public enum TaskBranch {
    /// `bosun/<number>-<slug>`.
    public static func name(issue: String, title: String) -> String {
        "bosun/" + directory(issue: issue, title: title)
    }

    /// `<number>-<slug>`: lowercase ASCII letters and digits joined by single dashes.
    public static func directory(issue: String, title: String) -> String {
        let number = slug(issue, limit: 20)
        let words = slug(title, limit: 40)
        let head = number.isEmpty ? "task" : number
        return words.isEmpty ? head : "\(head)-\(words)"
    }

    /// The worktree directory of a branch made by `name(issue:title:)`.
    public static func directory(ofBranch branch: String) -> String {
        String(branch.split(separator: "/").last ?? Substring(branch))
    }

    private static func slug(_ text: String, limit: Int) -> String {
        var result = ""
        var pendingDash = false
        for scalar in text.unicodeScalars {
            let lowered = scalar.properties.lowercaseMapping
            guard lowered.unicodeScalars.count == 1, let first = lowered.unicodeScalars.first, first.isASCII,
                first.properties.isAlphabetic || ("0"..."9").contains(first)
            else {
                pendingDash = !result.isEmpty
                continue
            }
            if result.count >= limit { break }
            if pendingDash {
                if result.count + 1 >= limit { break }
                result.append("-")
                pendingDash = false
            }
            result.unicodeScalars.append(first)
        }
        while result.hasSuffix("-") { result.removeLast() }
        return result
    }
}
