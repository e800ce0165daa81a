import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// One recorded webhook body and the headers it is sent with (`Fixtures/webhooks/index.tsv` and
/// `Fixtures/webhooks/gitlab/index.tsv`).
struct WebhookFixture: Sendable {
    var path: String
    var forge: String
    /// The event header's value.
    var event: String
    /// Gitea's `X-Gitea-Event-Type`, when it differs.
    var eventType: String?
    var body: [UInt8]

    /// Every fixture, GitHub, Gitea, Plane and GitLab.
    static let all: [WebhookFixture] = {
        let root = "\(fixtures)/webhooks"
        var result: [WebhookFixture] = []
        for (index, gitlab) in [("\(root)/index.tsv", false), ("\(root)/gitlab/index.tsv", true)] {
            guard let text = try? String(contentsOfFile: index, encoding: .utf8) else { continue }
            for line in text.split(separator: "\n").dropFirst() {
                let fields = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
                let path = fields[0]
                guard let data = FileManager.default.contents(atPath: "\(root)/\(path)") else { continue }
                result.append(
                    WebhookFixture(
                        path: path, forge: fields[1], event: fields[2],
                        eventType: gitlab || fields[3].isEmpty ? nil : fields[3], body: Array(data)))
            }
        }
        return result
    }()

    /// The headers a forge sends with this body: event, delivery id, signature for `secret`.
    func headers(delivery: String, secret: String) throws -> [(String, String)] {
        let signature = try hmacSHA256Hex(body, key: secret)
        switch forge {
        case "github":
            return [
                ("X-GitHub-Event", event), ("X-GitHub-Delivery", delivery),
                ("X-Hub-Signature-256", "sha256=\(signature)"),
            ]
        case "gitea":
            var headers = [
                ("X-Gitea-Event", event), ("X-Gitea-Delivery", delivery), ("X-Gitea-Signature", signature),
                ("X-Hub-Signature-256", "sha256=\(signature)"),
            ]
            if let eventType { headers.append(("X-Gitea-Event-Type", eventType)) }
            return headers
        case "gitlab":
            return [
                ("X-Gitlab-Event", event), ("X-Gitlab-Event-UUID", delivery), ("Idempotency-Key", delivery),
                ("X-Gitlab-Token", secret), ("X-Gitlab-Instance", "https://gitlab.example.com"),
            ]
        default:
            return [("X-Plane-Event", event), ("X-Plane-Delivery", delivery), ("X-Plane-Signature", signature)]
        }
    }
}

/// HMAC-SHA256 as `openssl dgst -sha256 -hmac` prints it, computed by a separate implementation (the `openssl`
/// binary) so that the tests do not check the code with itself.
func hmacSHA256Hex(_ body: [UInt8], key: String) throws -> String {
    let directory = TemporaryDirectory("bosun-hmac")
    let input = directory.file("body")
    guard FileManager.default.createFile(atPath: input, contents: Data(body)) else {
        throw TestFailure("cannot write \(input)")
    }
    let process = try TestProcess(
        "/usr/bin/openssl", ["dgst", "-sha256", "-hmac", key, "-r", input], output: directory.file("out"))
    var status: Int32 = 0
    waitpid(process.pid, &status, 0)
    let hex = String(process.output.prefix(64))
    guard hex.count == 64 else { throw TestFailure("openssl: \(process.output)") }
    return hex
}
