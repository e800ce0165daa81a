#if canImport(Glibc)
import Glibc
#endif

/// git's rules for a branch name (`git check-ref-format --branch`, from its manual), written down independently of
/// `TaskBranch` so that the fuzzer has a judge that is not the code under test.
enum RefFormat {
    /// True if git accepts `name` as a branch name.
    static func isValidBranch(_ name: String) -> Bool {
        // --branch: not an option, not HEAD; then the rules for the ref refs/heads/<name>.
        if name.hasPrefix("-") || name == "HEAD" { return false }
        let ref = Array(("refs/heads/" + name).utf8)
        // 6. No leading or trailing slash, no empty component; 7. no trailing dot.
        if ref.last == UInt8(ascii: "/") || ref.last == UInt8(ascii: ".") { return false }
        for component in ref.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false) {
            // 1. No component that is empty, starts with a dot, or ends with .lock.
            if component.isEmpty || component.first == UInt8(ascii: ".") || component.ends(with: ".lock") {
                return false
            }
        }
        for (index, byte) in ref.enumerated() {
            // 4. No control characters, space, ~ ^ :; 5. no ? * [; 10. no backslash.
            if byte < 0x20 || byte == 0x7F || Array(" ~^:?*[\\".utf8).contains(byte) { return false }
            let next = index + 1 < ref.count ? ref[index + 1] : 0
            // 3. No ..; 8. no @{.
            if byte == UInt8(ascii: "."), next == UInt8(ascii: ".") { return false }
            if byte == UInt8(ascii: "@"), next == UInt8(ascii: "{") { return false }
        }
        return true
    }

    /// Names on both sides of every rule, to hold `isValidBranch` against git itself before fuzzing.
    static let calibration: [String] = [
        "main", "bosun/1-fix", "a@b", "@", "x/HEAD", "foo.lck", "é", "a-b_c", "1", "a/b/c", "HEAD", "-x", "a..b",
        "a.lock", "a.lock/b", ".a", "a/.b", "a b", "a~", "a^", "a:b", "a?", "a*", "a[b", "a\\b", "a/", "/a", "a//b",
        "a.", "a/b.", ".", "..", "@{x", "a@{b", "a\u{7F}", "a\u{1}b", "a\tb", "", "/", "a/..", "lock.lock", "a/-b",
    ]

    /// Each calibration name on which git and `isValidBranch` disagree; nil if git cannot be run.
    static func disagreements() -> [String]? {
        var found: [String] = []
        for name in calibration {
            guard let accepted = gitAccepts(name) else { return nil }
            if accepted != isValidBranch(name) { found.append("\(String(reflecting: name)): git says \(accepted)") }
        }
        return found
    }

    /// Runs `git check-ref-format --branch NAME` (by argv, output discarded); nil if it cannot be started.
    private static func gitAccepts(_ name: String) -> Bool? {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        let words: [String] = ["git", "check-ref-format", "--branch", name]
        let arguments = words.map { strdup($0) }
        defer { arguments.forEach { free($0) } }
        var pid: pid_t = 0
        let spawned = (arguments + [nil]).withUnsafeBufferPointer { argv in
            posix_spawnp(&pid, "git", &actions, nil, UnsafeMutablePointer(mutating: argv.baseAddress!), environ)
        }
        guard spawned == 0 else { return nil }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        return status == 0
    }
}

extension ArraySlice<UInt8> {
    func ends(with suffix: String) -> Bool {
        let tail = Array(suffix.utf8)
        return count >= tail.count && Array(self.suffix(tail.count)) == tail
    }
}
