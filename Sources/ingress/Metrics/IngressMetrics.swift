import Synchronization

/// The ingress's own counters and its latency histogram; `/metrics` writes them with the service's figures.
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

    /// Writes this process's families: HTTP requests, their latency, webhook deliveries.
    func write(into text: inout PrometheusText) {
        let snapshot = state.withLock { $0 }
        text.family(
            "bosun_http_requests_total", .counter, help: "HTTP requests by route, method and status.",
            snapshot.requests.sorted {
                ($0.key.route, $0.key.method, $0.key.status) < ($1.key.route, $1.key.method, $1.key.status)
            }
            .map { key, count in
                ([("route", key.route), ("method", key.method), ("status", String(key.status))], Double(count))
            })
        text.histogram(
            "bosun_http_request_duration_seconds", help: "Time from request head to response, in seconds.",
            [
                PrometheusText.HistogramSeries(
                    labels: [], bounds: Self.latencyBuckets,
                    cumulativeCounts: snapshot.buckets.reduce(into: [Int]()) { $0.append(($0.last ?? 0) + $1) },
                    count: snapshot.latencyCount, sum: snapshot.latencySum)
            ])
        text.family(
            "bosun_webhook_deliveries_total", .counter, help: "Webhook deliveries by source and outcome.",
            snapshot.deliveries.sorted { ($0.key.source, $0.key.outcome) < ($1.key.source, $1.key.outcome) }
                .map { key, count in ([("source", key.source), ("outcome", key.outcome)], Double(count)) })
    }
}
