import Foundation

/// The wall clock as Unix milliseconds, the time input of the pure parts.
public enum UnixClock {
    /// Milliseconds since the Unix epoch, now.
    @Sendable public static func milliseconds() -> Int64 {
        Int64((Date().timeIntervalSince1970 * 1000).rounded())
    }
}

/// Performs one attempt at one `ForgeEffect` against one forge, over `HTTPClient`, and says what came of it. It
/// keeps no state between attempts: whatever it needs to know about earlier attempts it asks the forge (is the
/// comment with this key there, is there an open pull request for this head, is it merged already). Blocking:
/// call it from a thread that may block.
public final class ForgeClient: Sendable {
    /// Where the effects go.
    public let target: ForgeTarget
    let http: HTTPClient
    let clock: @Sendable () -> Int64
    let observer: ForgeCallObserver?

    /// A client for one target. `clock` gives Unix milliseconds; tests pass a fixed one. `observer` hears of every
    /// request sent (for the forge API figures).
    public init(
        target: ForgeTarget, http: HTTPClient, clock: @escaping @Sendable () -> Int64 = UnixClock.milliseconds,
        observer: ForgeCallObserver? = nil
    ) {
        self.target = target
        self.http = http
        self.clock = clock
        self.observer = observer
    }

    /// One attempt at `effect`. `idempotencyKey` identifies the effect across attempts (the outbox row's key);
    /// `attempt` counts from 1, and from 2 on the client first checks whether an earlier attempt already
    /// succeeded where the forge cannot tell by itself (comments).
    public func perform(_ effect: ForgeEffect, idempotencyKey: String, attempt: Int) -> AttemptResult {
        guard IdempotencyMarker.isValidKey(idempotencyKey) else {
            return .failed(reason: "idempotency key must be 1-200 characters of A-Z a-z 0-9 . _ : / + = - without --")
        }
        if let problem = targetProblem() { return .failed(reason: problem) }
        do {
            switch target.kind {
            case .github: return try performGitHub(effect, key: idempotencyKey, attempt: attempt)
            case .gitea: return try performGitea(effect, key: idempotencyKey, attempt: attempt)
            case .gitlab: return try performGitLab(effect, key: idempotencyKey, attempt: attempt)
            case .plane: return try performPlane(effect, key: idempotencyKey, attempt: attempt)
            }
        } catch {
            return error.result
        }
    }

    private func targetProblem() -> String? {
        guard target.baseURL.hasPrefix("https://") || target.baseURL.hasPrefix("http://") else {
            return "\(target.kind.rawValue) API base URL must start with https:// or http://"
        }
        switch target.kind {
        case .github, .gitea:
            return target.owner.isEmpty || target.repo.isEmpty
                ? "\(target.kind.rawValue) target needs owner and repo" : nil
        case .gitlab:
            return target.projectID.isEmpty ? "gitlab target needs a project id or path" : nil
        case .plane:
            return target.projectID.isEmpty || target.workspaceSlug.isEmpty
                ? "plane target needs a workspace slug and a project id" : nil
        }
    }
}

/// Ends an attempt early with its result; thrown by the steps of an effect.
struct AttemptHalt: Error {
    let result: AttemptResult

    static func failed(_ reason: String) -> AttemptHalt { AttemptHalt(result: .failed(reason: reason)) }
}

/// A response already known to be 2xx, with its JSON when it had any.
struct ForgeReply {
    let response: HTTPResponse
    var json: JSONValue? { JSONValue.parse(response.body) }
    var status: Int { response.status }
}

extension ForgeClient {
    /// The headers every request to this forge carries: auth as the forge documents it, `Accept`, `User-Agent`.
    var standardHeaders: [(name: String, value: String)] {
        var headers: [(name: String, value: String)] = [("User-Agent", "bosun")]
        switch target.kind {
        case .github:
            headers += [
                ("Accept", "application/vnd.github+json"), ("X-GitHub-Api-Version", "2022-11-28"),
                ("Authorization", "Bearer \(target.token)"),
            ]
        case .gitea:
            headers += [("Accept", "application/json"), ("Authorization", "token \(target.token)")]
        case .gitlab:
            headers += [("Accept", "application/json"), ("PRIVATE-TOKEN", target.token)]
        case .plane:
            headers += [("Accept", "application/json"), ("X-API-Key", target.token)]
        }
        return headers
    }

    /// Sends one request to `baseURL + path` and returns the response whatever its status; transport failures end
    /// the attempt with their verdict.
    func exchange(
        _ method: String, _ path: String, query: [(String, String)] = [], json: JSONValue? = nil
    ) throws(AttemptHalt) -> HTTPResponse {
        let url = target.baseURL + path + (query.isEmpty ? "" : "?" + URLEncoding.query(query))
        return try exchange(method, url: url, label: "\(method) \(path)", json: json)
    }

