import Foundation
import Store
import Synchronization

/// The ingress's counters and its latency histogram, rendered in the Prometheus text format. Hand-rolled: a few
/// series do not justify a metrics stack.
final class IngressMetrics: Sendable {
    /// Upper bounds of the latency buckets, in seconds.
    static let latencyBuckets: [Double] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5]

    private struct RequestKey: Hashable {
        var route: String
        var method: String
        var status: Int
    }

    private struct DeliveryKey: Hashable {
        var source: String
        var outcome: String
    }

    private struct State {
        var requests: [RequestKey: Int] = [:]
        var deliveries: [DeliveryKey: Int] = [:]
        var buckets = [Int](repeating: 0, count: IngressMetrics.latencyBuckets.count)
        var latencyCount = 0
        var latencySum = 0.0
    }

    private let state = Mutex(State())

    func recordRequest(route: String, method: String, status: Int, duration: Duration) {
        let seconds = Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
        state.withLock { state in
            state.requests[RequestKey(route: route, method: method, status: status), default: 0] += 1
            if let bucket = Self.latencyBuckets.firstIndex(where: { seconds <= $0 }) {
                state.buckets[bucket] += 1
            }
            state.latencyCount += 1
            state.latencySum += seconds
        }
    }

    /// One webhook's fate: `accepted`, `duplicate`, `ignored`, `ping`, `unauthorized`, `refused`, `invalid`,
    /// `too_large`, `failed`.
    func recordDelivery(source: String, outcome: String) {
        state.withLock { $0.deliveries[DeliveryKey(source: source, outcome: outcome), default: 0] += 1 }
    }

    /// The exposition text, with the inbox figures read at scrape time.
    func render(inbox: InboxDepth?, nowMs: Int64) -> String {
        let snapshot = state.withLock { $0 }
        var lines: [String] = []
        lines.append("# HELP bosun_http_requests_total HTTP requests by route, method and status.")
        lines.append("# TYPE bosun_http_requests_total counter")
        for (key, count) in snapshot.requests.sorted(by: { "\($0.key)" < "\($1.key)" }) {
            lines.append(
                "bosun_http_requests_total{route=\"\(escape(key.route))\",method=\"\(key.method)\","
                    + "status=\"\(key.status)\"} \(count)")
        }
        lines.append("# HELP bosun_http_request_duration_seconds Time from request head to response, in seconds.")
        lines.append("# TYPE bosun_http_request_duration_seconds histogram")
        var cumulative = 0
        for (bound, count) in zip(Self.latencyBuckets, snapshot.buckets) {
            cumulative += count
            lines.append("bosun_http_request_duration_seconds_bucket{le=\"\(bound)\"} \(cumulative)")
        }
        lines.append("bosun_http_request_duration_seconds_bucket{le=\"+Inf\"} \(snapshot.latencyCount)")
        lines.append("bosun_http_request_duration_seconds_sum \(snapshot.latencySum)")
        lines.append("bosun_http_request_duration_seconds_count \(snapshot.latencyCount)")
        lines.append("# HELP bosun_webhook_deliveries_total Webhook deliveries by source and outcome.")
        lines.append("# TYPE bosun_webhook_deliveries_total counter")
        for (key, count) in snapshot.deliveries.sorted(by: { "\($0.key)" < "\($1.key)" }) {
            lines.append("bosun_webhook_deliveries_total{source=\"\(key.source)\",outcome=\"\(key.outcome)\"} \(count)")
        }
        if let inbox {
            lines.append("# HELP bosun_inbox_unprocessed Deliveries stored and not yet applied by the gatekeeper.")
            lines.append("# TYPE bosun_inbox_unprocessed gauge")
            lines.append("bosun_inbox_unprocessed \(inbox.unprocessed)")
            lines.append("# HELP bosun_inbox_lag_seconds Age of the oldest unprocessed delivery.")
            lines.append("# TYPE bosun_inbox_lag_seconds gauge")
            let lag = inbox.oldestReceivedAtMs.map { Double(max(0, nowMs - $0)) / 1000 } ?? 0
            lines.append("bosun_inbox_lag_seconds \(lag)")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    private func escape(_ value: String) -> String {
        value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
    }
}
