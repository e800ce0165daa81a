import Logging
import ProcessRuntime
import Synchronization

/// Keeps every formatted log line, for tests that count them.
final class CapturedLines: Sendable {
    private let lines = Mutex<[String]>([])

    var all: [String] { lines.withLock { $0 } }

    func append(_ line: String) {
        lines.withLock { $0.append(line) }
    }

    /// A logger at `level` whose lines land here.
    func logger(level: Logger.Level = .info) -> Logger {
        Logger(label: "captured") { _ in LineLogHandler(level: level, sink: self.append) }
    }
}
