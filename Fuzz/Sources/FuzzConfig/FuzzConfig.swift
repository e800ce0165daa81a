import Config
import FuzzSupport
import Workflow

// `bosun.yaml` parsing and statechart validation on arbitrary text.
//
// Input: the file's bytes (text that is not UTF-8 is refused before parsing, as `ConfigLoader.loadSource` does).
//
// Invariants:
// 1. `ConfigLoader.parse` returns a config or throws a `ConfigError` with at least one issue, each with a message
//    (never crashes, never hangs past libFuzzer's timeout).
// 2. It is a function: the same text twice gives the same config or the same issues.
// 3. A config it returns carries only workflows `WorkflowValidator` finds nothing wrong with: the named ones and
//    every project's resolved one, against the roles the config defines.

/// The file the text pretends to be: relative paths resolve under a directory that does not exist, so a
/// `secret_file` is looked up but never found there.
let file = "/nonexistent/bosun-fuzz/bosun.yaml"
/// The environment `*_env` secrets resolve against.
let environment = ["BOSUN_FUZZ_SECRET": "fuzz-secret", "GITHUB_TOKEN": "ghp_fuzz", "HOME": "/nonexistent/home"]

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzConfig(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    var input = FuzzInput(data, size)
    guard let text = String(validating: input.rest(), as: UTF8.self) else { return 0 }
    // An absolute secret_file is read as it is: keep the fuzzer away from devices and kernel files that never end.
    for device in ["/dev", "/proc", "/sys", "dev/", "proc/", "sys/"] where text.contains(device) { return 0 }

    let first = parse(text)
    let second = parse(text)
    switch (first, second) {
    case (.success(let config), .success(let again)):
        require(config == again, "two parses of the same text differ")
        let roles = Set(config.roles.keys)
        for (name, workflow) in config.workflows {
            let issues = WorkflowValidator.validate(workflow, roles: roles)
            require(issues.isEmpty, "workflow \(name) was accepted with issues: \(issues)")
        }
        for project in config.projects {
            let issues = WorkflowValidator.validate(project.resolvedWorkflow, roles: roles)
            require(issues.isEmpty, "project \(project.name)'s workflow was accepted with issues: \(issues)")
        }
    case (.failure(let error), .failure(let again)):
        require(!error.issues.isEmpty, "a refusal without an issue")
        require(error.issues.allSatisfy { !$0.message.isEmpty }, "an issue without a message: \(error.issues)")
        require(error.file == file, "the error names \(error.file)")
        require(
            error.issues == again.issues,
            "two parses of the same text report different issues: \(error.issues) / \(again.issues)")
    default:
        require(false, "two parses of the same text disagree: \(first) / \(second)")
    }
    return 0
}

func parse(_ text: String) -> Result<BosunConfig, ConfigError> {
    Result { () throws(ConfigError) in try ConfigLoader.parse(yaml: text, file: file, environment: environment) }
}