    /// Sends one request to an absolute URL, which must lie under the API base (so the token goes nowhere else).
    func exchange(
        _ method: String, url: String, label: String, json: JSONValue? = nil
    ) throws(AttemptHalt)
        -> HTTPResponse
    {
        guard url.hasPrefix(target.baseURL + "/") || url.hasPrefix(target.baseURL + "?") else {
            throw .failed("\(label): refusing a URL outside the API base")
        }
        var headers = standardHeaders
        if json != nil { headers.append(("Content-Type", "application/json")) }
        let request = HTTPRequest(method: method, url: url, headers: headers, body: json?.encoded)
        do {
            let response = try http.send(request)
            observe(status: response.status, headers: response.headers)
            return response
        } catch {
            observe(status: nil, headers: [:])
            throw AttemptHalt(result: ResponseClassifier.verdict(for: error).prefixed(label).attemptResult())
        }
    }

    private func observe(status: Int?, headers: [String: String]) {
        guard let observer else { return }
        let now = clock()
        observer(
            ForgeCall(
                host: target.host, forge: target.kind, status: status,
                rateLimit: RateLimitStatus.parse(headers: headers, nowMilliseconds: now), atMilliseconds: now))
    }

    /// Ends the attempt unless the response is 2xx, with the classifier's verdict (retry or failed).
    @discardableResult
    func expectSuccess(_ response: HTTPResponse, _ label: String) throws(AttemptHalt) -> ForgeReply {
        let verdict = ResponseClassifier.verdict(for: response, nowMilliseconds: clock())
        guard verdict == .success else { throw AttemptHalt(result: verdict.prefixed(label).attemptResult()) }
        return ForgeReply(response: response)
    }

    /// Sends and requires a 2xx.
    @discardableResult
    func call(
        _ method: String, _ path: String, query: [(String, String)] = [], json: JSONValue? = nil
    ) throws(AttemptHalt) -> ForgeReply {
        try expectSuccess(exchange(method, path, query: query, json: json), "\(method) \(path)")
    }

    /// The items of a list response: a bare array, or Plane's paginated `{"results": [...]}`.
    func items(_ reply: ForgeReply, _ label: String) throws(AttemptHalt) -> [JSONValue] {
        guard let json = reply.json else { throw .failed("\(label): response is not JSON") }
        if let array = json.arrayValue { return array }
        if let array = json["results"]?.arrayValue { return array }
        throw .failed("\(label): response is not a list")
    }

    /// A number-shaped issue or pull request reference, or the end of the attempt.
    func number(_ text: String, _ what: String) throws(AttemptHalt) -> String {
        guard NameRules.isNumber(text) else { throw .failed("\(what) must be a positive number, got \(quoted(text))") }
        return text
    }

    /// A branch name git would accept, or the end of the attempt.
    func branch(_ name: String) throws(AttemptHalt) -> String {
        guard NameRules.isValidBranch(name) else { throw .failed("not a valid branch name: \(quoted(name))") }
        return name
    }

    /// A label name that is not blank, or the end of the attempt.
    func labelName(_ name: String) throws(AttemptHalt) -> String {
        guard !name.trimmingSpaces().isEmpty, name.utf8.count <= 255 else {
            throw .failed("label name must be 1-255 bytes and not blank")
        }
        return name
    }

    /// Whether any text in the list holds the marker for this key, in the given field.
    func containsMarker(_ items: [JSONValue], field: String, key: String) -> JSONValue? {
        let marker = IdempotencyMarker.comment(key: key)
        return items.first { $0[field]?.stringValue?.contains(marker) == true }
    }

    /// The URL a `Link` header names for a relation (`rel="last"`), if any.
    func linkURL(_ header: String?, rel: String) -> String? {
        guard let header else { return nil }
        for part in header.split(separator: ",") {
            let pieces = part.split(separator: ";").map { $0.trimmingSpaces() }
            guard let first = pieces.first, first.hasPrefix("<"), first.hasSuffix(">") else { continue }
            if pieces.dropFirst().contains(where: { $0 == "rel=\"\(rel)\"" || $0 == "rel=\(rel)" }) {
                return String(first.dropFirst().dropLast())
            }
        }
        return nil
    }

    /// An unsupported effect for this target's kind.
    func unsupported(_ effect: ForgeEffect) -> AttemptResult {
        .failed(reason: "\(effect.kind) is not supported on \(target.kind.rawValue)")
    }
}

/// Text quoted for an error message, cut short and with control characters shown as spaces.
func quoted(_ text: String) -> String {
    let cleaned = String(
        text.unicodeScalars.prefix(80).map { $0.value < 0x20 || $0.value == 0x7F ? " " : Character($0) })
    return "\"\(cleaned)\""
}

extension ResponseVerdict {
    /// The same verdict with a reason that starts with `label: `.
    func prefixed(_ label: String) -> ResponseVerdict {
        switch self {
        case .success: return .success
        case .retry(let after, let reason): return .retry(afterMilliseconds: after, reason: "\(label): \(reason)")
        case .failed(let reason): return .failed(reason: "\(label): \(reason)")
        }
    }
}
