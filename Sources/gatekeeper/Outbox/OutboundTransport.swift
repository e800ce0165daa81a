import Config
import Dispatch
import Store

/// Performs outbox effects against forges and notifiers.
enum OutboundTransport {
    /// One attempt at `effect`.
    static func attempt(_ entry: OutboxEntry, _ effect: OutboxEffect, _ config: BosunConfig) -> OutboxSender.Attempt {
        .failed(reason: "forge effects are not available in this build")
    }

    /// Runs blocking work (libcurl, SQLite) on a Dispatch thread instead of the cooperative pool.
    static func onBlockingThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async {
                continuation.resume(with: Result { try body() })
            }
        }
    }
}
