import Foundation
import Testing
import Workflow

@testable import Outbound

/// A fixed "now" for every test that reads the clock: 2023-11-14T22:13:20Z.
private let fixedNow: Int64 = 1_700_000_000_000
private let fixedClock: @Sendable () -> Int64 = { fixedNow }

private func client(
    _ forge: FakeForgeServer, _ kind: ForgeTarget.Kind, limits: HTTPClient.Limits = .init()
)
    -> ForgeClient
{
    let target: ForgeTarget
    switch kind {
    case .github: target = .github(baseURL: forge.apiBase, owner: "owner", repo: "repo", token: forge.token)
    case .gitea: target = .gitea(baseURL: forge.apiBase, owner: "owner", repo: "repo", token: forge.token)
    case .gitlab: target = .gitlab(baseURL: forge.apiBase, projectID: "group/project", token: forge.token)
    case .plane:
        target = .plane(
            baseURL: forge.apiBase, workspaceSlug: "acme", projectID: "4af68566-0000-4000-8000-00000000cafe",
            token: forge.token)
    }
    return ForgeClient(target: target, http: HTTPClient(limits: limits), clock: fixedClock)
}

private func perform(
    _ client: ForgeClient, _ effect: ForgeEffect, key: String = "outbox-1", attempt: Int = 1
) async -> AttemptResult {
    await blocking { client.perform(effect, idempotencyKey: key, attempt: attempt) }
}

private func isDone(_ result: AttemptResult) -> Bool {
    if case .done = result { return true }
    return false
}

private func detail(_ result: AttemptResult) -> [String: String]? {
    if case .done(let detail) = result { return detail }
    return nil
}

private func reason(_ result: AttemptResult) -> String? {
    switch result {
    case .done: return nil
    case .retry(_, let reason), .failed(let reason): return reason
    }
}

private let planeItem = "9b1c2d3e-0000-4000-8000-000000000042"

@Suite("Outbound")
struct OutboundTests {

    // MARK: Pure classification

