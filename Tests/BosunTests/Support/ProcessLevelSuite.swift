import Foundation
import Testing

/// Every test that starts `bosun run` lives in an extension of this suite: they run one at a time, so that their
/// timing (restart delays, watchdog rates) does not depend on what else the two cores are doing.
@Suite("Process level", .serialized)
enum ProcessLevel {}

/// Starts a supervisor, runs `body`, and always cleans up its processes.
func withBosun(
    extraConfig: String = "", environment: [String: String] = [:], files: [String: String] = [:],
    launcher: [String] = [], waitForReady: Bool = true, _ body: (BosunInstance) async throws -> Void
) async throws {
    let bosun = try BosunInstance(extraConfig: extraConfig, environment: environment, files: files, launcher: launcher)
    do {
        if waitForReady { try await bosun.waitUntilReady() }
        try await body(bosun)
    } catch {
        await bosun.cleanUp()
        throw TestFailure("\(error)\n--- supervisor output ---\n\(bosun.output)")
    }
    await bosun.cleanUp()
}

/// The directory of the test fixtures in the source tree.
let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("Fixtures").path

/// Writes an executable shell script.
func writeScript(_ name: String, in directory: TemporaryDirectory, _ body: String) throws -> String {
    try directory.write(name, "#!/bin/sh\n\(body)\n", mode: 0o755)
}
