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

    /// FuzzConfig: when a mapping repeats a key that is itself a mapping (`{ url: x }` twice), Yams names the
    /// position of whichever duplicate its dictionary lists first, so the same file got different columns. Bosun now
    /// words that error itself: the keys sorted, a line only when it is certain.
    @Test("duplicate YAML keys are reported the same way on every parse")
    func duplicateKeysAreStable() throws {
        let mappingKeys = """
            stats:
              - { name: demo, tracker: gitlab, aname: demo, tracker: gitlab, ame: demo, t,{ url: x } :ad Nexc,level_by_body_length trame: demo, t,{ url: x } :ad Nzme, tracker: jira }

            """
        var reports: Set<[String]> = []
        for _ in 0..<40 {
            do {
                _ = try ConfigLoader.parse(yaml: mappingKeys, file: directory.file("bosun.yaml"), environment: [:])
            } catch {
                reports.insert(error.issues.map(\.description))
            }
        }
        #expect(reports.count == 1, "\(reports)")
        #expect(reports.first?.first?.contains("duplicate keys") == true, "\(reports)")

        let plain = "state_dir: ./state\nlisten: 127.0.0.1:8787\nlisten: 127.0.0.1:8788\n"
        #expect {
            try ConfigLoader.parse(yaml: plain, file: directory.file("bosun.yaml"), environment: [:])
        } throws: { error in
            (error as? ConfigError)?.issues.map(\.description) == [
                "not valid YAML: duplicate keys 'listen' in one mapping (line 2)"
            ]
        }
    }
}
