import Config
import Foundation
import Testing

/// Inputs the fuzz targets in Fuzz/ broke an invariant with, kept as ordinary tests (docs/FUZZING.md, "Found").
@Suite("Fuzz findings")
struct FuzzFindingsTests {
    let directory = TemporaryDirectory("bosun-fuzz-findings")

    /// FuzzConfig: `ro` is two edits from both `on` and `role`, and the suggestion was whichever a `Set` listed first,
    /// so two parses of one file could say different things. Equally close keys now go alphabetically.
    @Test("an unknown key equally close to two known keys gets the same suggestion on every parse")
    func unknownKeySuggestionIsStable() {
        let yaml = """
            state_dir: ./state
            listen: 127.0.0.1:8787
            workflows:
              loop:
                initial: dev
                states:
                  dev: { type: active, role: developer, ro: x, on: { passed: done } }
                  done: { type: terminal }

            """
        var reports: Set<[String]> = []
        for _ in 0..<40 {
            do {
                _ = try ConfigLoader.parse(yaml: yaml, file: directory.file("bosun.yaml"), environment: [:])
                Issue.record("the unknown key was accepted")
            } catch {
                reports.insert(error.issues.map(\.description))
            }
        }
        #expect(reports.count == 1, "\(reports)")
        #expect(
            reports.first?.contains("workflows.loop.states.dev.ro: unknown key (did you mean on?) (line 7)") == true,
            "\(reports)")
    }
}