    @Test func successStatusesAreSuccess() {
        for status in [200, 201, 202, 204] {
            #expect(
                ResponseClassifier.verdict(status: status, headers: [:], body: [], nowMilliseconds: fixedNow)
                    == .success)
        }
    }

    @Test func clientErrorsFailWithTheForgesMessage() {
        let notFound = ResponseClassifier.verdict(
            status: 404, headers: [:], body: Array(#"{"message":"Not Found"}"#.utf8), nowMilliseconds: fixedNow)
        #expect(notFound == .failed(reason: "HTTP 404: Not Found"))
        let unauthorized = ResponseClassifier.verdict(
            status: 401, headers: [:], body: Array(#"{"message":"Bad credentials"}"#.utf8), nowMilliseconds: fixedNow)
        #expect(unauthorized == .failed(reason: "unauthorized (401), check the token: Bad credentials"))
        let validation = ResponseClassifier.verdict(
            status: 422, headers: [:],
            body: Array(
                #"{"message":"Validation Failed","errors":[{"code":"custom","message":"No commits between main and x"}]}"#
                    .utf8),
            nowMilliseconds: fixedNow)
        #expect(validation == .failed(reason: "HTTP 422: Validation Failed — No commits between main and x"))
        let redirect = ResponseClassifier.verdict(
            status: 301, headers: ["location": "https://elsewhere/"], body: [], nowMilliseconds: fixedNow)
        #expect(redirect == .failed(reason: "unexpected redirect (301); check the API base URL"))
        let plainForbidden = ResponseClassifier.verdict(
            status: 403, headers: ["x-ratelimit-remaining": "12"],
            body: Array(#"{"message":"Resource not accessible"}"#.utf8),
            nowMilliseconds: fixedNow)
        #expect(plainForbidden == .failed(reason: "HTTP 403: Resource not accessible"))
    }

    @Test func rateLimitsAndServerErrorsRetry() {
        func verdict(_ status: Int, _ headers: [String: String], _ body: String = "") -> ResponseVerdict {
            ResponseClassifier.verdict(
                status: status, headers: headers, body: Array(body.utf8), nowMilliseconds: fixedNow)
        }
        let resetIn30 = String(fixedNow / 1000 + 30)
        #expect(
            verdict(
                403, ["x-ratelimit-remaining": "0", "x-ratelimit-reset": resetIn30],
                #"{"message":"API rate limit exceeded"}"#)
                == .retry(afterMilliseconds: 30_000, reason: "rate limited (403): API rate limit exceeded"))
        #expect(verdict(429, [:]) == .retry(afterMilliseconds: nil, reason: "rate limited (429)"))
        #expect(verdict(429, ["retry-after": "7"]) == .retry(afterMilliseconds: 7_000, reason: "rate limited (429)"))
        // Both hints: the later one wins.
        #expect(
            verdict(429, ["retry-after": "5", "ratelimit-remaining": "0", "ratelimit-reset": resetIn30])
                == .retry(afterMilliseconds: 30_000, reason: "rate limited (429)"))
        #expect(verdict(503, ["retry-after": "2"]) == .retry(afterMilliseconds: 2_000, reason: "server error (503)"))
        #expect(verdict(500, [:], "boom") == .retry(afterMilliseconds: nil, reason: "server error (500): boom"))
        #expect(verdict(502, [:]) == .retry(afterMilliseconds: nil, reason: "server error (502)"))
        #expect(verdict(408, [:]) == .retry(afterMilliseconds: nil, reason: "server timed out the request (408)"))
        #expect(
            verdict(403, ["retry-after": "61"]) == .retry(afterMilliseconds: 61_000, reason: "rate limited (403)"))
        #expect(
            verdict(403, [:], #"{"message":"You have exceeded a secondary rate limit. Please wait."}"#)
                == .retry(
                    afterMilliseconds: 60_000,
                    reason: "rate limited (403): You have exceeded a secondary rate limit. Please wait."))
        // A reset in the past means "now"; a small reset number is a delta in seconds.
        #expect(
            verdict(429, ["x-ratelimit-remaining": "0", "x-ratelimit-reset": String(fixedNow / 1000 - 100)])
                == .retry(afterMilliseconds: 0, reason: "rate limited (429)"))
        #expect(
            verdict(429, ["x-ratelimit-remaining": "0", "x-ratelimit-reset": "12"])
                == .retry(afterMilliseconds: 12_000, reason: "rate limited (429)"))
        // Remaining not exhausted: the reset is no hint.
        #expect(
            verdict(429, ["x-ratelimit-remaining": "3", "x-ratelimit-reset": resetIn30])
                == .retry(afterMilliseconds: nil, reason: "rate limited (429)"))
        // Telegram's retry_after in the body.
        let telegram =
            #"{"ok":false,"error_code":429,"description":"Too Many Requests: retry after 5","parameters":{"retry_after":5}}"#
        #expect(
            verdict(429, [:], telegram)
                == .retry(afterMilliseconds: 5_000, reason: "rate limited (429): Too Many Requests: retry after 5"))
    }

    @Test func retryAfterAcceptsSecondsAndEveryHTTPDateForm() {
        // 784111777 is Sun, 06 Nov 1994 08:49:37 GMT (RFC 9110's example).
        let then: Int64 = 784_111_777
        #expect(HTTPDate.parse("Sun, 06 Nov 1994 08:49:37 GMT") == then)
        #expect(HTTPDate.parse("Sunday, 06-Nov-94 08:49:37 GMT") == then)
        #expect(HTTPDate.parse("Sun Nov  6 08:49:37 1994") == then)
        #expect(HTTPDate.parse("yesterday") == nil)
        #expect(HTTPDate.parse("Sun, 06 Nov 1994 25:49:37 GMT") == nil)
        #expect(ResponseClassifier.retryAfterMilliseconds(" 120 ", nowMilliseconds: fixedNow) == 120_000)
        #expect(ResponseClassifier.retryAfterMilliseconds("-1", nowMilliseconds: fixedNow) == nil)
        #expect(ResponseClassifier.retryAfterMilliseconds("", nowMilliseconds: fixedNow) == nil)
        // 2023-11-14T22:13:30Z is ten seconds after fixedNow.
        #expect(
            ResponseClassifier.retryAfterMilliseconds("Tue, 14 Nov 2023 22:13:30 GMT", nowMilliseconds: fixedNow)
                == 10_000)
        #expect(
            ResponseClassifier.retryAfterMilliseconds("Sun, 06 Nov 1994 08:49:37 GMT", nowMilliseconds: fixedNow) == 0)
        let verdict = ResponseClassifier.verdict(
            status: 503, headers: ["retry-after": "Tue, 14 Nov 2023 22:13:30 GMT"], body: [], nowMilliseconds: fixedNow)
        #expect(verdict == .retry(afterMilliseconds: 10_000, reason: "server error (503)"))
    }

    @Test func transportErrorsRetryExceptPermanentOnes() {
        #expect(
            ResponseClassifier.verdict(for: OutboundError(.timeout, "request timed out (limit 300 ms)"))
                == .retry(afterMilliseconds: nil, reason: "request timed out (limit 300 ms)"))
        #expect(
            ResponseClassifier.verdict(for: OutboundError(.network, "connection failed", cause: "refused"))
                == .retry(afterMilliseconds: nil, reason: "connection failed (refused)"))
        #expect(
            ResponseClassifier.verdict(for: OutboundError(.tls, "TLS failed"))
                == .retry(afterMilliseconds: nil, reason: "TLS failed"))
        #expect(
            ResponseClassifier.verdict(for: OutboundError(.responseTooLarge, "too big"))
                == .failed(reason: "too big"))
        #expect(ResponseClassifier.verdict(for: OutboundError(.invalidRequest, "bad")) == .failed(reason: "bad"))
    }

    @Test func forgeMessagesAreFlattenedCleanedAndBounded() {
        #expect(
            ResponseClassifier.forgeMessage(Array(#"{"message":["Another open merge request","!1"]}"#.utf8))
                == "Another open merge request; !1")
        #expect(
            ResponseClassifier.forgeMessage(Array(#"{"message":{"name":["has already been taken"]}}"#.utf8))
                == "name has already been taken")
        #expect(ResponseClassifier.forgeMessage(Array(#"{"detail":"Not found."}"#.utf8)) == "Not found.")
        #expect(ResponseClassifier.forgeMessage(Array("invalid_payload\n".utf8)) == "invalid_payload")
        #expect(ResponseClassifier.forgeMessage(Array("bad\u{1B}[31mred\nline".utf8)) == "bad [31mred line")
        #expect(ResponseClassifier.forgeMessage([]) == nil)
        let long = ResponseClassifier.forgeMessage(Array(String(repeating: "x", count: 1000).utf8))
        #expect(long?.count == 301)
    }

    @Test func pathSegmentsAreEncodedSoTheyCannotChangeThePath() {
        #expect(URLEncoding.segment("../../etc/passwd") == "..%2F..%2Fetc%2Fpasswd")
        #expect(URLEncoding.segment("..") == "%2E%2E")
        #expect(URLEncoding.segment(".") == "%2E")
        #expect(URLEncoding.segment("bosun:development") == "bosun%3Adevelopment")
        #expect(URLEncoding.segment("a \"b\"?#%") == "a%20%22b%22%3F%23%25")
        #expect(URLEncoding.segment("é✓") == "%C3%A9%E2%9C%93")
        #expect(URLEncoding.refPath("feature/x y") == "feature/x%20y")
        #expect(URLEncoding.query([("head", "owner:feat/x&y=1")]) == "head=owner%3Afeat%2Fx%26y%3D1")
        #expect(URLEncoding.decode("..%2F%C3%A9%zz") == "../é%zz")
    }

    @Test func keysAndBranchNamesAreChecked() {
        #expect(IdempotencyMarker.isValidKey("task-12:comment/3"))
        #expect(!IdempotencyMarker.isValidKey(""))
        #expect(!IdempotencyMarker.isValidKey("a--b"))
        #expect(!IdempotencyMarker.isValidKey("a -->"))
        #expect(!IdempotencyMarker.isValidKey(String(repeating: "k", count: 201)))
        #expect(IdempotencyMarker.comment(key: "k1") == "<!-- bosun:key=k1 -->")
        #expect(NameRules.isValidBranch("bosun/12-fix-login"))
        for bad in ["", "-x", "a..b", "a b", "a~1", "x.lock", "a//b", "/a", "a/", "a/.hidden", "a@{1}", "x\ny", "a:b"] {
            #expect(!NameRules.isValidBranch(bad), "\(bad)")
        }
        #expect(NameRules.hexColor("#A1B2C3") == "a1b2c3")
        #expect(NameRules.hexColor("zzzzzz") == nil)
        #expect(NameRules.isNumber("42") && !NameRules.isNumber("4 2") && !NameRules.isNumber("-1"))
    }

    @Test func effectsRoundTripThroughJSON() throws {
        let effects: [ForgeEffect] = [
            .ensureLabel(name: "bosun:review", color: "00ff00"), .addLabels(issue: "1", labels: ["a", "b"]),
            .removeLabel(issue: "1", label: "a"), .comment(issue: "2", body: "hi\n\"there\""),
            .createBranch(name: "bosun/2-x", fromBranch: "main"),
            .openPullRequest(title: "t", body: "b", head: "bosun/2-x", base: "main"), .mergePullRequest(number: "3"),
            .closeIssue(issue: "2"), .planeSetState(issue: planeItem, stateName: "Done"),
            .planeComment(issue: planeItem, body: "x"),
        ]
        let data = try JSONEncoder().encode(effects)
        let decoded = try JSONDecoder().decode([ForgeEffect].self, from: data)
        #expect(decoded == effects)
    }

    @Test func retryDelayUsesTheBackoffAndHonoursTheServersHint() {
        let backoff = Backoff(baseMilliseconds: 1_000, maxMilliseconds: 60_000)
        #expect(
            AttemptResult.retry(afterMilliseconds: nil, reason: "x").retryDelayMilliseconds(
                backoff: backoff, failures: 3, jitter: 1) == 4_000)
        #expect(
            AttemptResult.retry(afterMilliseconds: 30_000, reason: "x").retryDelayMilliseconds(
                backoff: backoff, failures: 1, jitter: 0) == 30_000)
        #expect(AttemptResult.done(detail: [:]).retryDelayMilliseconds(backoff: backoff, failures: 1, jitter: 0) == nil)
        #expect(
            AttemptResult.failed(reason: "x").retryDelayMilliseconds(backoff: backoff, failures: 1, jitter: 0) == nil)
    }

    // MARK: Host breaker

    @Test func hostBreakerOpensAfterConsecutiveFailuresAndBacksOff() {
        var breaker = HostBreaker(threshold: 3, coolDown: Backoff(baseMilliseconds: 10_000, maxMilliseconds: 25_000))
        var now: Int64 = 0
        breaker.record(success: false, now: now)
        breaker.record(success: false, now: now)
        #expect(breaker.allow(now: now))
        breaker.record(success: true, now: now)
        #expect(breaker.consecutiveFailures == 0)
        for _ in 0..<3 { breaker.record(success: false, now: now) }
        #expect(!breaker.allow(now: now))
        #expect(breaker.state(now: 9_999) == .open(untilMilliseconds: 10_000))
        #expect(!breaker.allow(now: 9_999))
        #expect(breaker.allow(now: 10_000))
        #expect(breaker.state(now: 10_000) == .halfOpen)
        // The probe fails: open again, twice as long.
        now = 10_000
        breaker.record(.retry(afterMilliseconds: nil, reason: "503"), now: now)
        #expect(breaker.state(now: now) == .open(untilMilliseconds: 30_000))
        // And again: capped at the maximum.
        now = 30_000
        breaker.record(success: false, now: now)
        #expect(breaker.state(now: now) == .open(untilMilliseconds: 55_000))
        // A permanent failure is a healthy host: it closes the breaker.
        breaker.record(.failed(reason: "422"), now: 55_000)
        #expect(breaker.state(now: 55_000) == .closed)
        #expect(breaker.openings == 0)
    }

    @Test func targetsKnowTheirHostAndHideTheirToken() {
        let target = ForgeTarget.gitlab(
            baseURL: "https://user@GitLab.Example:8443/api/v4/", projectID: "7", token: "glpat-secret")
        #expect(target.baseURL == "https://user@GitLab.Example:8443/api/v4")
        #expect(target.host == "gitlab.example:8443")
        #expect(!target.description.contains("glpat-secret"))
    }

    // MARK: HTTP over libcurl

    @Test func httpClientReturnsStatusLowercasedHeadersAndBody() async throws {
        try await FakeForgeServer.with(.github) { forge in
            forge.inject(
                FakeFault(
                    method: "GET", pathSuffix: "/probe",
                    reply: FakeReply(
                        status: 418, headers: [("X-Thing", "One"), ("Content-Type", "text/plain")],
                        body: Array("teapot ✓".utf8))))
            let url = forge.origin + "/probe"
            let response = try await blocking { () -> Result<Outbound.HTTPResponse, OutboundError> in
                Result { () throws(OutboundError) in
                    try HTTPClient().send(HTTPRequest(method: "GET", url: url, headers: [("X-Custom", "v")]))
                }
            }.get()
            #expect(response.status == 418)
            #expect(response.headers["x-thing"] == "One")
            #expect(response.text == "teapot ✓")
            #expect(forge.requests.first?.headers["x-custom"] == "v")
        }
    }

    @Test func httpClientRefusesHeaderInjectionAndOversizedBodies() async throws {
        try await FakeForgeServer.with(.github) { forge in
            let url = forge.origin + "/big"
            let injected = await blocking {
                Result { () throws(OutboundError) in
                    try HTTPClient().send(HTTPRequest(method: "GET", url: url, headers: [("X-A", "v\r\nX-Evil: 1")]))
                }
            }
            #expect(throws: OutboundError.self) { try injected.get() }
            #expect(forge.requests.isEmpty)

            forge.inject(
                FakeFault(
                    method: "GET", pathSuffix: "/big",
                    reply: FakeReply(status: 200, body: [UInt8](repeating: 65, count: 300_000))))
            let limited = HTTPClient(limits: .init(maxResponseBytes: 100_000))
            let tooBig = await blocking {
                Result { () throws(OutboundError) in try limited.send(HTTPRequest(method: "GET", url: url)) }
            }
            guard case .failure(let error) = tooBig else {
                Issue.record("expected the oversized body to be refused")
                return
            }
            #expect(error.code == .responseTooLarge)
            #expect(error.message == "response body exceeds 100000 bytes")
        }
    }

    @Test func aServerThatNeverAnswersIsATimeoutWithinTheLimit() async throws {
        let silent = try SilentListener()
        let target = ForgeTarget.github(
            baseURL: "http://127.0.0.1:\(silent.port)", owner: "owner", repo: "repo", token: "t")
        let forge = ForgeClient(
            target: target,
            http: HTTPClient(limits: .init(connectTimeoutMilliseconds: 300, totalTimeoutMilliseconds: 300)),
            clock: fixedClock)
        let started = ContinuousClock.now
        let result = await blocking { forge.perform(.closeIssue(issue: "1"), idempotencyKey: "k", attempt: 1) }
        let elapsed = ContinuousClock.now - started
        guard case .retry(nil, let reason) = result else {
            Issue.record("expected a retry, got \(result)")
            return
        }
        #expect(reason.contains("timed out"))
        #expect(reason.hasPrefix("PATCH /repos/owner/repo/issues/1: request timed out (limit 300 ms)"))
        // The reason names the 300 ms limit; the wall clock only has to show the request did not wait for the
        // server (which never answers), with room for a loaded machine.
        #expect(elapsed < .seconds(20))
        withExtendedLifetime(silent) {}
    }

    @Test func aRefusedConnectionIsATransientFailure() async throws {
        let port: Int
        do {
            let listener = try SilentListener()
            port = listener.port
        }
        let forge = ForgeClient(
            target: .gitea(baseURL: "http://127.0.0.1:\(port)/api/v1", owner: "o", repo: "r", token: "t"),
            http: HTTPClient(limits: .init(connectTimeoutMilliseconds: 500, totalTimeoutMilliseconds: 1_000)),
            clock: fixedClock)
        let result = await blocking { forge.perform(.closeIssue(issue: "1"), idempotencyKey: "k", attempt: 1) }
        guard case .retry(nil, let reason) = result else {
            Issue.record("expected a retry, got \(result)")
            return
        }
        #expect(reason.contains("connection failed"))
        #expect(result.isHostFailure)
    }

    // MARK: GitHub

    @Test func gitHubEffectsUseTheDocumentedCalls() async throws {
        try await FakeForgeServer.with(.github) { forge in
            let github = client(forge, .github)
            #expect(
                await perform(github, .ensureLabel(name: "bosun:review", color: "#1D76DB"))
                    == .done(detail: ["label": "bosun:review"]))
            #expect(
                await perform(github, .ensureLabel(name: "bosun:review", color: "1d76db"))
                    == .done(detail: ["label": "bosun:review", "existed": "true"]))
            #expect(isDone(await perform(github, .addLabels(issue: "7", labels: ["bosun:review", "dev.senior"]))))
            #expect(await perform(github, .removeLabel(issue: "7", label: "dev.senior")) == .done(detail: [:]))
            #expect(
                await perform(github, .removeLabel(issue: "7", label: "dev.senior"))
                    == .done(detail: ["absent": "true"]))
            let comment = await perform(github, .comment(issue: "7", body: "Analysis done."), key: "task-7:c1")
            #expect(detail(comment)?["url"]?.hasPrefix(forge.origin + "/owner/repo/issues/7#issuecomment-") == true)
            #expect(
                await perform(github, .createBranch(name: "bosun/7-fix", fromBranch: "main"))
                    == .done(detail: ["branch": "bosun/7-fix", "sha": "0a1b2c3d4e5f60718293a4b5c6d7e8f901234567"]))
            #expect(
                await perform(github, .createBranch(name: "bosun/7-fix", fromBranch: "main"))
                    == .done(detail: ["branch": "bosun/7-fix", "existed": "true"]))
            let opened = await perform(
                github, .openPullRequest(title: "Fix #7", body: "Closes #7", head: "bosun/7-fix", base: "main"))
            #expect(opened == .done(detail: ["number": "1", "url": forge.origin + "/owner/repo/pull/1"]))
            let again = await perform(
                github, .openPullRequest(title: "Fix #7", body: "Closes #7", head: "bosun/7-fix", base: "main"))
            #expect(
                again == .done(detail: ["number": "1", "url": forge.origin + "/owner/repo/pull/1", "existed": "true"]))
            #expect(
                await perform(github, .mergePullRequest(number: "1"))
                    == .done(detail: ["number": "1", "sha": "9f8e7d6c"]))
            #expect(
                await perform(github, .mergePullRequest(number: "1"))
                    == .done(detail: ["number": "1", "existed": "true"]))
            #expect(await perform(github, .closeIssue(issue: "7")) == .done(detail: [:]))

            let requests = forge.requests
            #expect(
                requests.map(\.line) == [
                    "POST /repos/owner/repo/labels", "POST /repos/owner/repo/labels",
                    "POST /repos/owner/repo/issues/7/labels",
                    "DELETE /repos/owner/repo/issues/7/labels/dev.senior",
                    "DELETE /repos/owner/repo/issues/7/labels/dev.senior",
                    "POST /repos/owner/repo/issues/7/comments",
                    "GET /repos/owner/repo/git/ref/heads/main", "POST /repos/owner/repo/git/refs",
                    "GET /repos/owner/repo/git/ref/heads/main", "POST /repos/owner/repo/git/refs",
                    "GET /repos/owner/repo/pulls", "POST /repos/owner/repo/pulls", "GET /repos/owner/repo/pulls",
                    "PUT /repos/owner/repo/pulls/1/merge", "PUT /repos/owner/repo/pulls/1/merge",
                    "GET /repos/owner/repo/pulls/1/merge", "PATCH /repos/owner/repo/issues/7",
                ])
            for request in requests {
                #expect(request.headers["authorization"] == "Bearer \(forge.token)")
                #expect(request.headers["accept"] == "application/vnd.github+json")
                #expect(request.headers["x-github-api-version"] == "2022-11-28")
                #expect(request.headers["user-agent"] == "bosun")
                if !request.body.isEmpty { #expect(request.headers["content-type"] == "application/json") }
            }
            #expect(requests[0].json == .object(["name": .string("bosun:review"), "color": .string("1d76db")]))
            #expect(requests[2].json == .object(["labels": .array([.string("bosun:review"), .string("dev.senior")])]))
            #expect(
                requests[5].json?["body"]?.stringValue == "Analysis done.\n\n<!-- bosun:key=task-7:c1 -->")
            #expect(
                requests[7].json
                    == .object([
                        "ref": .string("refs/heads/bosun/7-fix"),
                        "sha": .string("0a1b2c3d4e5f60718293a4b5c6d7e8f901234567"),
                    ]))
            #expect(requests[10].query == ["state": "open", "head": "owner:bosun/7-fix", "per_page": "100"])
            #expect(
                requests[11].json
                    == .object([
                        "title": .string("Fix #7"), "body": .string("Closes #7"), "head": .string("bosun/7-fix"),
                        "base": .string("main"),
                    ]))
            #expect(requests[16].json == .object(["state": .string("closed")]))
            #expect(forge.model.issueStates["7"] == "closed")
            #expect(forge.model.issueLabels["7"] == ["bosun:review"])
        }
    }

    @Test func gitHubRateLimitWaitsUntilTheReset() async throws {
        try await FakeForgeServer.with(.github) { forge in
            forge.inject(
                FakeFault(
                    method: "POST", pathSuffix: "/comments",
                    reply: .message(
                        403, "API rate limit exceeded for user ID 1.",
                        headers: [
                            ("X-RateLimit-Limit", "5000"), ("X-RateLimit-Remaining", "0"),
                            ("X-RateLimit-Reset", String(fixedNow / 1000 + 42)), ("X-RateLimit-Resource", "core"),
                        ])))
            let result = await perform(client(forge, .github), .comment(issue: "3", body: "hello"))
            #expect(
                result
                    == .retry(
                        afterMilliseconds: 42_000,
                        reason:
                            "POST /repos/owner/repo/issues/3/comments: rate limited (403): API rate limit exceeded for user ID 1."
                    ))
            #expect(forge.model.comments["3"] == nil)
        }
    }

    @Test func serviceUnavailableWithRetryAfterRetriesAfterIt() async throws {
        try await FakeForgeServer.with(.gitlab) { forge in
            forge.inject(
                FakeFault(
                    method: "PUT", pathSuffix: "/issues/5",
                    reply: .message(503, "maintenance", headers: [("Retry-After", "2")])))
            let gitlab = client(forge, .gitlab)
            let first = await perform(gitlab, .closeIssue(issue: "5"))
            #expect(
                first
                    == .retry(
                        afterMilliseconds: 2_000,
                        reason: "PUT /projects/group%2Fproject/issues/5: server error (503): maintenance"))
            #expect(await perform(gitlab, .closeIssue(issue: "5"), attempt: 2) == .done(detail: [:]))
            #expect(forge.model.issueStates["5"] == "closed")
        }
    }

    @Test(arguments: [ForgeTarget.Kind.github, .gitea, .gitlab, .plane])
    func aCommentWhoseAnswerWasLostIsNotPostedTwice(kind: ForgeTarget.Kind) async throws {
        let fakeKind: FakeForgeServer.Kind =
            switch kind {
            case .github: .github
            case .gitea: .gitea
            case .gitlab: .gitlab
            case .plane: .plane
            }
        try await FakeForgeServer.with(fakeKind) { forge in
            let issue = kind == .plane ? planeItem : "12"
            if kind == .github {
                // 150 older comments: GitHub lists oldest first, so the marker is on the last page.
                forge.edit { model in
                    model.comments[issue] = (0..<150).map {
                        .object(["id": .integer(Int64($0)), "body": .string("old \($0)")])
                    }
                }
            }
            forge.inject(
                FakeFault(
                    method: "POST", pathSuffix: "/comments/", reply: .message(502, "Bad Gateway"), applyFirst: true))
            forge.inject(
                FakeFault(
                    method: "POST", pathSuffix: "/comments", reply: .message(502, "Bad Gateway"), applyFirst: true))
            forge.inject(
                FakeFault(method: "POST", pathSuffix: "/notes", reply: .message(502, "Bad Gateway"), applyFirst: true))
            let forgeClient = client(forge, kind)
            let effect = ForgeEffect.comment(issue: issue, body: "Review: APPROVED")
            let first = await perform(forgeClient, effect, key: "task-12:review", attempt: 1)
            guard case .retry(nil, let reason) = first else {
                Issue.record("expected retry, got \(first)")
                return
            }
            #expect(reason.contains("server error (502)"))
            let second = await perform(forgeClient, effect, key: "task-12:review", attempt: 2)
            #expect(detail(second)?["existed"] == "true")
            let third = await perform(forgeClient, effect, key: "task-12:review", attempt: 3)
            #expect(detail(third)?["existed"] == "true")
            let marker = IdempotencyMarker.comment(key: "task-12:review")
            let stored = forge.model.comments[issue, default: []].filter {
                ($0["body"]?.stringValue ?? $0["comment_html"]?.stringValue ?? "").contains(marker)
            }
            #expect(stored.count == 1)
            #expect(forge.requests.filter { $0.method == "POST" }.count == 1)
            if kind == .github {
                // Each retry read the first page and then the last one the Link header named.
                #expect(forge.requests.filter { $0.method == "GET" }.map { $0.query["page"] } == [nil, "2", nil, "2"])
            }
        }
    }

    @Test func hostileNamesAndBodiesAreEncodedNotInterpreted() async throws {
        try await FakeForgeServer.with(.github) { forge in
            let github = client(forge, .github)
            let label = "../../admin \"x\"\nnew✓"
            forge.edit { $0.issueLabels["9"] = [label] }
            #expect(await perform(github, .removeLabel(issue: "9", label: label)) == .done(detail: [:]))
            let delete = try #require(forge.requests.last)
            #expect(delete.rawPath == "/repos/owner/repo/issues/9/labels/..%2F..%2Fadmin%20%22x%22%0Anew%E2%9C%93")
            #expect(delete.segments.last == label)
            #expect(forge.model.issueLabels["9"] == [])

            #expect(await perform(github, .removeLabel(issue: "9", label: "..")) == .done(detail: ["absent": "true"]))
            #expect(forge.requests.last?.rawPath == "/repos/owner/repo/issues/9/labels/%2E%2E")

            let body = "He said \"hi\"\n\t</p><script>alert(1)</script> — ✓ \\ `--` <!-- x -->"
            #expect(isDone(await perform(github, .comment(issue: "9", body: body), key: "k-9")))
            #expect(
                forge.model.comments["9"]?.last?["body"]?.stringValue
                    == IdempotencyMarker.appended(to: body, key: "k-9"))

            // Refused before any request: a bad branch name, a non-numeric issue, a bad key.
            let before = forge.requests.count
            #expect(
                await perform(github, .createBranch(name: "x..y", fromBranch: "main"))
                    == .failed(reason: "not a valid branch name: \"x..y\""))
            #expect(
                await perform(github, .closeIssue(issue: "1/../../x"))
                    == .failed(reason: "issue must be a positive number, got \"1/../../x\""))
            #expect(!isDone(await perform(github, .closeIssue(issue: "1"), key: "bad key")))
            #expect(forge.requests.count == before)
        }
    }

    @Test func wrongTokenFailsWithoutLeakingIt() async throws {
        try await FakeForgeServer.with(.github) { forge in
            let wrong = ForgeClient(
                target: .github(baseURL: forge.apiBase, owner: "owner", repo: "repo", token: "ghp_wrongtoken"),
                http: HTTPClient(), clock: fixedClock)
            let result = await perform(wrong, .closeIssue(issue: "1"))
            #expect(
                result
                    == .failed(
                        reason: "PATCH /repos/owner/repo/issues/1: unauthorized (401), check the token: Bad credentials"
                    ))
            #expect(reason(result)?.contains("ghp_wrongtoken") == false)
        }
    }

    // MARK: Gitea

    @Test func giteaEffectsResolveLabelIDsAndUseTheDocumentedCalls() async throws {
        try await FakeForgeServer.with(.gitea) { forge in
            let gitea = client(forge, .gitea)
            let created = await perform(gitea, .ensureLabel(name: "bosun:dev", color: "00AA00"))
            let labelID = try #require(detail(created)?["label_id"])
            #expect(
                await perform(gitea, .ensureLabel(name: "bosun:dev", color: "00aa00"))
                    == .done(detail: ["label": "bosun:dev", "label_id": labelID, "existed": "true"]))
            #expect(
                await perform(gitea, .addLabels(issue: "4", labels: ["bosun:dev", "nope"]))
                    == .failed(reason: "labels not defined in owner/repo: \"nope\"; ensure them first"))
            #expect(await perform(gitea, .addLabels(issue: "4", labels: ["bosun:dev"])) == .done(detail: [:]))
            #expect(await perform(gitea, .removeLabel(issue: "4", label: "bosun:dev")) == .done(detail: [:]))
            #expect(
                await perform(gitea, .removeLabel(issue: "4", label: "never-defined"))
                    == .done(detail: ["absent": "true"]))
            #expect(isDone(await perform(gitea, .comment(issue: "4", body: "ok"), key: "g-1")))
            #expect(
                await perform(gitea, .createBranch(name: "bosun/4-x", fromBranch: "main"))
                    == .done(detail: ["branch": "bosun/4-x"]))
            #expect(
                await perform(gitea, .createBranch(name: "bosun/4-x", fromBranch: "main"))
                    == .done(detail: ["branch": "bosun/4-x", "existed": "true"]))
            #expect(
                await perform(gitea, .createBranch(name: "bosun/4-y", fromBranch: "gone"))
                    == .failed(reason: "POST /repos/owner/repo/branches: base branch \"gone\" not found"))
            #expect(
                await perform(gitea, .openPullRequest(title: "T", body: "B", head: "bosun/4-x", base: "main"))
                    == .done(detail: ["number": "1", "url": forge.origin + "/owner/repo/pull/1"]))
            #expect(
                detail(await perform(gitea, .openPullRequest(title: "T", body: "B", head: "bosun/4-x", base: "main")))?[
                    "existed"] == "true")
            #expect(await perform(gitea, .mergePullRequest(number: "1")) == .done(detail: ["number": "1"]))
            #expect(
                await perform(gitea, .mergePullRequest(number: "1"), attempt: 2)
                    == .done(detail: ["number": "1", "existed": "true"]))
            #expect(await perform(gitea, .closeIssue(issue: "4")) == .done(detail: [:]))
            #expect(
                await perform(gitea, .planeSetState(issue: "4", stateName: "Done"))
                    == .failed(reason: "plane_set_state is not supported on gitea"))

            let requests = forge.requests
            #expect(
                requests.map(\.line) == [
                    "GET /api/v1/repos/owner/repo/labels", "POST /api/v1/repos/owner/repo/labels",
                    "GET /api/v1/repos/owner/repo/labels",
                    "GET /api/v1/repos/owner/repo/labels",
                    "GET /api/v1/repos/owner/repo/labels", "POST /api/v1/repos/owner/repo/issues/4/labels",
                    "GET /api/v1/repos/owner/repo/labels", "DELETE /api/v1/repos/owner/repo/issues/4/labels/\(labelID)",
                    "GET /api/v1/repos/owner/repo/labels",
                    "POST /api/v1/repos/owner/repo/issues/4/comments",
                    "POST /api/v1/repos/owner/repo/branches", "POST /api/v1/repos/owner/repo/branches",
                    "POST /api/v1/repos/owner/repo/branches",
                    "GET /api/v1/repos/owner/repo/pulls", "POST /api/v1/repos/owner/repo/pulls",
                    "GET /api/v1/repos/owner/repo/pulls",
                    "POST /api/v1/repos/owner/repo/pulls/1/merge", "GET /api/v1/repos/owner/repo/pulls/1/merge",
                    "PATCH /api/v1/repos/owner/repo/issues/4",
                ])
            for request in requests {
                #expect(request.headers["authorization"] == "token \(forge.token)")
                #expect(request.headers["accept"] == "application/json")
                #expect(request.headers["user-agent"] == "bosun")
            }
            #expect(requests[0].query == ["page": "1", "limit": "50"])
            #expect(requests[1].json == .object(["name": .string("bosun:dev"), "color": .string("#00aa00")]))
            #expect(requests[5].json == .object(["labels": .array([.integer(Int64(labelID)!)])]))
            #expect(requests[9].json?["body"]?.stringValue == "ok\n\n<!-- bosun:key=g-1 -->")
            #expect(
                requests[10].json
                    == .object(["new_branch_name": .string("bosun/4-x"), "old_branch_name": .string("main")]))
            #expect(requests[16].json == .object(["Do": .string("merge")]))
            #expect(requests[18].json == .object(["state": .string("closed")]))
            #expect(forge.model.labels.count == 1)
            #expect(forge.model.pulls.map(\.state) == ["merged"])
        }
    }

    // MARK: GitLab

    @Test func gitLabEffectsUseTheDocumentedCalls() async throws {
        try await FakeForgeServer.with(.gitlab) { forge in
            let gitlab = client(forge, .gitlab)
            #expect(
                detail(await perform(gitlab, .ensureLabel(name: "bosun:test", color: "ff0000")))?["label"]
                    == "bosun:test")
            #expect(
                await perform(gitlab, .ensureLabel(name: "bosun:test", color: "ff0000"))
                    == .done(detail: ["label": "bosun:test", "existed": "true"]))
            #expect(
                await perform(gitlab, .addLabels(issue: "3", labels: ["bosun:test", "dev.junior"]))
                    == .done(detail: [:]))
            #expect(await perform(gitlab, .removeLabel(issue: "3", label: "dev.junior")) == .done(detail: [:]))
            #expect(
                await perform(gitlab, .addLabels(issue: "3", labels: ["a,b"]))
                    == .failed(reason: "GitLab takes labels as a comma-separated list; label \"a,b\" contains a comma"))
            #expect(isDone(await perform(gitlab, .comment(issue: "3", body: "note"), key: "gl-1")))
            #expect(
                await perform(gitlab, .createBranch(name: "bosun/3-x", fromBranch: "main"))
                    == .done(detail: ["branch": "bosun/3-x", "sha": "0a1b2c3d4e5f60718293a4b5c6d7e8f901234567"]))
            #expect(
                await perform(gitlab, .createBranch(name: "bosun/3-x", fromBranch: "main"))
                    == .done(detail: ["branch": "bosun/3-x", "existed": "true"]))
            let mr = forge.origin + "/group/project/-/merge_requests/1"
            #expect(
                await perform(gitlab, .openPullRequest(title: "T", body: "D", head: "bosun/3-x", base: "main"))
                    == .done(detail: ["number": "1", "url": mr]))
            #expect(
                await perform(gitlab, .openPullRequest(title: "T", body: "D", head: "bosun/3-x", base: "main"))
                    == .done(detail: ["number": "1", "url": mr, "existed": "true"]))
            #expect(
                await perform(gitlab, .mergePullRequest(number: "1"))
                    == .done(detail: ["number": "1", "sha": "abc999"]))
            #expect(
                await perform(gitlab, .mergePullRequest(number: "1"))
                    == .done(detail: ["number": "1", "existed": "true"]))
            #expect(await perform(gitlab, .closeIssue(issue: "3")) == .done(detail: [:]))

            let requests = forge.requests
            let project = "/api/v4/projects/group%2Fproject"
            #expect(
                requests.map(\.line) == [
                    "POST \(project)/labels", "POST \(project)/labels", "PUT \(project)/issues/3",
                    "PUT \(project)/issues/3",
                    "POST \(project)/issues/3/notes", "POST \(project)/repository/branches",
                    "POST \(project)/repository/branches", "GET \(project)/merge_requests",
                    "POST \(project)/merge_requests",
                    "GET \(project)/merge_requests", "PUT \(project)/merge_requests/1/merge",
                    "PUT \(project)/merge_requests/1/merge", "GET \(project)/merge_requests/1",
                    "PUT \(project)/issues/3",
                ])
            for request in requests {
                #expect(request.headers["private-token"] == forge.token)
                #expect(request.headers["authorization"] == nil)
                #expect(request.headers["user-agent"] == "bosun")
            }
            #expect(requests[0].json == .object(["name": .string("bosun:test"), "color": .string("#ff0000")]))
            #expect(requests[2].json == .object(["add_labels": .string("bosun:test,dev.junior")]))
            #expect(requests[3].json == .object(["remove_labels": .string("dev.junior")]))
            #expect(requests[4].json == .object(["body": .string("note\n\n<!-- bosun:key=gl-1 -->")]))
            #expect(requests[5].query == ["branch": "bosun/3-x", "ref": "main"])
            #expect(requests[7].query == ["state": "opened", "source_branch": "bosun/3-x", "per_page": "100"])
            #expect(
                requests[8].json
                    == .object([
                        "source_branch": .string("bosun/3-x"), "target_branch": .string("main"), "title": .string("T"),
                        "description": .string("D"),
                    ]))
            #expect(requests[13].json == .object(["state_event": .string("close")]))
            #expect(forge.model.issueLabels["3"] == ["bosun:test"])
            #expect(forge.model.issueStates["3"] == "closed")
        }
    }

    // MARK: Plane

    @Test func planeSetsStatesByNameAndCommentsWithAnExternalID() async throws {
        try await FakeForgeServer.with(.plane) { forge in
            let plane = client(forge, .plane)
            #expect(
                await perform(plane, .planeSetState(issue: planeItem, stateName: "in progress"))
                    == .done(detail: ["state_id": "5f0e3c1a-0000-4000-8000-000000000002"]))
            #expect(
                await perform(plane, .planeSetState(issue: planeItem, stateName: "Shipped"))
                    == .failed(
                        reason:
                            "Plane project has no state named \"Shipped\" (states: \"Backlog\", \"In Progress\", \"Done\")"
                    ))
            let body = "Tests <b>pass</b> & \"done\"\n\nNext: deploy"
            #expect(isDone(await perform(plane, .planeComment(issue: planeItem, body: body), key: "p-1")))
            #expect(
                detail(await perform(plane, .planeComment(issue: planeItem, body: body), key: "p-1", attempt: 2))?[
                    "existed"] == "true")
            #expect(
                await perform(plane, .closeIssue(issue: planeItem))
                    == .failed(reason: "close_issue is not supported on plane"))
            #expect(
                await perform(plane, .planeComment(issue: "../x", body: "x"))
                    == .failed(reason: "Plane work item id must be a UUID, got \"../x\""))

            let requests = forge.requests
            let project = "/api/v1/workspaces/acme/projects/4af68566-0000-4000-8000-00000000cafe"
            #expect(
                requests.map(\.line) == [
                    "GET \(project)/states/", "PATCH \(project)/issues/\(planeItem)/", "GET \(project)/states/",
                    "POST \(project)/issues/\(planeItem)/comments/", "GET \(project)/issues/\(planeItem)/comments/",
                ])
            for request in requests {
                #expect(request.headers["x-api-key"] == forge.token)
                #expect(request.headers["user-agent"] == "bosun")
            }
            #expect(requests[1].json == .object(["state": .string("5f0e3c1a-0000-4000-8000-000000000002")]))
            #expect(
                requests[3].json
                    == .object([
                        "comment_html": .string(
                            "<p>Tests &lt;b&gt;pass&lt;/b&gt; &amp; &quot;done&quot;</p><p>Next: deploy</p><!-- bosun:key=p-1 -->"
                        ),
                        "external_id": .string("p-1"), "external_source": .string("bosun"),
                    ]))
            #expect(requests[4].query == ["external_id": "p-1", "external_source": "bosun", "per_page": "100"])
            #expect(forge.model.planeItemStates[planeItem] == "5f0e3c1a-0000-4000-8000-000000000002")
        }
    }

    // MARK: Notifications

    @Test func notificationsReachEachNotifierKindWithTheRightBody() async throws {
        try await FakeForgeServer.with(.notifier) { forge in
            let note = Notification(
                title: "Task #7 blocked", text: "Review <failed> & \"3\" rounds",
                taskURL: "https://bosun.example/tasks/7")
            let telegram = Notifier(
                target: .telegram(botToken: forge.token, chatID: "-100123", apiBaseURL: forge.origin),
                http: HTTPClient(),
                clock: fixedClock)
            let sent = await blocking { telegram.send(note, idempotencyKey: "n-1") }
            #expect(detail(sent)?["message_id"] != nil)
            let slack = Notifier(
                target: .slack(webhookURL: forge.origin + "/services/T0/B0/XYZ"), http: HTTPClient(), clock: fixedClock)
            #expect(await blocking { slack.send(note, idempotencyKey: "n-1") } == .done(detail: [:]))
            let hook = Notifier(
                target: .webhook(url: forge.origin + "/hook", headers: ["Authorization": "Bearer hook-secret"]),
                http: HTTPClient(),
                clock: fixedClock)
            #expect(await blocking { hook.send(note, idempotencyKey: "n-1") } == .done(detail: [:]))

            let requests = forge.requests
            #expect(
                requests.map(\.line) == [
                    "POST /bot\(forge.token)/sendMessage", "POST /services/T0/B0/XYZ", "POST /hook",
                ])
            #expect(
                requests[0].json
                    == .object([
                        "chat_id": .string("-100123"),
                        "text": .string(
                            "Task #7 blocked\n\nReview <failed> & \"3\" rounds\n\nhttps://bosun.example/tasks/7"),
                    ]))
            #expect(
                requests[1].json
                    == .object([
                        "text": .string(
                            "*Task #7 blocked*\nReview &lt;failed&gt; &amp; \"3\" rounds\n<https://bosun.example/tasks/7|Open task>"
                        )
                    ]))
            #expect(
                requests[2].json
                    == .object([
                        "title": .string("Task #7 blocked"), "text": .string("Review <failed> & \"3\" rounds"),
                        "task_url": .string("https://bosun.example/tasks/7"), "idempotency_key": .string("n-1"),
                    ]))
            #expect(requests[2].headers["idempotency-key"] == "n-1")
            #expect(requests[2].headers["authorization"] == "Bearer hook-secret")
            #expect(
                requests.allSatisfy {
                    $0.headers["content-type"] == "application/json" && $0.headers["user-agent"] == "bosun"
                })
        }
    }

    @Test func notifierFailuresAreClassifiedAndKeepSecretsOut() async throws {
        try await FakeForgeServer.with(.notifier) { forge in
            forge.inject(
                FakeFault(
                    method: "POST", pathSuffix: "/sendMessage",
                    reply: .json(
                        429,
                        .object([
                            "ok": .bool(false), "error_code": .integer(429),
                            "description": .string("Too Many Requests: retry after 5"),
                            "parameters": .object(["retry_after": .integer(5)]),
                        ]))))
            let telegram = Notifier(
                target: .telegram(botToken: forge.token, chatID: "1", apiBaseURL: forge.origin), http: HTTPClient(),
                clock: fixedClock)
            let note = Notification(title: "t", text: "x")
            #expect(
                await blocking { telegram.send(note, idempotencyKey: "n-2") }
                    == .retry(
                        afterMilliseconds: 5_000,
                        reason: "telegram sendMessage: rate limited (429): Too Many Requests: retry after 5"))
            let wrongBot = Notifier(
                target: .telegram(botToken: "123:SECRET", chatID: "1", apiBaseURL: forge.origin), http: HTTPClient(),
                clock: fixedClock)
            let refused = await blocking { wrongBot.send(note, idempotencyKey: "n-2") }
            #expect(refused == .failed(reason: "telegram sendMessage: HTTP 404: not found"))
            #expect(reason(refused)?.contains("SECRET") == false)
            let slack = Notifier(
                target: .slack(webhookURL: forge.origin + "/nowhere/SECRET"), http: HTTPClient(), clock: fixedClock)
            let lost = await blocking { slack.send(note, idempotencyKey: "n-2") }
            #expect(lost == .failed(reason: "slack webhook: HTTP 404: not found"))
            let long = Notifier.telegramText(Notification(title: "t", text: String(repeating: "y", count: 5000)))
            #expect(long.count == Notifier.telegramMaxCharacters)
        }
    }
}
