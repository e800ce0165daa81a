extension Workflow {
    /// The argv that stands for "the project's `test_command`" in a command gate.
    public static let projectTestCommand = ["{test_command}"]

    /// The built-in workflow (SPEC §2): `created → analysis → architecture → development → review → testing → deploy
    /// → done`. Analysis waits for a human `:approved:` (at most 3 rounds of questions answered in comments);
    /// development needs the project's test command to pass; review needs the reviewer's front-matter verdict, and
    /// `REQUEST_CHANGES` bounces back to development at most 3 times, then the task is `blocked` and a human is
    /// notified.
    public static let builtInDefault = Workflow(
        name: "default", initial: "created",
        states: [
            StateSpec(
                name: "created", kind: .queue, color: "c5def5",
                transitions: ["start": Transition(to: "analysis")]),
            StateSpec(
                name: "analysis", kind: .active, role: "analyst", color: "1d76db", priority: 1,
                instructions: """
                    Analyse the issue. Write your analysis to .bosun/analysis.md: what is asked, what is unclear, \
                    and the acceptance criteria. If you have questions for the humans, list them under a \
                    "## Questions" heading; they will answer in the issue's comments.
                    """,
                gates: [.files([".bosun/analysis.md"]), .approval],
                transitions: [
                    "passed": Transition(to: "architecture"),
                    "answered": Transition(to: "analysis", max: 3, exceeded: "blocked"),
                    "rejected": Transition(to: "analysis", max: 3, exceeded: "blocked"),
                    "failed": Transition(to: "blocked"),
                ]),
            StateSpec(
                name: "architecture", kind: .active, role: "architect", color: "5319e7", priority: 2,
                instructions: """
                    Design the change. Read .bosun/analysis.md and write the design to .bosun/architecture.md: the \
                    files to touch, the approach, the tests to add.
                    """,
                gates: [.files([".bosun/architecture.md"])],
                transitions: ["passed": Transition(to: "development"), "failed": Transition(to: "blocked")]),
            StateSpec(
                name: "development", kind: .active, role: "developer", color: "0e8a16", priority: 3,
                instructions: """
                    Implement the change described in .bosun/architecture.md, with tests. Commit your work on the \
                    current branch. The project's test command must pass.
                    """,
                gates: [.command(argv: projectTestCommand, timeoutSeconds: 1800)],
                transitions: [
                    "passed": Transition(to: "review", actions: [.openPullRequest]),
                    "failed": Transition(to: "development", max: 2, exceeded: "blocked"),
                ]),
            StateSpec(
                name: "review", kind: .active, role: "reviewer", color: "fbca04", priority: 4,
                instructions: """
                    Review the change on this branch against .bosun/analysis.md and .bosun/architecture.md. Write \
                    .bosun/review.md starting with YAML front matter whose only verdict line is \
                    `verdict: APPROVED` or `verdict: REQUEST_CHANGES`, followed by your findings.
                    """,
                gates: [.verdict(file: ".bosun/review.md")],
                transitions: [
                    "passed": Transition(to: "testing"),
                    "changes_requested": Transition(to: "development", max: 3, exceeded: "blocked"),
                    "failed": Transition(to: "blocked"),
                ]),
            StateSpec(
                name: "testing", kind: .active, role: "tester", color: "d93f0b", priority: 5,
                instructions: """
                    Test the change beyond the unit tests: edge cases, the acceptance criteria from \
                    .bosun/analysis.md. Write what you tested and found to .bosun/testing.md.
                    """,
                gates: [.files([".bosun/testing.md"]), .command(argv: projectTestCommand, timeoutSeconds: 1800)],
                transitions: [
                    "passed": Transition(to: "deploy"),
                    "failed": Transition(to: "development", max: 2, exceeded: "blocked"),
                ]),
            StateSpec(
                name: "deploy", kind: .active, role: "deployer", color: "006b75", priority: 6,
                instructions: """
                    Prepare the change for release: changelog, version notes, anything the project's deploy needs. \
                    Write a summary to .bosun/deploy.md.
                    """,
                gates: [.files([".bosun/deploy.md"])],
                transitions: ["passed": Transition(to: "done"), "failed": Transition(to: "blocked")]),
            StateSpec(
                name: "done", kind: .terminal, color: "0e8a16",
                actions: [.mergePullRequest, .closeIssue, .comment]),
            StateSpec(name: "blocked", kind: .hold, color: "b60205", actions: [.notify, .comment]),
            StateSpec(name: "cancelled", kind: .terminal, color: "cccccc"),
        ])
}
