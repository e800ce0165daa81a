import Foundation
import Testing

@testable import Forge

@Suite("Normalizer")
struct NormalizerTests {
    // MARK: Every recorded payload

    @Test("every indexed fixture yields the event its payload describes")
    func indexedFixtures() throws {
        let all = WebhookFixture.all
        #expect(all.count == 47)
        for fixture in all {
            let expected = try #require(Expected.events[fixture.path], "no expectation for \(fixture.path)")
            let event = try normalize(fixture)
            #expect(event == expected, "\(fixture.path)")
        }
    }

    @Test(
        "strings are scanned eight bytes at a time: each special byte, at each offset, parses as Foundation parses it")
    func parserStrings() throws {
        let specials: [UInt8] = Array(0...0x21) + [0x22, 0x5C, 0x7F, 0xC3]
        for length in 0..<20 {
            for offset in 0..<max(length, 1) {
                for byte in specials {
                    var text = Array(repeating: UInt8(ascii: "a"), count: length)
                    if length > 0 {
                        text[offset] = byte
                        if byte == 0xC3 { text.insert(0xA9, at: offset + 1) }  // é
                    }
                    // "k" is built, "s" only checked (the way `repository` is).
                    let json =
                        Array("{\"k\":\"".utf8) + text + Array("\",\"s\":\"".utf8) + text + Array("\"}".utf8)
                    let foundation = (try? JSONSerialization.jsonObject(with: Data(json))) as? [String: Any]
                    let ours = try? JSONValue.parseObject(json, skipping: ["s"])
                    #expect((ours == nil) == (foundation == nil), "\(json)")
                    if let ours, let foundation {
                        #expect(try ours.optionalString("k") == foundation["k"] as? String, "\(json)")
                    }
                }
            }
        }
    }

    @Test("GitLab payloads written for the normalizer (gitlab/normalizer.tsv) yield their events")
    func gitlabAdditions() throws {
        let root = "\(fixtures)/webhooks"
        let index = try String(contentsOfFile: "\(root)/gitlab/normalizer.tsv", encoding: .utf8)
        let rows = index.split(separator: "\n").dropFirst().map { $0.split(separator: "\t").map(String.init) }
        #expect(rows.count == 11)
        for row in rows {
            let body = try #require(FileManager.default.contents(atPath: "\(root)/\(row[0])"), "\(row[0])")
            let expected = try #require(Expected.gitlabAdditions[row[0]], "no expectation for \(row[0])")
            let event = try DeliveryNormalizer.normalize(
                source: "gitlab", event: row[2], headers: [:], body: Array(body))
            #expect(event == expected, "\(row[0])")
        }
    }

    // MARK: Forge specifics

    @Test("Gitea's review event types: approved and rejected, the review comment ignored")
    func giteaReviews() throws {
        for (path, kind) in [
            ("gitea/pull_request_review.approved.json", TrackerEvent.Kind.reviewApproved),
            ("gitea/pull_request_review.rejected.json", .reviewChangesRequested),
        ] {
            let fixture = try fixture(path)
            let event = try #require(try normalize(fixture))
            #expect(event.kind == kind)
            #expect(event.actor == "a_nice_user")
            #expect(event.pullRequest?.number == "7")
            #expect(fixture.eventType == "pull_request_review_\(kind == .reviewApproved ? "approved" : "rejected")")
        }
        #expect(try normalize(try fixture("gitea/pull_request_review.comment.json")) == nil)
    }

    @Test("Forgejo deliveries use Gitea's event names and headers")
    func forgejo() throws {
        let fixture = try fixture("gitea/issue_comment.created_on_pull_request.json")
        let event = try DeliveryNormalizer.normalize(
            source: "forgejo", event: "issue_comment", headers: ["x-forgejo-event-type": "pull_request_comment"],
            body: fixture.body)
        #expect(event == Expected.events[fixture.path])
    }

