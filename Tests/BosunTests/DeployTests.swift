import Foundation
import Testing

/// What deploy/install.sh relies on from the command line (the units themselves are checked by
/// scripts/verify-units.sh).
@Suite("Deploy: bosun init for an installed system")
struct DeployTests {
    @Test("bosun init --state-dir writes a valid starter config naming that directory, quoting it when needed")
    func initStateDirectory() async throws {
        let directory = TemporaryDirectory("bosun-init")
        let plain = try await bosun(
            ["init", directory.file("etc"), "--state-dir", "/var/lib/bosun/state"], in: directory)
        #expect(plain.status == .exited(code: 0), "\(plain.output)")
        let text = try String(contentsOfFile: directory.file("etc/bosun.yaml"), encoding: .utf8)
        #expect(text.contains("\nstate_dir: /var/lib/bosun/state   # database, sockets, logs, worktrees\n"))
        let check = try await bosun(["check-config", "-c", directory.file("etc/bosun.yaml")], in: directory)
        #expect(check.output.contains("ok (state_dir /var/lib/bosun/state, listen 127.0.0.1:8787"), "\(check.output)")

        let odd = "/srv/my state/\"quoted\" #1"
        let quoted = try await bosun(["init", directory.file("odd"), "--state-dir", odd], in: directory)
        #expect(quoted.status == .exited(code: 0), "\(quoted.output)")
        let oddCheck = try await bosun(["check-config", "-c", directory.file("odd/bosun.yaml")], in: directory)
        #expect(oddCheck.output.contains("ok (state_dir \(odd), "), "\(oddCheck.output)")

        let empty = try await bosun(["init", directory.file("empty"), "--state-dir", ""], in: directory)
        #expect(empty.status == .exited(code: 64))
        #expect(empty.output.hasPrefix("Error: --state-dir must be a path, not \"\"\n"))
        #expect(!FileManager.default.fileExists(atPath: directory.file("empty")))
        let again = try await bosun(["init", directory.file("etc")], in: directory)
        #expect(again.status == .exited(code: 1))
        #expect(again.output == "bosun: \(directory.file("etc/bosun.yaml")) already exists; not overwriting it\n")
    }
}
