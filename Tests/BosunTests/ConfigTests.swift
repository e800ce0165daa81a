import Config
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite("Config: bosun.yaml")
struct ConfigTests {
    let directory = TemporaryDirectory("bosun-config")

    func load(_ yaml: String, environment: [String: String] = [:]) throws(ConfigError) -> BosunConfig {
        try ConfigLoader.parse(yaml: yaml, file: directory.file("bosun.yaml"), environment: environment)
    }

    /// The issues of an invalid file, as `path: message` lines without line numbers.
    func issues(_ yaml: String, environment: [String: String] = [:]) -> [String] {
        do {
            _ = try load(yaml, environment: environment)
            return []
        } catch {
            return error.issues.map { ConfigIssue(path: $0.path, message: $0.message).description }
        }
    }

    @Test("state_dir and listen are enough; everything else takes its default; paths resolve against the file")
    func minimal() throws {
        let config = try load("state_dir: ./state\nlisten: 127.0.0.1:8787\n")
        #expect(config.stateDirectory == directory.file("state"))
        #expect(config.listen == ListenAddress(host: "127.0.0.1", port: 8787))
        #expect(config.durability == .full)
        #expect(config.supervisor.restart == RestartConfig())
        #expect(config.breaker.threshold == 3)
        #expect(config.worker.maxConcurrency == 2)
        #expect(config.api.token == nil)
        #expect(config.projects.isEmpty)
        #expect(config.layout.controlSocket == directory.file("state/run/control.sock"))
    }

