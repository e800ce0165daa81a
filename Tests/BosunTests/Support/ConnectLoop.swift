import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A client that connects to a port over and over on its own thread (blocking connects must not starve the
/// concurrency pool), counting each outcome, until stopped.
final class ConnectLoop: Sendable {
    private let running = Atomic<Bool>(true)
    private let succeeded = Atomic<Int>(0)
    private let refused = Atomic<Int>(0)
    private let otherErrors = Atomic<Int>(0)
    private let finished = DispatchSemaphore(value: 0)

    /// Starts connecting to 127.0.0.1:`port` every `interval`.
    init(port: Int, interval: Duration = .milliseconds(2)) {
        Thread { [self] in
            while running.load(ordering: .relaxed) {
                switch tcpConnect(port: port) {
                case 0: succeeded.add(1, ordering: .relaxed)
                case ECONNREFUSED: refused.add(1, ordering: .relaxed)
                default: otherErrors.add(1, ordering: .relaxed)
                }
                let (seconds, attoseconds) = interval.components
                usleep(UInt32(seconds * 1_000_000 + attoseconds / 1_000_000_000_000))
            }
            finished.signal()
        }.start()
    }

    /// Stops the loop and returns the counts.
    func stop() -> (succeeded: Int, refused: Int, otherErrors: Int) {
        running.store(false, ordering: .relaxed)
        finished.wait()
        return (
            succeeded.load(ordering: .relaxed), refused.load(ordering: .relaxed), otherErrors.load(ordering: .relaxed)
        )
    }
}
