import Config
import Testing
import Workflow

@Suite("Config: workflows, roles and triggers")
struct WorkflowConfigTests {
    let directory = TemporaryDirectory("bosun-workflow-config")

    func parse(_ body: String) throws -> BosunConfig {
        try ConfigLoader.parse(
            yaml: "state_dir: ./state\nlisten: 127.0.0.1:0\n" + body, file: directory.file("bosun.yaml"))
    }

    func issues(_ body: String) -> [String] {
        do {
            _ = try ConfigLoader.parse(
                yaml: "state_dir: ./state\nlisten: 127.0.0.1:0\n" + body, file: directory.file("bosun.yaml"))
            return []
        } catch {
            return error.issues.map { "\($0.path): \($0.message)" + ($0.line.map { " (line \($0))" } ?? "") }
        }
    }

    @Test("a named workflow and an inline one are read, validated and attached to their projects")
    func named() throws {
        let config = try parse(
            """
            agents:
              dev: { argv: [dev-agent] }
            roles:
              developer: { agent: dev, levels: { senior: dev }, level_by_body_length: { senior: 100 } }
            workflows:
              quick:
                initial: coding
                states:
                  coding:
                    type: active
                    role: developer
                    gates: [test_command, { files: [NOTES.md] }]
                    on: { passed: done, failed: { to: coding, max: 2, exceeded: stuck } }
                  stuck: { type: hold, actions: [notify] }
                  done: { type: terminal, actions: [merge_pr] }
            projects:
              - name: a
                tracker: local
                repo: { url: /tmp/a }
                workflow: quick
                test_command: make test
                trigger: { kind: all }
              - name: b
                tracker: local
                repo: { url: /tmp/b }
                workflow:
                  initial: only
                  states:
                    only: { type: active, role: developer, on: { passed: end } }
                    end: { type: terminal }
            """)
        let a = try #require(config.project(named: "a"))
        #expect(a.resolvedWorkflow.name == "quick")
        #expect(
            a.resolvedWorkflow.state("coding")?.gates == [
                .command(argv: Workflow.projectTestCommand, timeoutSeconds: 1800), .files(["NOTES.md"]),
            ])
        #expect(
            a.resolvedWorkflow.state("coding")?.transitions["failed"]
                == Transition(to: "coding", max: 2, exceeded: "stuck"))
        #expect(a.testCommand == ["/bin/sh", "-c", "make test"])
        #expect(a.trigger.kind == .all)
        #expect(try #require(config.project(named: "b")).resolvedWorkflow.initial == "only")
        #expect(config.level(forRole: "developer", labels: [], bodyLength: 150) == "senior")
        #expect(config.level(forRole: "developer", labels: ["developer.junior"], bodyLength: 150) == "junior")
        #expect(config.agent(forRole: "developer", level: "senior")?.name == "dev")
    }

    @Test("invalid statecharts are reported at the state, with its line")
    func invalid() {
        let found = issues(
            """
            workflows:
              broken:
                initial: start
                states:
                  start: { type: active, role: poet, on: { passed: nowhere } }
                  spin: { type: active, role: developer, on: { passed: spin } }
                  limbo: { type: sometimes }
            projects:
              - { name: a, tracker: local, repo: { url: /tmp/a }, workflow: missing }
            """)
        #expect(
            found.contains {
                $0.hasPrefix("workflows.broken.states.start: unknown role poet") && $0.hasSuffix("(line 7)")
            })
        #expect(
            found.contains("workflows.broken.states.start: on passed goes to nowhere, which is not a state (line 7)"))
        #expect(
            found.contains {
                $0.hasPrefix("workflows.broken.states.limbo.type: must be one of queue, active, hold, terminal")
            })
        #expect(
            found.contains { $0.hasPrefix("projects[0].workflow: unknown workflow missing; known: default, broken") })
    }

    @Test("a loop with no bound, an unreachable state and a role with no agent are errors")
    func structure() {
        let found = issues(
            """
            agents:
              dev: { argv: [dev-agent] }
            workflows:
              loop:
                initial: dev
                states:
                  dev: { type: active, role: developer, on: { passed: review } }
                  review: { type: active, role: reviewer, on: { passed: done, changes_requested: dev } }
                  done: { type: terminal }
                  island: { type: hold }
            projects:
              - { name: a, tracker: local, repo: { url: /tmp/a }, workflow: loop }
            roles:
              developer: { agent: ghost }
            """)
        #expect(found.contains { $0.hasPrefix("workflows.loop.states.island: is unreachable from dev") })
        #expect(found.contains { $0.contains("loops with no bound (dev → review → dev)") })
        #expect(found.contains { $0.hasPrefix("roles.developer: agent ghost is not defined under agents") })
    }
}