    @Test("every error is reported at once, each with its key path and line")
    func allErrorsWithPaths() throws {
        let yaml = """
            state_dir: ./state
            listen: 127.0.0.1:8787
            durability: sometimes
            supervisr: {}
            supervisor:
              restart: { budget: -1, base_ms: 500, max_ms: 100 }
            projects:
              - name: ok
                tracker: github
                repo: { url: https://example.com/a.git }
                webhook: { secret_file: ./present }
              - name: broken
                tracker: github
                repo: { url: https://example.com/b.git }
                webhook: { secret_file: ./missing-secret }
            """
        try directory.write("present", "s3cret\n")
        do {
            _ = try load(yaml)
            Issue.record("expected errors")
        } catch {
            let lines = error.issues.map(\.description)
            #expect(lines.contains("durability: must be one of full, normal, not sometimes (line 3)"))
            #expect(lines.contains("supervisr: unknown key (did you mean supervisor?) (line 4)"))
            #expect(lines.contains("supervisor.restart.budget: must be at least 1, not -1 (line 6)"))
            #expect(lines.contains("supervisor.restart.base_ms: must not exceed max_ms (100) (line 6)"))
            #expect(
                lines.contains(
                    "projects[1].webhook.secret_file: file not found (\(directory.file("missing-secret"))) (line 15)"))
            #expect(error.issues.count == 5, "\(lines)")
        }
    }

    @Test("only state_dir and listen are required")
    func requiredKeys() {
        #expect(issues("durability: full\n") == ["state_dir: is required", "listen: is required"])
        #expect(issues("") == ["the file is empty; state_dir and listen are required"])
    }

    @Test("listen accepts host:port, [v6]:port and :port; rejects the rest")
    func listenForms() throws {
        #expect(ListenAddress(parsing: "[::1]:8787") == ListenAddress(host: "::1", port: 8787))
        #expect(ListenAddress(parsing: ":9000") == ListenAddress(host: "0.0.0.0", port: 9000))
        #expect(ListenAddress(parsing: "localhost:0") == ListenAddress(host: "localhost", port: 0))
        #expect(ListenAddress(parsing: "8787") == nil)
        #expect(ListenAddress(parsing: "host:99999") == nil)
        #expect(ListenAddress(parsing: "::1:80") == nil)
        #expect(ListenAddress(host: "::1", port: 80).description == "[::1]:80")
        #expect(
            issues("state_dir: s\nlisten: 8787\n") == ["listen: must be host:port (e.g. 127.0.0.1:8787), not 8787"])
    }

    @Test("secrets come from a file (trailing newline dropped) or the environment, never from the file itself")
    func secrets() throws {
        try directory.write("token", "abc123\n")
        let fromFile = try load("state_dir: s\nlisten: :1\napi: { token_file: ./token }\n")
        #expect(fromFile.api.token?.value == "abc123")
        #expect("\(fromFile.api.token!)" == "<secret from file \(directory.file("token"))>")
        #expect(!"\(fromFile)".contains("abc123"))

        let fromEnv = try load(
            "state_dir: s\nlisten: :1\napi: { token_env: BOSUN_TEST_TOKEN }\n", environment: ["BOSUN_TEST_TOKEN": "xyz"]
        )
        #expect(fromEnv.api.token?.value == "xyz")

        #expect(
            issues("state_dir: s\nlisten: :1\napi: { token: plain }\n")
                == ["api.token: secrets are not written into the config; use token_file or token_env"])
        #expect(
            issues("state_dir: s\nlisten: :1\napi: { token_file: ./token, token_env: X }\n", environment: ["X": "1"])
                == ["api.token_file: set either token_file or token_env, not both"])
        #expect(
            issues("state_dir: s\nlisten: :1\napi: { token_env: UNSET_VARIABLE }\n")
                == ["api.token_env: environment variable UNSET_VARIABLE is not set or empty"])
        try directory.write("empty", "\n")
        #expect(
            issues("state_dir: s\nlisten: :1\napi: { token_file: ./empty }\n")
                == ["api.token_file: file is empty (\(directory.file("empty")))"])
    }

    @Test("projects: names are unique URL-safe words; tracker and repo.url are required")
    func projects() throws {
        let yaml = """
            state_dir: s
            listen: :1
            projects:
              - { name: demo, tracker: local, repo: { url: /srv/demo.git } }
              - { name: demo, tracker: local, repo: { url: /srv/other.git } }
              - { name: Bad Name, tracker: jira }
            """
        #expect(
            issues(yaml) == [
                "projects[1].name: demo is already the name of projects[0]",
                "projects[2].name: must be lowercase letters, digits, - and _, starting with a letter or digit "
                    + "(it appears in URLs)",
                "projects[2].tracker: must be one of github, gitea, gitlab, plane, local, not jira",
                "projects[2].repo.url: is required",
            ])
        let valid = try load(
            "state_dir: s\nlisten: :1\nprojects:\n  - { name: demo, tracker: local, repo: { url: /srv/demo.git }, authors: [alice] }\n"
        )
        #expect(valid.projects.first?.repository.defaultBranch == "main")
        #expect(valid.projects.first?.authors == ["alice"])
        #expect(valid.projects.first?.webhook.insecure == false)
    }

    @Test("agents need an argv list; the probe defaults to argv[0] --version")
    func agents() throws {
        let config = try load("state_dir: s\nlisten: :1\nagents:\n  claude: { argv: [claude, -p], prompt: stdin }\n")
        #expect(config.agents.first?.name == "claude")
        #expect(config.agents.first?.probe == ["claude", "--version"])
        #expect(config.agents.first?.prompt == .stdin)
        #expect(
            issues("state_dir: s\nlisten: :1\nagents:\n  shell: { argv: \"rm -rf /\" }\n")
                == [
                    "agents.shell.argv: must be a list, not a single value",
                    "agents.shell.argv: is required: the command as a list of arguments",
                ])
    }

    @Test("hostile input: not YAML, wrong shapes, a missing file")
    func hostileInput() {
        #expect(issues("state_dir: [unclosed\n").first?.hasPrefix("not valid YAML") == true)
        #expect(issues("- just\n- a list\n") == ["must be a mapping of keys to values, not a list"])
        #expect(issues("state_dir: {a: 1}\nlisten: :1\n") == ["state_dir: must be a string, not a mapping"])
        #expect(
            issues("state_dir: s\nlisten: :1\nworker: { max_concurrency: lots }\n") == [
                "worker.max_concurrency: must be an integer, not \"lots\""
            ])
        #expect(
            issues("state_dir: s\nlisten: :1\nworker: { nice: 20 }\n") == [
                "worker.nice: must be between 0 and 19, not 20"
            ])
        #expect(
            issues("state_dir: s\nlisten: :1\nworker: { nice: -5 }\n") == [
                "worker.nice: must be between 0 and 19, not -5"
            ])
        #expect(
            issues("state_dir: s\nlisten: :1\nsupervisor: { watchdog: maybe }\n") == [
                "supervisor.watchdog: must be true or false, not \"maybe\""
            ])
        #expect(
            issues("state_dir: s\nstate_dir: t\nlisten: :1\n").first?.contains(
                "duplicate keys 'state_dir' in one mapping") == true
        )
        do {
            _ = try ConfigLoader.load(path: directory.file("nowhere.yaml"))
            Issue.record("expected file not found")
        } catch {
            #expect(error.description == "file not found: \(directory.file("nowhere.yaml"))")
        }
    }

    @Test("the state directory can be found even when another part of the file is invalid")
    func lenientStateDirectory() throws {
        let path = try directory.write("bosun.yaml", "state_dir: ./here\nlisten: nonsense\n")
        #expect(throws: ConfigError.self) { try ConfigLoader.load(path: path) }
        #expect(try ConfigLoader.stateDirectory(ofConfigAt: path) == directory.file("here"))
    }

    @Test("a snapshot is loaded as if it were the original file")
    func snapshot() throws {
        let original = try directory.write("bosun.yaml", "state_dir: ./state\nlisten: :1\n")
        let snapshot = directory.file("snapshot.yaml")
        try ConfigSnapshot.write("state_dir: ./elsewhere\nlisten: :2\n", to: snapshot)
        let config = try ConfigLoader.loadSnapshot(snapshot, of: original)
        #expect(config.stateDirectory == directory.file("elsewhere"))
        #expect(config.file == original)
        var info = stat()
        stat(snapshot, &info)
        #expect(info.st_mode & 0o777 == 0o600)
    }

    @Test("the diff of two configs names what changed, not the secrets")
    func diff() throws {
        try directory.write("a", "one\n")
        try directory.write("b", "two\n")
        let old = try load(
            "state_dir: s\nlisten: :1\napi: { token_file: ./a }\nprojects:\n  - { name: x, tracker: local, repo: { url: /x } }\n"
        )
        let new = try load(
            "state_dir: s\nlisten: :1\napi: { token_file: ./b }\nbreaker: { threshold: 5 }\nprojects:\n  - { name: y, tracker: local, repo: { url: /y } }\n"
        )
        let changes = ConfigDiff.changes(from: old, to: new)
        #expect(changes == ["api changed", "breaker changed", "project y added", "project x removed"])
        #expect(ConfigDiff.changes(from: old, to: old).isEmpty)
    }
}
