/// A secret read from a file or the environment. Its value never appears in descriptions, logs or dumps.
public struct Secret: Sendable, Equatable, CustomStringConvertible, CustomDebugStringConvertible {
    /// The secret itself. Read it only where it is used.
    public let value: String
    /// Where it came from, e.g. `file /etc/bosun/hook` or `env GITHUB_TOKEN`; safe to show.
    public let source: String

    public init(value: String, source: String) {
        self.value = value
        self.source = source
    }

    public var description: String { "<secret from \(source)>" }
    public var debugDescription: String { description }
}
