import Forge
import Foundation
import FuzzSupport

// Delivery normalization for every forge, on arbitrary bodies under the event names the forges really send.
//
// Input: source, event (from that source's real set), Gitea event-type header, one unused byte; the body is the rest.
//
// Invariants:
// 1. `normalize` returns or throws a `NormalizationError` (never crashes), with one of the documented codes.
// 2. It is a function: the same delivery twice, and through the stored-headers JSON entry point, gives the same
//    result.
// 3. An event it returns survives its own Codable round trip (the gatekeeper stores it as JSON).
// 4. On an event that parses its body, a body Foundation's JSONSerialization refuses is refused too: the parser is
//    never more lenient than Foundation. (Not the converse: Foundation takes a trailing comma, `{"a": 1, }`, which
//    RFC 8259 and the parser refuse; the fuzzer found that in its first minute.)

let events: [String: [String]] = [
    "github": [
        "ping", "issues", "issue_comment", "pull_request", "pull_request_review", "pull_request_review_comment", "push",
        "status", "check_run", "check_suite", "workflow_run",
    ],
    "gitea": [
        "issues", "issue_comment", "pull_request", "pull_request_approved", "pull_request_review_approved",
        "pull_request_rejected", "pull_request_review_rejected", "pull_request_comment", "push", "status", "create",
    ],
    "gitlab": [
        "Issue Hook", "Confidential Issue Hook", "Note Hook", "Confidential Note Hook", "Merge Request Hook",
        "Push Hook", "Pipeline Hook", "Tag Push Hook",
    ],
    "plane": [
        "workitem.created", "workitem.updated", "workitem.comment.created", "issue", "issue_comment", "project",
        "workitem.link.created",
    ],
]
/// The events whose normalizer parses the body whatever it holds (the others return nil unread).
let parsing: Set<String> = Set(events.values.joined()).subtracting([
    "check_suite", "workflow_run", "create", "Tag Push Hook", "project", "workitem.link.created",
])
let sources = ["github", "gitea", "forgejo", "gitlab", "plane", "GitHub", "bitbucket"]
let giteaEventTypes: [String?] = [nil, "pull_request_comment", "issue_comment", "pull_request_review_approved", ""]
let codes: Set<String> = [
    "malformed_json", "not_an_object", "too_deep", "missing_field", "wrong_type", "unknown_source",
]

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzNormalizer(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    var input = FuzzInput(data, size)
    let source = input.pick(sources)
    let known = events[source.lowercased() == "forgejo" ? "gitea" : source.lowercased()] ?? ["issues"]
    let event = input.pick(known)
    let eventType = input.pick(giteaEventTypes)
    _ = input.byte()
    let body = input.rest()
    var headers: [String: String] = [:]
    if let eventType { headers[source == "forgejo" ? "x-forgejo-event-type" : "x-gitea-event-type"] = eventType }

    let first = Result { () throws(NormalizationError) in
        try DeliveryNormalizer.normalize(source: source, event: event, headers: headers, body: body)
    }
    let second = Result { () throws(NormalizationError) in
        try DeliveryNormalizer.normalize(source: source, event: event, headers: headers, body: body)
    }
    let headersJSON = String(decoding: (try? JSONSerialization.data(withJSONObject: headers)) ?? Data(), as: UTF8.self)
    let stored = Result { () throws(NormalizationError) in
        try DeliveryNormalizer.normalize(source: source, event: event, headersJSON: headersJSON, body: body)
    }
    require(same(first, second), "two runs differ: \(first) / \(second)")
    require(same(first, stored), "the stored-headers entry point differs: \(first) / \(stored)")

    switch first {
    case .success(let normalized?):
        let encoded = (try? JSONEncoder().encode(normalized)) ?? Data()
        let decoded = try? JSONDecoder().decode(TrackerEvent.self, from: encoded)
        require(
            decoded == normalized, "\(normalized) does not survive JSON: \(String(decoding: encoded, as: UTF8.self))")
    case .success(nil):
        break
    case .failure(let error):
        require(codes.contains(error.code.description), "undocumented error code \(error.code)")
        require(error.message.contains(event), "the error does not name the event: \(error.message)")
    }

    // 4. Against Foundation, on text it reads as UTF-8 (it guesses UTF-16 and UTF-32 from NULs and BOMs).
    let sourceKnown = events[source.lowercased() == "forgejo" ? "gitea" : source.lowercased()] != nil
    guard sourceKnown, parsing.contains(event), String(validating: body, as: UTF8.self) != nil, !body.contains(0),
        !body.starts(with: [0xEF, 0xBB, 0xBF])
    else { return 0 }
    let foundation = try? JSONSerialization.jsonObject(with: Data(body), options: [.fragmentsAllowed])
    if foundation == nil, case .success = first {
        require(false, "Foundation refuses the body as JSON, the normalizer took it")
    }
    return 0
}

func same(_ left: Result<TrackerEvent?, NormalizationError>, _ right: Result<TrackerEvent?, NormalizationError>) -> Bool
{
    switch (left, right) {
    case (.success(let a), .success(let b)): a == b
    case (.failure(let a), .failure(let b)): a.code == b.code && a.message == b.message
    default: false
    }
}
