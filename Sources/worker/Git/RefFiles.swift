import Foundation

/// Reads refs of a repository that uses git's `files` backend straight from its files, as `git for-each-ref` would
/// report them, without starting a process (each git process costs the worker several milliseconds of CPU, and the
/// worker resolves refs for every task).
///
/// The format is git's documented one (gitrepository-layout(5)): a loose ref is a file under the repository named
/// like the ref, holding a hex object name and a newline; refs not stored loose are lines `<object> <name>` of
/// `packed-refs`, where lines starting with `#` or `^` are a header and peeled tags. A loose file wins over a packed
/// line. Git writes a ref by renaming a finished lock file over it and packs refs by writing `packed-refs` before
/// deleting the loose files, so reading the loose file first and `packed-refs` second never misses a ref that exists
/// throughout the read.
///
/// Anything this reader does not handle answers nil, and the caller asks git: a `reftable` repository, a symbolic
/// or malformed loose ref, an unreadable file, a name that is not a plain `refs/...` path.
enum RefFiles {
    /// The object each of `refs` (full names) points at in `repository`; absent refs are absent from the result.
    /// Nil if any of them cannot be read this way.
    static func resolve(_ refs: [String], in repository: String) -> [String: String]? {
        guard refs.allSatisfy(isPlainName), !exists(repository + "/reftable") else { return nil }
        var found: [String: String] = [:]
        var packed: [String: String]?
        for ref in refs {
            switch loose(repository + "/" + ref) {
            case .object(let object):
                found[ref] = object
            case .unreadable:
                return nil
            case .absent:
                if packed == nil {
                    guard let table = packedRefs(repository + "/packed-refs") else { return nil }
                    packed = table
                }
                if let object = packed?[ref] { found[ref] = object }
            }
        }
        return found
    }

    /// Creates the branch `ref` at `object` as git does: under an exclusive `<ref>.lock`, checked absent (loose and
    /// packed) while the lock is held, then the lock renamed into place. False, with nothing changed, if it exists
    /// or anything fails.
    static func create(_ ref: String, at object: String, in repository: String) -> Bool {
        guard isPlainName(ref), isObjectName(object), !exists(repository + "/reftable") else { return false }
        let path = repository + "/" + ref
        let directory = String(path[..<(path.lastIndex(of: "/") ?? path.endIndex)])
        guard (try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)) != nil
        else { return false }
        return replace(path, with: object + "\n") {
            guard case .absent = loose(path), let packed = packedRefs(repository + "/packed-refs") else { return false }
            return packed[ref] == nil
        }
    }

    /// Writes `text` to `path` the way git updates its files: into an exclusive `<path>.lock` (a git process holding
    /// it makes this fail rather than wait or overwrite), then renamed over `path` once `precondition` holds.
    /// A lock older than `staleLockAge` is taken over (see `removeIfStale`).
    static func replace(_ path: String, with text: String, if precondition: () -> Bool = { true }) -> Bool {
        let lock = path + ".lock"
        var handle = open(lock, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o666)
        if handle < 0, errno == EEXIST, removeIfStale(lock) {
            handle = open(lock, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o666)
        }
        guard handle >= 0 else { return false }
        let bytes = Array(text.utf8)
        let written = bytes.withUnsafeBytes { write(handle, $0.baseAddress, $0.count) }
        guard close(handle) == 0, written == bytes.count, precondition(), rename(lock, path) == 0 else {
            unlink(lock)
            return false
        }
        return true
    }

    /// A lock file older than this was left by a process that died holding it (a worker, or a git process killed at
    /// its timeout or with the worker): git holds a lock for the milliseconds of one update, and never removes
    /// another process's lock, so a lock left behind blocks its file for good.
    static let staleLockAge: Double = 60

    /// Removes `lock` if it is a regular file last modified more than `staleLockAge` seconds before `now`. True if it
    /// did.
    @discardableResult
    static func removeIfStale(_ lock: String, now: Double = Date().timeIntervalSince1970) -> Bool {
        var info = stat()
        guard lstat(lock, &info) == 0, info.st_mode & S_IFMT == S_IFREG,
            now - Double(info.st_mtim.tv_sec) > staleLockAge
        else { return false }
        return unlink(lock) == 0
    }

    private enum Loose {
        case object(String)
        case absent
        case unreadable
    }

    private static func loose(_ path: String) -> Loose {
        let handle = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
        guard handle >= 0 else {
            // Not a file (a directory of longer refs has that name), or no such file: not stored loose.
            return errno == ENOENT || errno == ENOTDIR || errno == EISDIR ? .absent : .unreadable
        }
        defer { close(handle) }
        var buffer = [UInt8](repeating: 0, count: 128)
        let count = buffer.withUnsafeMutableBytes { read(handle, $0.baseAddress, $0.count) }
        if count < 0 { return errno == EISDIR ? .absent : .unreadable }
        var text = String(decoding: buffer[..<count], as: UTF8.self)
        while text.hasSuffix("\n") { text.removeLast() }
        return isObjectName(text) ? .object(text) : .unreadable
    }

    /// `packed-refs` as a table; an empty one if there is none; nil if it cannot be read or parsed.
    private static func packedRefs(_ path: String) -> [String: String]? {
        guard let data = FileManager.default.contents(atPath: path) else { return exists(path) ? nil : [:] }
        var table: [String: String] = [:]
        for line in String(decoding: data, as: UTF8.self).split(separator: "\n") {
            if line.hasPrefix("#") || line.hasPrefix("^") { continue }
            guard let space = line.firstIndex(of: " ") else { return nil }
            let object = String(line[..<space])
            guard isObjectName(object) else { return nil }
            table[String(line[line.index(after: space)...])] = object
        }
        return table
    }

    /// A full hex object name: SHA-1 (40) or SHA-256 (64), lower case as git writes them.
    static func isObjectName(_ text: String) -> Bool {
        (text.utf8.count == 40 || text.utf8.count == 64)
            && text.utf8.allSatisfy { (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }
    }

    /// `refs/` followed by components that cannot leave the directory or name a lock file.
    private static func isPlainName(_ ref: String) -> Bool {
        guard ref.hasPrefix("refs/"), !ref.hasSuffix("/"), !ref.hasSuffix(".lock") else { return false }
        return ref.split(separator: "/", omittingEmptySubsequences: false).allSatisfy {
            !$0.isEmpty && $0 != "." && $0 != ".."
        }
    }

    private static func exists(_ path: String) -> Bool {
        var info = stat()
        return lstat(path, &info) == 0
    }
}