    @Test("Gitea label changes say that labels changed, not which; the issue carries the labels after it")
    func giteaLabels() throws {
        let body = try edit("gitea/issues.opened.json") { payload in
            payload["action"] = "label_updated"
            var issue = payload["issue"] as? [String: Any] ?? [:]
            issue["labels"] = [["id": 3, "name": "bosun:analysis", "color": "ededed"]]
            payload["issue"] = issue
        }
        let event = try #require(
            try DeliveryNormalizer.normalize(
                source: "gitea", event: "issues", headers: ["x-gitea-event-type": "issue_label"], body: body))
        #expect(event.kind == .issueLabeled)
        #expect(event.label == nil)
        #expect(event.issue?.labels == ["bosun:analysis"])
        #expect(event.actor == "unknwon")
    }

    @Test("a GitHub comment on a pull request is a comment that also names the pull request")
    func githubCommentOnPullRequest() throws {
        let body = try edit("github/issue_comment.created.json") { payload in
            var issue = payload["issue"] as? [String: Any] ?? [:]
            issue["pull_request"] = ["html_url": "https://github.com/Codertocat/Hello-World/pull/1"]
            payload["issue"] = issue
        }
        let event = try #require(
            try DeliveryNormalizer.normalize(source: "github", event: "issue_comment", headers: [:], body: body))
        #expect(event.kind == .commentCreated)
        #expect(event.issue?.number == "1")
        #expect(
            event.pullRequest
                == PullRequestInfo(number: "1", headBranch: "", url: "https://github.com/Codertocat/Hello-World/pull/1")
        )
    }

    @Test("labels keep the forge's spelling and case")
    func labelCase() throws {
        let body = try edit("github/issues.labeled.json") { payload in
            payload["label"] = ["id": 1, "name": "Bosun:Development"]
        }
        let event = try DeliveryNormalizer.normalize(source: "github", event: "issues", headers: [:], body: body)
        #expect(event?.label == "Bosun:Development")
    }

    @Test("Plane v2: created, labels added and removed, an assignee added")
    func planeV2Updates() throws {
        let path = "plane/v2.workitem.updated.json"
        let labelled = try edit(path) { payload in
            var data = payload["data"] as? [String: Any] ?? [:]
            data["label_ids"] = ["a1", "b2"]
            data["updated_by_id"] = "754009ab-3fb5-424e-909a-b46e9c9d0c4f"
            payload["data"] = data
            payload["previous_attributes"] = ["label_ids": ["a1"]]
        }
        let added = try #require(try plane("workitem.updated", labelled))
        #expect(added.kind == .issueLabeled)
        #expect(added.label == "b2")
        #expect(added.actor == "754009ab-3fb5-424e-909a-b46e9c9d0c4f")
        #expect(added.issue?.number == "3")
        #expect(added.issue?.id == "775c5716-5302-4617-bb9f-2cd843911268")
        #expect(added.issue?.title == "webhook test 3")
        #expect(added.issue?.labels == ["a1", "b2"])

        let named = try edit(path) { payload in
            var data = payload["data"] as? [String: Any] ?? [:]
            data["label_ids"] = ["a1", "b2"]
            data["labels"] = [["id": "a1", "name": "bug"], ["id": "b2", "name": "bosun:queued"]]
            payload["data"] = data
            payload["previous_attributes"] = ["label_ids": ["a1"]]
        }
        let withNames = try #require(try plane("workitem.updated", named))
        #expect(withNames.label == "bosun:queued")
        #expect(withNames.issue?.labels == ["bug", "bosun:queued"])

        let unlabelled = try edit(path) { payload in
            payload["previous_attributes"] = ["label_ids": ["c3"]]
        }
        let removed = try #require(try plane("workitem.updated", unlabelled))
        #expect(removed.kind == .issueUnlabeled)
        #expect(removed.label == "c3")
        #expect(removed.actor == "")  // updated_by_id is Python's "None"

        let assigned = try edit(path) { payload in
            var data = payload["data"] as? [String: Any] ?? [:]
            data["assignee_ids"] = ["u9"]
            payload["data"] = data
            payload["previous_attributes"] = ["assignee_ids": [String]()]
        }
        let assignee = try #require(try plane("workitem.updated", assigned))
        #expect(assignee.kind == .issueAssigned)
        #expect(assignee.assignee == "u9")

        let created = try #require(try plane("workitem.created", try bytes(path)))
        #expect(created.kind == .issueOpened)
        #expect(created.actor == "754009ab-3fb5-424e-909a-b46e9c9d0c4f")
        #expect(created.issue?.author == "754009ab-3fb5-424e-909a-b46e9c9d0c4f")
        #expect(created.issue?.number == "3")
    }

    @Test("Plane v1: activity names the field and the actor")
    func planeV1() throws {
        let issue: [String: Any] = [
            "id": "9a28bd00-ed9c-4f5d-8be9-fc05cbb1fc57", "sequence_id": 12, "name": "Add dark mode",
            "description_stripped": "Please", "created_by": "6bb20d1c-4960-41ca-af4f-cee01de160c4",
            "labels": [["id": "l1", "name": "bosun"]],
        ]
        func payload(_ action: String, _ activity: [String: Any]) throws -> [UInt8] {
            let object: [String: Any] = [
                "event": "issue", "action": action, "webhook_id": "w", "workspace_id": "ws", "data": issue,
                "activity": activity,
            ]
            return Array(try JSONSerialization.data(withJSONObject: object))
        }
        let actor: [String: Any] = ["id": "6bb20d1c-4960-41ca-af4f-cee01de160c4", "display_name": "alice"]
        let created = try #require(try plane("issue", try payload("created", ["field": NSNull(), "actor": actor])))
        #expect(created.kind == .issueOpened)
        #expect(created.actor == "alice")
        #expect(
            created.issue
                == IssueInfo(
                    number: "12", title: "Add dark mode", body: "Please", labels: ["bosun"],
                    author: "6bb20d1c-4960-41ca-af4f-cee01de160c4", id: "9a28bd00-ed9c-4f5d-8be9-fc05cbb1fc57"))

        let byName = try #require(
            try plane(
                "issue",
                try payload("updated", ["field": "labels", "new_value": "bosun", "old_value": "", "actor": actor])))
        #expect(byName.kind == .issueLabeled)
        #expect(byName.label == "bosun")

        let byIDs = try #require(
            try plane(
                "issue",
                try payload(
                    "updated", ["field": "labels", "new_value": [String](), "old_value": ["l1"], "actor": actor])))
        #expect(byIDs.kind == .issueUnlabeled)
        #expect(byIDs.label == "bosun")

        #expect(
            try plane("issue", try payload("updated", ["field": "priority", "new_value": "high", "actor": actor]))
                == nil)
        #expect(try plane("issue", try payload("deleted", ["actor": actor])) == nil)

        let comment: [String: Any] = [
            "event": "issue_comment", "action": "created",
            "data": ["id": "c1", "issue": "9a28bd00-ed9c-4f5d-8be9-fc05cbb1fc57", "comment_stripped": ":approved:"],
            "activity": ["actor": actor],
        ]
        let commented = try #require(
            try plane("issue_comment", Array(try JSONSerialization.data(withJSONObject: comment))))
        #expect(commented.kind == .commentCreated)
        #expect(commented.text == ":approved:")
        #expect(commented.actor == "alice")
        #expect(commented.issue?.id == "9a28bd00-ed9c-4f5d-8be9-fc05cbb1fc57")
    }

    // MARK: Bosun's own deliveries

    @Test("Bosun's own comments and actions are recognised, people's are not")
    func ownEvents() throws {
        let comment = try #require(try normalize(try fixture("github/issue_comment.created.json")))
        #expect(!BosunMarker.isOwn(comment, botUser: "bosun-bot"))
        #expect(!BosunMarker.isOwn(comment, botUser: nil))

        var marked = comment
        marked.text = "Moved to review.\n\n\(BosunMarker.comment)"
        #expect(BosunMarker.isOwn(marked, botUser: nil))
        #expect(BosunMarker.comment == "<!-- bosun -->")

        #expect(BosunMarker.isOwn(comment, botUser: "Codertocat"))
        #expect(BosunMarker.isOwn(comment, botUser: "codertocat"))
        #expect(!BosunMarker.isOwn(comment, botUser: ""))

        let label = try #require(try normalize(try fixture("github/issues.labeled.json")))
        #expect(BosunMarker.isOwn(label, botUser: "Codertocat"))
        #expect(!BosunMarker.isOwn(label, botUser: "bosun-bot"))

        // A marker written by Bosun comes back through the forge inside the comment body.
        let body = try edit("github/issue_comment.created.json") { payload in
            var comment = payload["comment"] as? [String: Any] ?? [:]
            comment["body"] = "\(BosunMarker.comment)\nStage analysis finished."
            payload["comment"] = comment
        }
        let echoed = try #require(
            try DeliveryNormalizer.normalize(source: "github", event: "issue_comment", headers: [:], body: body))
        #expect(BosunMarker.isOwn(echoed, botUser: "bosun-bot"))
    }

    // MARK: Bad input

    @Test("bodies that are not a JSON object are refused with a code")
    func notAnObject() {
        let cases: [(String, NormalizationError.Code)] = [
            ("", .malformedJSON), ("{", .malformedJSON), ("not json", .malformedJSON), ("{\"a\":1,}x", .malformedJSON),
            ("[]", .notAnObject), ("[{\"action\":\"opened\"}]", .notAnObject), ("\"issues\"", .notAnObject),
            ("42", .notAnObject), ("null", .notAnObject),
        ]
        for (body, code) in cases {
            #expect(refusal("github", "issues", body) == code, "\(body)")
            #expect(refusal("gitlab", "Issue Hook", body) == code, "\(body)")
            #expect(refusal("plane", "workitem.comment.created", body) == code, "\(body)")
        }
    }

    @Test("missing and mistyped fields are refused and named")
    func wrongFields() throws {
        let missingIssue = try edit("github/issues.opened.json") { $0["issue"] = nil }
        let error = try #require(failure("github", "issues", missingIssue))
        #expect(error.code == .missingField)
        #expect(error.message.contains("issue: missing"), "\(error.message)")
        #expect(error.message.hasPrefix("github 'issues' delivery"), "\(error.message)")

        let cases: [(String, String, String, (inout [String: Any]) -> Void, String)] = [
            (
                "github", "issues", "github/issues.opened.json", { Self.set(&$0, "issue", "number", "1") },
                "issue.number"
            ),
            (
                "github", "issues", "github/issues.opened.json", { Self.set(&$0, "issue", "number", ["n": 1]) },
                "issue.number"
            ),
            (
                "github", "issues", "github/issues.opened.json", { Self.set(&$0, "issue", "number", true) },
                "issue.number"
            ),
            ("github", "issues", "github/issues.opened.json", { Self.set(&$0, "issue", "title", 7) }, "issue.title"),
            ("github", "issues", "github/issues.opened.json", { $0["issue"] = "#1" }, "issue"),
            ("github", "issues", "github/issues.opened.json", { $0["action"] = 1 }, "action"),
            (
                "github", "issues", "github/issues.opened.json", { Self.set(&$0, "issue", "labels", "bug") },
                "issue.labels"
            ),
            (
                "github", "issues", "github/issues.opened.json", { Self.set(&$0, "issue", "labels", ["bug"]) },
                "issue.labels[0]"
            ),
            (
                "github", "pull_request", "github/pull_request.opened.json",
                { Self.set(&$0, "pull_request", "head", nil) }, "pull_request.head"
            ),
            (
                "github", "pull_request", "github/pull_request.opened.json",
                { Self.set(&$0, "pull_request", "merged", "no") }, "pull_request.merged"
            ),
            ("github", "push", "github/push.new_branch.json", { $0["after"] = 6_113_728 }, "after"),
            ("github", "status", "github/status.json", { $0["sender"] = nil }, "sender"),
            ("gitea", "issues", "gitea/issues.opened.json", { Self.set(&$0, "issue", "number", "1") }, "issue.number"),
            (
                "gitlab", "Issue Hook", "gitlab/issue.open.json", { Self.set(&$0, "object_attributes", "iid", "23") },
                "object_attributes.iid"
            ),
            (
                "gitlab", "Merge Request Hook", "gitlab/merge_request.open.json", { $0["object_attributes"] = nil },
                "object_attributes"
            ),
            (
                "gitlab", "Note Hook", "gitlab/note.issue.json", { Self.set(&$0, "object_attributes", "note", ["x"]) },
                "object_attributes.note"
            ),
            (
                "plane", "workitem.comment.created", "plane/v2.workitem.comment.created.json", { $0["data"] = [1, 2] },
                "data"
            ),
        ]
        for (source, event, path, change, field) in cases {
            let body = try edit(path, change)
            let error = try #require(failure(source, event, body), "\(path) \(field)")
            #expect(error.code == .wrongType || error.code == .missingField, "\(path) \(field)")
            #expect(error.message.contains("\(field):"), "\(error.message)")
        }
    }

    @Test("deep nesting is refused before decoding; a large body is handled")
    func sizeAndDepth() throws {
        let deep = String(repeating: "[", count: 200_000) + String(repeating: "]", count: 200_000)
        #expect(refusal("github", "issues", deep) == .tooDeep)
        let deepObject =
            "{\"issue\":" + String(repeating: "{\"a\":", count: 100_000) + "1" + String(repeating: "}", count: 100_001)
        #expect(refusal("github", "issues", deepObject) == .tooDeep)
        let unbalanced = String(repeating: "{\"a\":[", count: 20)
        #expect(refusal("github", "issues", unbalanced) == .malformedJSON)
        // Brackets inside strings do not count.
        let bracketsInText = try edit("github/issue_comment.created.json") { payload in
            var comment = payload["comment"] as? [String: Any] ?? [:]
            comment["body"] = String(repeating: "[{\\\"", count: 10_000)
            payload["comment"] = comment
        }
        let event = try DeliveryNormalizer.normalize(
            source: "github", event: "issue_comment", headers: [:], body: bracketsInText)
        #expect(event?.text?.count == 40_000)

        let huge = try edit("github/issues.opened.json") { payload in
            var issue = payload["issue"] as? [String: Any] ?? [:]
            issue["body"] = String(repeating: "x", count: 4 << 20)
            issue["extra"] = (0..<10_000).map { ["n": $0, "s": "item \($0)"] as [String: Any] }
            payload["issue"] = issue
        }
        let large = try DeliveryNormalizer.normalize(source: "github", event: "issues", headers: [:], body: huge)
        #expect(large?.issue?.body.utf8.count == 4 << 20)
    }

    @Test("a Gitea comment is on a pull request when the stored headers say pull_request_comment")
    func giteaEventTypeFromStoredHeaders() throws {
        let body = try bytes("gitea/issue_comment.created.json")
        func normalized(_ headersJSON: String) throws -> TrackerEvent? {
            try DeliveryNormalizer.normalize(
                source: "gitea", event: "issue_comment", headersJSON: headersJSON, body: body)
        }
        #expect(try normalized(#"{"x-gitea-event-type":"pull_request_comment"}"#)?.pullRequest != nil)
        #expect(try normalized(#"{"x-forgejo-event-type":"pull_request_comment"}"#)?.pullRequest != nil)
        #expect(try normalized(#"{"x-gitea-event-type":"issue_comment"}"#)?.pullRequest == nil)
        #expect(try normalized("{}")?.pullRequest == nil)
        #expect(try normalized("not json")?.kind == .commentCreated, "unreadable headers count as none")
    }

    @Test("members no mapping reads (repository, organization) are not built, but their syntax is still checked")
    func unreadMembers() throws {
        // The fixture with its repository object replaced by raw text: a placeholder string, swapped after encoding.
        let template = String(
            decoding: try edit("github/issues.labeled.json") { $0["repository"] = "@@repository@@" }, as: UTF8.self)
        func replacingRepository(_ raw: String) -> String {
            template.replacingOccurrences(of: "\"@@repository@@\"", with: raw)
        }
        let labeled = try String(decoding: bytes("github/issues.labeled.json"), as: UTF8.self)
        let plain = try DeliveryNormalizer.normalize(
            source: "github", event: "issues", headers: [:], body: Array(labeled.utf8))
        let skipped = try DeliveryNormalizer.normalize(
            source: "github", event: "issues", headers: [:],
            body: Array(replacingRepository(#"{"x": [1, 2.5e3, true, null, {"y": "\u00e9\n"}]}"#).utf8))
        #expect(plain != nil && skipped == plain)
        for (bad, code) in [
            (#"{"x": "\u00zz"}"#, NormalizationError.Code.malformedJSON), (#"{"x": [1, 2,]}"#, .malformedJSON),
            ("{\"x\": \"tab\there\"}", .malformedJSON), (#"{"x" 1}"#, .malformedJSON), (#"{"x": 01}"#, .malformedJSON),
            (#"{"x": tru}"#, .malformedJSON), (#"{"x": "\q"}"#, .malformedJSON), (#"{"x": [}"#, .malformedJSON),
            (String(repeating: "[", count: 100) + String(repeating: "]", count: 100), .tooDeep),
        ] {
            #expect(refusal("github", "issues", replacingRepository(bad)) == code, "\(bad)")
        }
    }

    @Test("unknown event names yield nothing, whatever the body; an unknown source is an error")
    func unknownEvents() throws {
        for (source, event) in [
            ("github", "deployment"), ("github", ""), ("gitea", "wiki"), ("gitlab", "Job Hook"),
            ("gitlab", "Tag Push Hook"), ("plane", "cycle"), ("plane", "workitem.deleted"), ("github", "Issues"),
        ] {
            #expect(
                try DeliveryNormalizer.normalize(source: source, event: event, headers: [:], body: Array("{".utf8))
                    == nil)
            #expect(
                try DeliveryNormalizer.normalize(source: source, event: event, headers: [:], body: Array("{}".utf8))
                    == nil)
        }
        #expect(refusal("bitbucket", "issues", "{}") == .unknownSource)
    }

    @Test("actions Bosun does not use yield nothing")
    func unusedActions() throws {
        for (path, event, action) in [
            ("github/issues.opened.json", "issues", "edited"), ("github/issues.opened.json", "issues", "deleted"),
            ("github/issue_comment.created.json", "issue_comment", "edited"),
            ("github/pull_request.opened.json", "pull_request", "labeled"),
            ("github/check_run.completed.json", "check_run", "created"),
            ("gitea/issues.opened.json", "issues", "milestoned"),
        ] {
            let body = try edit(path) { $0["action"] = action }
            let source = path.hasPrefix("gitea") ? "gitea" : "github"
            #expect(try DeliveryNormalizer.normalize(source: source, event: event, headers: [:], body: body) == nil)
        }
    }

    // MARK: Helpers

    private func normalize(_ fixture: WebhookFixture) throws -> TrackerEvent? {
        var headers: [String: String] = [:]
        if let eventType = fixture.eventType { headers["x-gitea-event-type"] = eventType }
        let event = try DeliveryNormalizer.normalize(
            source: fixture.forge, event: fixture.event, headers: headers, body: fixture.body)
        // The gatekeeper's path: the headers as the inbox stores them, a JSON object.
        let stored = String(decoding: try JSONSerialization.data(withJSONObject: headers), as: UTF8.self)
        let fromStore = try DeliveryNormalizer.normalize(
            source: fixture.forge, event: fixture.event, headersJSON: stored, body: fixture.body)
        #expect(fromStore == event, "\(fixture.path) read from the store's headers")
        return event
    }

    private func fixture(_ path: String) throws -> WebhookFixture {
        try #require(WebhookFixture.all.first { $0.path == path }, "\(path)")
    }

    private func bytes(_ path: String) throws -> [UInt8] {
        Array(try #require(FileManager.default.contents(atPath: "\(fixtures)/webhooks/\(path)"), "\(path)"))
    }

    /// A fixture's body with a change applied (decoded and re-encoded by Foundation, not by the code under test).
    private func edit(_ path: String, _ change: (inout [String: Any]) -> Void) throws -> [UInt8] {
        var payload = try #require(try JSONSerialization.jsonObject(with: Data(try bytes(path))) as? [String: Any])
        change(&payload)
        return Array(try JSONSerialization.data(withJSONObject: payload))
    }

    private func plane(_ event: String, _ body: [UInt8]) throws -> TrackerEvent? {
        try DeliveryNormalizer.normalize(source: "plane", event: event, headers: [:], body: body)
    }

    private static func set(_ payload: inout [String: Any], _ object: String, _ key: String, _ value: Any?) {
        var inner = payload[object] as? [String: Any] ?? [:]
        inner[key] = value
        payload[object] = inner
    }

    private func failure(_ source: String, _ event: String, _ body: [UInt8]) -> NormalizationError? {
        do {
            _ = try DeliveryNormalizer.normalize(source: source, event: event, headers: [:], body: body)
            return nil
        } catch {
            return error
        }
    }

    private func refusal(_ source: String, _ event: String, _ body: String) -> NormalizationError.Code? {
        failure(source, event, Array(body.utf8))?.code
    }
}

/// The events the recorded payloads describe, written out from the payloads' own values.
private enum Expected {
    static let codertocatIssue = IssueInfo(
        number: "1", title: "Spelling error in the README file",
        body: "It looks like you accidently spelled 'commit' with two 't's.", labels: ["bug"], author: "Codertocat",
        url: "https://github.com/Codertocat/Hello-World/issues/1")
    static let codertocatPR = PullRequestInfo(
        number: "2", headBranch: "changes", headSHA: "ec26c3e57ca3a959ca5aad62de7213c562f8c821",
        url: "https://github.com/Codertocat/Hello-World/pull/2")
    static let giteaReviewPR = PullRequestInfo(
        number: "7", headBranch: "jony-patch-1", headSHA: "07977177c2cd7d46bad37b8472a9d50e7acb9d1f",
        url: "https://gitea.com/a_nice_user/hello_world_ci/pulls/7")
    static let giteaClosedPR = PullRequestInfo(
        number: "1", headBranch: "anbraten-patch-1", headSHA: "d555a5dd07f4d0148a58d4686ec381502ae6a2d4",
        url: "https://gitea.com/anbraten/test-repo/pulls/1")
    static let giteaIssue = IssueInfo(number: "1", title: "Problem", body: "Found a bug", labels: [], author: "unknwon")
    static let gitlabIssue = IssueInfo(
        number: "23", title: "New API: create/update/delete file",
        body: "Create new API for manipulations with repository", labels: ["bosun"], author: "",
        url: "http://example.com/diaspora/issues/23")
    static let gitlabMR = PullRequestInfo(
        number: "1", headBranch: "ms-viewport", headSHA: "da1560886d4f094c3e6c9ef40349f7d38b5d27d7",
        url: "http://example.com/diaspora/merge_requests/1")

    static let events: [String: TrackerEvent?] = [
        "github/issues.opened.json": TrackerEvent(kind: .issueOpened, actor: "Codertocat", issue: codertocatIssue),
        "github/issues.labeled.json": TrackerEvent(
            kind: .issueLabeled, actor: "Codertocat", issue: codertocatIssue, label: "bug"),
        "github/issues.assigned.json": TrackerEvent(
            kind: .issueAssigned, actor: "Codertocat", issue: codertocatIssue, assignee: "Codertocat"),
        "github/issues.reopened.json": TrackerEvent(
            kind: .issueReopened, actor: "Codertocat",
            issue: IssueInfo(
                number: "1", title: "Spelling error in the README file", body: "", labels: ["bug"],
                author: "Codertocat", url: "https://github.com/Codertocat/Hello-World/issues/1")),
        "github/issue_comment.created.json": TrackerEvent(
            kind: .commentCreated, actor: "Codertocat", issue: codertocatIssue,
            text: "You are totally right! I'll get this fixed right away."),
        "github/pull_request.opened.json": TrackerEvent(
            kind: .pullRequestOpened, actor: "Codertocat", pullRequest: codertocatPR),
        "github/pull_request.closed.json": TrackerEvent(
            kind: .pullRequestClosed, actor: "Codertocat", pullRequest: codertocatPR),
        "github/pull_request.synchronize.json": TrackerEvent(
            kind: .pullRequestSynchronized, actor: "Codertocat", pullRequest: codertocatPR),
        "github/pull_request.review_requested.json": nil,
        "github/pull_request_review.submitted.json": nil,
        "github/pull_request_review.dismissed.json": nil,
        "github/pull_request_review_comment.created.json": TrackerEvent(
            kind: .commentCreated, actor: "Codertocat", pullRequest: codertocatPR,
            text: "Maybe you should use more emoji on this line."),
        "github/push.json": nil,
        "github/push.new_branch.json": TrackerEvent(
            kind: .push, actor: "Codertocat", commitSHA: "6113728f27ae82c7b1a177c8d03f9e96e0adf246", branch: "master"),
        "github/check_suite.completed.json": nil,
        "github/check_run.completed.json": TrackerEvent(
            kind: .checkRunCompleted, actor: "Codertocat",
            pullRequest: PullRequestInfo(
                number: "2", headBranch: "changes", headSHA: "ec26c3e57ca3a959ca5aad62de7213c562f8c821"),
            commitSHA: "ec26c3e57ca3a959ca5aad62de7213c562f8c821", branch: "changes", conclusion: "success",
            checkName: "Octocoders-linter"),
        "github/status.json": TrackerEvent(
            kind: .commitStatus, actor: "Codertocat", commitSHA: "6113728f27ae82c7b1a177c8d03f9e96e0adf246",
            conclusion: "success", checkName: "default"),
        "github/ping.json": TrackerEvent(kind: .ping, actor: "Codertocat"),
        "github/workflow_run.completed.json": nil,
        "github/pull_request_review.submitted.approved.derived.json": TrackerEvent(
            kind: .reviewApproved, actor: "Codertocat", pullRequest: codertocatPR),
        "github/pull_request_review.submitted.changes_requested.derived.json": TrackerEvent(
            kind: .reviewChangesRequested, actor: "Codertocat", pullRequest: codertocatPR),
        "github/pull_request.closed.merged.derived.json": TrackerEvent(
            kind: .pullRequestMerged, actor: "Codertocat",
            pullRequest: PullRequestInfo(
                number: "2", headBranch: "changes", headSHA: "ec26c3e57ca3a959ca5aad62de7213c562f8c821",
                url: "https://github.com/Codertocat/Hello-World/pull/2", merged: true)),

        "gitea/push.json": TrackerEvent(
            kind: .push, actor: "gordon", commitSHA: "ef98532add3b2feb7a137426bba1248724367df5", branch: "main"),
        "gitea/pull_request.opened.json": TrackerEvent(
            kind: .pullRequestOpened, actor: "gordon",
            pullRequest: PullRequestInfo(
                number: "1", headBranch: "feature/changes", headSHA: "0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c",
                url: "http://gitea.golang.org/gordon/hello-world/pull/1")),
        "gitea/pull_request.synchronized.json": TrackerEvent(
            kind: .pullRequestSynchronized, actor: "test",
            pullRequest: PullRequestInfo(
                number: "2", headBranch: "test-patch-1", headSHA: "788ed8d02d3b7fcfcf6386dbcbca696aa1d4dc25",
                url: "http://127.0.0.1:3000/Test-CI/multi-line-secrets/pulls/2")),
        "gitea/pull_request.closed.json": TrackerEvent(
            kind: .pullRequestClosed, actor: "anbraten", pullRequest: giteaClosedPR),
        "gitea/pull_request.merged.json": TrackerEvent(
            kind: .pullRequestMerged, actor: "anbraten",
            pullRequest: PullRequestInfo(
                number: "1", headBranch: "anbraten-patch-1", headSHA: "d555a5dd07f4d0148a58d4686ec381502ae6a2d4",
                url: "https://gitea.com/anbraten/test-repo/pulls/1", merged: true)),
        "gitea/pull_request.review_requested.json": nil,
        "gitea/pull_request_review.approved.json": TrackerEvent(
            kind: .reviewApproved, actor: "a_nice_user", pullRequest: giteaReviewPR, text: "juhu thats a great idea"),
        "gitea/pull_request_review.rejected.json": TrackerEvent(
            kind: .reviewChangesRequested, actor: "a_nice_user", pullRequest: giteaReviewPR,
            text: "I decided otherwhies :O"),
        "gitea/pull_request_review.comment.json": nil,
        "gitea/issues.opened.json": TrackerEvent(kind: .issueOpened, actor: "unknwon", issue: giteaIssue),
        "gitea/issues.closed.json": TrackerEvent(
            kind: .issueClosed, actor: "unknwon",
            issue: IssueInfo(number: "1", title: "Problem", body: "Closed #1", labels: [], author: "unknwon")),
        "gitea/issue_comment.created.json": TrackerEvent(
            kind: .commentCreated, actor: "unknwon",
            issue: IssueInfo(number: "1", title: "Problem", body: "Got it", labels: [], author: "unknwon"),
            text: "Got it"),
        "gitea/issue_comment.created_on_pull_request.json": TrackerEvent(
            kind: .commentCreated, actor: "unknwon",
            issue: IssueInfo(number: "2", title: "huge improvements", body: "run gofmt", labels: [], author: "unknwon"),
            pullRequest: PullRequestInfo(number: "2", headBranch: ""), text: "run gofmt"),

        "plane/v2.workitem.updated.json": nil,  // only last_activity_at changed
        "plane/v2.workitem.comment.created.json": TrackerEvent(
            kind: .commentCreated, actor: "88fc36c8-73b0-4547-81c7-96b70f61835e",
            issue: IssueInfo(
                number: "088a83b9-a53f-4dda-b2bc-c860cf455997", title: "Webhook Test Work Item 2", body: "",
                labels: [], author: "", id: "088a83b9-a53f-4dda-b2bc-c860cf455997"),
            text: "Webhook Test Comment"),
        "plane/v2.workitem.link.created.json": nil,
        "plane/v1.project.update.json": nil,
        "plane/v1.issue.delete.json": nil,

        "gitlab/issue.open.json": TrackerEvent(kind: .issueOpened, actor: "root", issue: gitlabIssue),
        "gitlab/note.issue.json": TrackerEvent(
            kind: .commentCreated, actor: "root",
            issue: IssueInfo(number: "17", title: "test", body: "test", labels: [], author: "root"), text: ":approved:"),
        "gitlab/merge_request.open.json": TrackerEvent(kind: .pullRequestOpened, actor: "root", pullRequest: gitlabMR),
        "gitlab/merge_request.merge.json": TrackerEvent(
            kind: .pullRequestMerged, actor: "root",
            pullRequest: PullRequestInfo(
                number: "1", headBranch: "ms-viewport", headSHA: "da1560886d4f094c3e6c9ef40349f7d38b5d27d7",
                url: "http://example.com/diaspora/merge_requests/1", merged: true)),
        "gitlab/merge_request.approved.json": TrackerEvent(kind: .reviewApproved, actor: "root", pullRequest: gitlabMR),
        "gitlab/push.json": TrackerEvent(
            kind: .push, actor: "jsmith", commitSHA: "da1560886d4f094c3e6c9ef40349f7d38b5d27d7", branch: "master"),
        "gitlab/pipeline.success.json": TrackerEvent(
            kind: .commitStatus, actor: "root",
            pullRequest: PullRequestInfo(
                number: "1", headBranch: "test", url: "http://192.168.64.1:3005/gitlab-org/gitlab-test/merge_requests/1"
            ),
            commitSHA: "bcbb5ec396a2c0f828686f14fac9b80b780504f2", branch: "master", conclusion: "success",
            checkName: "pipeline"),
    ]

    static let gitlabAdditions: [String: TrackerEvent?] = [
        "gitlab/note.merge_request.json": TrackerEvent(
            kind: .commentCreated, actor: "root",
            pullRequest: PullRequestInfo(
                number: "1", headBranch: "master", headSHA: "562e173be03b8ff2efb05345d12df18815438a4b"),
            text: "This MR needs work."),
        "gitlab/issue.update.labels.json": TrackerEvent(
            kind: .issueLabeled, actor: "root",
            issue: IssueInfo(
                number: "23", title: "New API: create/update/delete file",
                body: "Create new API for manipulations with repository", labels: ["Platform"], author: "",
                url: "http://example.com/diaspora/issues/23"),
            label: "Platform"),
        "gitlab/issue.update.unlabeled.json": TrackerEvent(
            kind: .issueUnlabeled, actor: "root",
            issue: IssueInfo(
                number: "23", title: "New API: create/update/delete file",
                body: "Create new API for manipulations with repository", labels: [], author: "",
                url: "http://example.com/diaspora/issues/23"),
            label: "bosun"),
        "gitlab/issue.update.assignees.json": TrackerEvent(
            kind: .issueAssigned, actor: "root", issue: gitlabIssue, assignee: "user1"),
        "gitlab/issue.close.json": TrackerEvent(kind: .issueClosed, actor: "root", issue: gitlabIssue),
        "gitlab/merge_request.update.oldrev.json": TrackerEvent(
            kind: .pullRequestSynchronized, actor: "root", pullRequest: gitlabMR),
        "gitlab/merge_request.update.title.json": nil,
        "gitlab/merge_request.close.json": TrackerEvent(kind: .pullRequestClosed, actor: "root", pullRequest: gitlabMR),
        "gitlab/merge_request.unapproved.json": nil,
        "gitlab/pipeline.failed.json": TrackerEvent(
            kind: .commitStatus, actor: "root",
            pullRequest: PullRequestInfo(
                number: "1", headBranch: "test", url: "http://192.168.64.1:3005/gitlab-org/gitlab-test/merge_requests/1"
            ),
            commitSHA: "bcbb5ec396a2c0f828686f14fac9b80b780504f2", branch: "master", conclusion: "failure",
            checkName: "pipeline"),
        "gitlab/push.branch_deleted.json": nil,
    ]
}
