import HTTPTypes
import Hummingbird
import NIOCore
import Store

extension IngressApp {
    /// `GET /metrics`: this process's counters, the supervisor's status and the store's figures, each of the last two
    /// fetched at most once a second or two whatever the scrape rate (`HealthCache`).
    func metricsResponse() async -> Response {
        async let status = health.supervisorStatus()
        async let figures = health.storeFigures()
        var text = PrometheusText()
        metrics.write(into: &text)
        ServiceMetrics(status: await status, figures: await figures, nowMs: Clock.nowMilliseconds).write(into: &text)
        var headers = HTTPFields()
        headers[.contentType] = "text/plain; version=0.0.4; charset=utf-8"
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: text.text)))
    }
}
