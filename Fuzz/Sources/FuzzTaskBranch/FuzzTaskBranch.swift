import Foundation
import FuzzSupport
import Workflow

// Branch and worktree names from hostile issue numbers and titles.
//
// Input: the issue number up to the first "\n" (or "7" when there is none), the title after it, both read as UTF-8
// with invalid sequences replaced (a title arrives as a JSON string, so it is always valid Unicode).
//
// Invariants:
// 1. `TaskBranch.name` is a branch git accepts (`RefFormat`, an independent reading of git's rules, checked against
//    `git check-ref-format --branch` itself when the fuzzer starts), starting with `bosun/`.
// 2. The worker reads it back: at most 32 + 1 + 40 characters after `bosun/`, lowercase ASCII letters and digits
//    in runs joined by single dashes (`BranchName(ref:)`'s rule in Sources/worker/Git/BranchName.swift).
// 3. Its worktree directory is the same whether derived from the title or from the branch, is one path component,
//    and the worktree path stays under the project's worktree root.

@_cdecl("LLVMFuzzerInitialize")
public func initialize(
    _ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>
)
    -> CInt
{
    guard let disagreements = RefFormat.disagreements() else {
        fatalError("cannot run git check-ref-format, which calibrates the branch-name judge")
    }
    require(disagreements.isEmpty, "the branch-name judge disagrees with git: \(disagreements)")
    return 0
}

let root = "/srv/bosun/state/worktrees/demo"

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTaskBranch(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    var input = FuzzInput(data, size)
    let bytes = input.rest()
    let split = bytes.firstIndex(of: UInt8(ascii: "\n"))
    let issue = split.map { String(decoding: bytes[..<$0], as: UTF8.self) } ?? "7"
    let title = String(decoding: split.map { bytes[($0 + 1)...] } ?? bytes[...], as: UTF8.self)

    let name = TaskBranch.name(issue: issue, title: title)
    require(name.hasPrefix("bosun/"), "\(String(reflecting: name)) is not under bosun/")
    require(RefFormat.isValidBranch(name), "git would refuse \(String(reflecting: name))")

    let rest = Array(name.utf8.dropFirst("bosun/".utf8.count))
    let isWord: (UInt8) -> Bool = { (0x61...0x7A).contains($0) || (0x30...0x39).contains($0) }
    let dash = UInt8(ascii: "-")
    require(
        !rest.isEmpty && rest.count <= 73 && rest.first != dash && rest.last != dash
            && rest.allSatisfy { isWord($0) || $0 == dash }
            && !zip(rest, rest.dropFirst()).contains { $0 == dash && $1 == dash },
        "the worker cannot read back \(String(reflecting: name))")

    let directory = TaskBranch.directory(issue: issue, title: title)
    require(TaskBranch.directory(ofBranch: name) == directory, "\(name) and its directory \(directory) disagree")
    require(!directory.contains("/") && directory != "." && directory != "..", "directory \(directory)")
    let path = URL(fileURLWithPath: root + "/" + directory).standardizedFileURL.path
    require(path.hasPrefix(root + "/") && !path.dropFirst(root.count + 1).contains("/"), "worktree at \(path)")
    return 0
}
