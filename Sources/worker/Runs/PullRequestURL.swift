/// Finds the pull request an agent opened, strictly: only `https://HOST/OWNER/REPO/pull/N` (GitHub),
/// `https://HOST/OWNER/REPO/pulls/N` (Gitea, Forgejo) and `https://HOST/GROUP[/SUBGROUP...]/REPO/-/merge_requests/N`
/// (GitLab), with HOST exactly the configured forge host. Anything else, however close, is not a match: another host,
/// `http://`, userinfo (`https://good.host@evil.host/...`), a port not configured, a longer path, a query or
/// fragment, percent-escapes, or junk glued to the number.
public struct PullRequestURL: Sendable {
    /// The forge host as configured, e.g. `github.com` or `git.example.org:3000`, compared without case.
    public var host: String

    public init(host: String) {
        self.host = host
    }

    /// The last matching URL in `text`, or nil.
    public func lastMatch(in text: String) -> String? {
        let bytes = Array(text.utf8)
        let prefix = Array("https://\(host.lowercased())/".utf8)
        guard !host.isEmpty, bytes.count > prefix.count else { return nil }
        var found: String?
        var index = 0
        while index + prefix.count <= bytes.count {
            if matchesPrefix(bytes, at: index, prefix), startsCleanly(bytes, at: index),
                let end = pathEnd(bytes, from: index + prefix.count)
            {
                found = String(decoding: bytes[index..<end], as: UTF8.self)
                index = end
            } else {
                index += 1
            }
        }
        return found
    }

    private func matchesPrefix(_ bytes: [UInt8], at index: Int, _ prefix: [UInt8]) -> Bool {
        for offset in 0..<prefix.count {
            var byte = bytes[index + offset]
            if byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") { byte += 32 }
            if byte != prefix[offset] { return false }
        }
        return true
    }

    /// The URL must not continue something before it (`xhttps://`, `=https://` in a query, `/https://` in a path).
    private func startsCleanly(_ bytes: [UInt8], at index: Int) -> Bool {
        guard index > 0 else { return true }
        let before = bytes[index - 1]
        return !(isSegmentByte(before) || "/:@?#&=+%".utf8.contains(before))
    }

    /// Parses `OWNER/REPO/pull/N` and its siblings after the host; returns the index just past N, or nil.
    private func pathEnd(_ bytes: [UInt8], from start: Int) -> Int? {
        var segments: [ArraySlice<UInt8>] = []
        var index = start
        var segmentStart = start
        while index < bytes.count, isSegmentByte(bytes[index]) || bytes[index] == UInt8(ascii: "/") {
            if bytes[index] == UInt8(ascii: "/") {
                segments.append(bytes[segmentStart..<index])
                segmentStart = index + 1
            }
            index += 1
        }
        // A final `.` that ends a sentence is not part of the URL.
        if index > segmentStart, bytes[index - 1] == UInt8(ascii: "."), index == bytes.count || isSpace(bytes[index]) {
            index -= 1
        }
        segments.append(bytes[segmentStart..<index])
        guard isCleanEnd(bytes, at: index), let number = segments.last, !number.isEmpty,
            number.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }), number.first != UInt8(ascii: "0")
        else { return nil }
        let names = segments.dropLast()
        guard let kind = names.last.map({ String(decoding: $0, as: UTF8.self) }) else { return nil }
        let repository = names.dropLast()
        switch kind {
        case "pull", "pulls":
            guard repository.count == 2 else { return nil }
        case "merge_requests":
            guard repository.count >= 3, repository.last.map({ Array($0) }) == Array("-".utf8) else { return nil }
        default:
            return nil
        }
        let path = kind == "merge_requests" ? repository.dropLast() : repository
        guard path.allSatisfy(isName) else { return nil }
        return index
    }

    /// An owner, group or repository name: letters, digits, `-`, `_`, `.`, not `.`/`..` and not starting with `.`.
    private func isName(_ segment: ArraySlice<UInt8>) -> Bool {
        !segment.isEmpty && segment.first != UInt8(ascii: ".") && segment.allSatisfy(isSegmentByte)
            && segment != [UInt8(ascii: "-")]
    }

    private func isSegmentByte(_ byte: UInt8) -> Bool {
        (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z"))
            || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z"))
            || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")) || byte == UInt8(ascii: "-")
            || byte == UInt8(ascii: "_") || byte == UInt8(ascii: ".")
    }

    /// What may follow the number: the end, white space, a closing quote or bracket, `,` `;` `\` (a JSON escape such
    /// as `\n`), or a `.` that ends a sentence. Not `/`, `?`, `#`, `@`, `%`, `:`, or more name characters.
    private func isCleanEnd(_ bytes: [UInt8], at index: Int) -> Bool {
        guard index < bytes.count else { return true }
        let next = bytes[index]
        if next == UInt8(ascii: ".") {
            return index + 1 == bytes.count || isSpace(bytes[index + 1])
        }
        return isSpace(next) || "\"'`)]}>,;<\\".utf8.contains(next)
    }

    private func isSpace(_ byte: UInt8) -> Bool {
        byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\n") || byte == UInt8(ascii: "\t")
            || byte == UInt8(ascii: "\r")
    }
}
