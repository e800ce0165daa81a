/// One problem in a configuration file, at a key path: `projects[1].webhook.secret_file: file not found`.
public struct ConfigIssue: Sendable, Equatable, CustomStringConvertible {
    /// The key path, e.g. `projects[1].webhook.secret_file`; empty for the file as a whole.
    public var path: String
    public var message: String
    /// The 1-based line in the file, when known.
    public var line: Int?

    public init(path: String, message: String, line: Int? = nil) {
        self.path = path
        self.message = message
        self.line = line
    }

    public var description: String {
        let location = line.map { " (line \($0))" } ?? ""
        return path.isEmpty ? "\(message)\(location)" : "\(path): \(message)\(location)"
    }
}

/// Every problem found in a configuration file; loading reports them all at once.
public struct ConfigError: Error, Sendable, CustomStringConvertible {
    /// The file that was read.
    public var file: String
    public var issues: [ConfigIssue]

    public init(file: String, issues: [ConfigIssue]) {
        self.file = file
        self.issues = issues
    }

    /// One issue per line.
    public var description: String {
        issues.map(\.description).joined(separator: "\n")
    }
}
