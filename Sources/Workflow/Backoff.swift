/// Exponential backoff with jitter: `min(base·2^n, max)`, then a random fraction of it kept, so that many failures
/// at once do not retry at once. Pure: the randomness comes in as an argument.
public struct Backoff: Sendable, Equatable {
    public var baseMilliseconds: Int64
    public var maxMilliseconds: Int64

    public init(baseMilliseconds: Int64, maxMilliseconds: Int64) {
        self.baseMilliseconds = max(1, baseMilliseconds)
        self.maxMilliseconds = max(self.baseMilliseconds, maxMilliseconds)
    }

    /// The ceiling for the `failures`-th consecutive failure (1 is the first): `min(base·2^(failures-1), max)`.
    public func ceiling(afterFailures failures: Int) -> Int64 {
        let exponent = min(max(failures - 1, 0), 40)
        let (scaled, overflow) = baseMilliseconds.multipliedReportingOverflow(by: Int64(1) << Int64(exponent))
        return overflow ? maxMilliseconds : min(scaled, maxMilliseconds)
    }

    /// The delay before the next try: between half the ceiling and the ceiling ("equal jitter"), and never before
    /// `notBeforeMilliseconds` (an advertised `Retry-After` or rate-limit reset), which wins when it is later.
    /// - Parameter jitter: a number in `0...1`, from the caller's random source.
    public func delay(afterFailures failures: Int, jitter: Double, notBeforeMilliseconds: Int64? = nil) -> Int64 {
        let ceiling = ceiling(afterFailures: failures)
        let half = ceiling / 2
        let jittered = half + Int64((Double(ceiling - half) * min(max(jitter, 0), 1)).rounded())
        guard let floor = notBeforeMilliseconds else { return jittered }
        return max(jittered, floor)
    }
}
