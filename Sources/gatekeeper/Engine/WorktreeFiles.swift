import Foundation
import Workflow

#if canImport(Glibc)
import Glibc
#endif

/// A task's worktree as the gates see it: files are looked at and read, never run. Paths that resolve outside the
/// worktree (through `..` or a symlink) do not exist as far as the gates are concerned.
struct WorktreeFiles: WorktreeArtifacts {
    let root: String
    /// Files larger than this are not read (a verdict is a few lines of front matter).
    var maxReadBytes = 1 << 20
    /// How many entries a glob walks at most.
    var maxEntries = 20_000

    func exists(glob: String) -> Bool {
        if !glob.contains(where: { "*?[".contains($0) }) { return resolve(glob) != nil }
        var found = false
        var visited = 0
        walk(relative: "", visited: &visited) { path in
            if fnmatch(glob, path, FNM_PATHNAME | FNM_PERIOD) == 0 || fnmatch(glob, path, 0) == 0 && !glob.contains("/")
            {
                found = true
            }
            return found
        }
        return found
    }

    func read(_ path: String) -> String? {
        guard let resolved = resolve(path),
            let attributes = try? FileManager.default.attributesOfItem(atPath: resolved),
            attributes[.type] as? FileAttributeType == .typeRegular,
            let size = attributes[.size] as? Int, size <= maxReadBytes,
            let data = FileManager.default.contents(atPath: resolved)
        else { return nil }
        return String(data: data, encoding: .utf8)
    }

    /// The real path of `relative` if it exists and stays inside the worktree.
    private func resolve(_ relative: String) -> String? {
        guard !relative.hasPrefix("/"), let realRoot = realPath(root),
            let real = realPath(root + "/" + relative)
        else { return nil }
        return real == realRoot || real.hasPrefix(realRoot + "/") ? real : nil
    }

    private func realPath(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    /// Visits worktree-relative paths below `relative`, skipping `.git`; stops when `visit` returns true.
    @discardableResult
    private func walk(relative: String, visited: inout Int, _ visit: (String) -> Bool) -> Bool {
        let directory = relative.isEmpty ? root : root + "/" + relative
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return false }
        for name in names.sorted() where name != ".git" {
            visited += 1
            if visited > maxEntries { return true }
            let path = relative.isEmpty ? name : relative + "/" + name
            if visit(path) { return true }
            var isDirectory: ObjCBool = false
            var info = stat()
            if lstat(root + "/" + path, &info) == 0, (info.st_mode & S_IFMT) == S_IFDIR,
                FileManager.default.fileExists(atPath: root + "/" + path, isDirectory: &isDirectory)
            {
                if walk(relative: path, visited: &visited, visit) { return true }
            }
        }
        return false
    }
}
