import Foundation
import Yams

/// A path into the document, printed as `projects[1].webhook.secret_file`.
struct ConfigKeyPath: CustomStringConvertible {
    private var text = ""

    static let root = ConfigKeyPath()

    func appending(_ key: String) -> ConfigKeyPath {
        ConfigKeyPath(text: text.isEmpty ? key : "\(text).\(key)")
    }

    func appending(index: Int) -> ConfigKeyPath {
        ConfigKeyPath(text: "\(text)[\(index)]")
    }

    var description: String { text }
}

/// A mapping being read. It remembers which keys were asked for, so that `ConfigReader.finish` can report the
/// others as unknown (a typo must not silently fall back to a default).
struct Section {
    let path: ConfigKeyPath
    let line: Int?
    fileprivate var entries: [(key: String, value: Node, line: Int?)] = []
    fileprivate var used: Set<String> = []

    fileprivate init(path: ConfigKeyPath, line: Int?) {
        self.path = path
        self.line = line
    }

    /// The keys present, in file order.
    var keys: [String] { entries.map(\.key) }

    /// The line of `key`, or of the mapping if the key is absent.
    func line(of key: String) -> Int? {
        entries.first { $0.key == key }?.line ?? line
    }

    /// True if the key is present with a non-null value.
    func has(_ key: String) -> Bool {
        entries.contains { $0.key == key && !$0.value.isNull }
    }

    /// The value of `key`, without marking it read.
    func node(_ key: String) -> Node? {
        entries.first { $0.key == key }?.value
    }

    fileprivate mutating func take(_ key: String) -> (value: Node, line: Int?)? {
        used.insert(key)
        guard let entry = entries.first(where: { $0.key == key }), !entry.value.isNull else { return nil }
        return (entry.value, entry.line)
    }
}

/// Reads a YAML document into typed values and collects every problem on the way, each with its key path, instead
/// of stopping at the first.
struct ConfigReader {
    private(set) var issues: [ConfigIssue] = []
    /// Relative paths in the file are relative to this directory.
    let directory: String
    let environment: [String: String]

    init(directory: String, environment: [String: String]) {
        self.directory = directory
        self.environment = environment
    }

    mutating func report(_ path: ConfigKeyPath, _ message: String, line: Int?) {
        issues.append(ConfigIssue(path: path.description, message: message, line: line))
    }

    // MARK: Structure

    /// The document's top-level mapping.
    mutating func root(_ node: Node?) -> Section {
        guard let node else { return Section(path: .root, line: nil) }
        return section(node, at: .root)
    }

    /// A nested mapping; an absent key reads as an empty mapping, so every field takes its default.
    mutating func section(_ parent: inout Section, _ key: String) -> Section {
        let path = parent.path.appending(key)
        guard let (node, _) = parent.take(key) else { return Section(path: path, line: nil) }
        return section(node, at: path)
    }

    mutating func section(_ node: Node, at path: ConfigKeyPath) -> Section {
        var section = Section(path: path, line: node.mark?.line)
        guard case .mapping(let mapping) = node else {
            report(path, "must be a mapping of keys to values, not \(node.kindName)", line: node.mark?.line)
            return section
        }
        for (keyNode, value) in mapping {
            guard case .scalar(let scalar) = keyNode else {
                report(path, "keys must be plain strings", line: keyNode.mark?.line)
                continue
            }
            if section.entries.contains(where: { $0.key == scalar.string }) {
                report(path.appending(scalar.string), "duplicate key", line: keyNode.mark?.line)
                continue
            }
            section.entries.append((scalar.string, value, keyNode.mark?.line))
        }
        return section
    }

    /// The elements of a sequence, each with its path.
    mutating func sequence(_ parent: inout Section, _ key: String) -> [(path: ConfigKeyPath, node: Node)] {
        let path = parent.path.appending(key)
        guard let (node, line) = parent.take(key) else { return [] }
        guard case .sequence(let sequence) = node else {
            report(path, "must be a list, not \(node.kindName)", line: line)
            return []
        }
        return sequence.enumerated().map { (path.appending(index: $0.offset), $0.element) }
    }

    /// Reports every key of `section` that nothing asked for.
    mutating func finish(_ section: Section, known: [String] = []) {
        let known = section.used.union(known)
        for entry in section.entries where !known.contains(entry.key) {
            let suggestion = Self.closest(to: entry.key, among: known).map { " (did you mean \($0)?)" } ?? ""
            report(section.path.appending(entry.key), "unknown key\(suggestion)", line: entry.line)
        }
    }

    // MARK: Scalars

    mutating func string(_ section: inout Section, _ key: String, required: Bool = false) -> String? {
        let path = section.path.appending(key)
        guard let (node, line) = section.take(key) else {
            if required { report(path, "is required", line: section.line) }
            return nil
        }
        guard case .scalar(let scalar) = node else {
            report(path, "must be a string, not \(node.kindName)", line: line)
            return nil
        }
        if scalar.string.isEmpty {
            report(path, "must not be empty", line: line)
            return nil
        }
        return scalar.string
    }

    mutating func int(
        _ section: inout Section, _ key: String, default value: Int, in range: ClosedRange<Int> = 1...Int.max
    ) -> Int {
        let path = section.path.appending(key)
        guard let (node, line) = section.take(key) else { return value }
        guard case .scalar = node, let number = node.int else {
            report(path, "must be an integer, not \(node.describedValue)", line: line)
            return value
        }
        guard range.contains(number) else {
            let bounds =
                range.upperBound == Int.max
                ? "at least \(range.lowerBound)" : "between \(range.lowerBound) and \(range.upperBound)"
            report(path, "must be \(bounds), not \(number)", line: line)
            return value
        }
        return number
    }

    mutating func bool(_ section: inout Section, _ key: String, default value: Bool) -> Bool {
        let path = section.path.appending(key)
        guard let (node, line) = section.take(key) else { return value }
        guard case .scalar(let scalar) = node, let flag = Self.boolean(scalar.string) else {
            report(path, "must be true or false, not \(node.describedValue)", line: line)
            return value
        }
        return flag
    }

    mutating func choice<Choice: RawRepresentable & CaseIterable>(
        _ section: inout Section, _ key: String, default value: Choice
    ) -> Choice where Choice.RawValue == String {
        choice(&section, key) ?? value
    }

    mutating func choice<Choice: RawRepresentable & CaseIterable>(
        _ section: inout Section, _ key: String, required: Bool = false
    ) -> Choice? where Choice.RawValue == String {
        let line = section.line(of: key)
        guard let text = string(&section, key, required: required) else { return nil }
        guard let choice = Choice(rawValue: text) else {
            let allowed = Choice.allCases.map(\.rawValue).joined(separator: ", ")
            report(section.path.appending(key), "must be one of \(allowed), not \(text)", line: line)
            return nil
        }
        return choice
    }

    mutating func strings(_ section: inout Section, _ key: String) -> [String] {
        var result: [String] = []
        for (path, node) in sequence(&section, key) {
            guard case .scalar(let scalar) = node, !scalar.string.isEmpty else {
                report(path, "must be a non-empty string", line: node.mark?.line)
                continue
            }
            result.append(scalar.string)
        }
        return result
    }

    // MARK: Paths and secrets

    /// A filesystem path, made absolute against the config file's directory.
    mutating func path(_ section: inout Section, _ key: String, required: Bool = false) -> String? {
        string(&section, key, required: required).map(absolute)
    }

    func absolute(_ path: String) -> String {
        let expanded = path.hasPrefix("~/") ? (environment["HOME"] ?? "~") + path.dropFirst(1) : path
        let joined = expanded.hasPrefix("/") ? expanded : directory + "/" + expanded
        return URL(fileURLWithPath: joined).standardizedFileURL.path
    }

    /// A secret from `<name>_file` (the file's content, without the trailing newline) or `<name>_env` (an
    /// environment variable). A literal `<name>:` is refused: secrets do not belong in the config file.
    mutating func secret(_ section: inout Section, _ name: String) -> Secret? {
        let fileKey = "\(name)_file"
        let envKey = "\(name)_env"
        if let (_, line) = section.take(name) {
            report(
                section.path.appending(name),
                "secrets are not written into the config; use \(fileKey) or \(envKey)", line: line)
        }
        let fileLine = section.line(of: fileKey)
        let envLine = section.line(of: envKey)
        let file = path(&section, fileKey)
        let variable = string(&section, envKey)
        switch (file, variable) {
        case (nil, nil):
            return nil
        case (.some, .some):
            report(section.path.appending(fileKey), "set either \(fileKey) or \(envKey), not both", line: fileLine)
            return nil
        case (let file?, nil):
            let filePath = section.path.appending(fileKey)
            guard FileManager.default.fileExists(atPath: file) else {
                report(filePath, "file not found (\(file))", line: fileLine)
                return nil
            }
            guard let data = FileManager.default.contents(atPath: file) else {
                report(filePath, "file is not readable (\(file))", line: fileLine)
                return nil
            }
            // Scalars, not Characters: "\r\n" is one Character, which neither "\r" nor "\n" equals.
            var scalars = String(decoding: data, as: UTF8.self).unicodeScalars
            while let last = scalars.last, last == "\n" || last == "\r" { scalars.removeLast() }
            let value = String(scalars)
            guard !value.isEmpty else {
                report(filePath, "file is empty (\(file))", line: fileLine)
                return nil
            }
            return Secret(value: value, source: "file \(file)")
        case (nil, let variable?):
            guard let value = environment[variable], !value.isEmpty else {
                report(
                    section.path.appending(envKey), "environment variable \(variable) is not set or empty",
                    line: envLine)
                return nil
            }
            return Secret(value: value, source: "env \(variable)")
        }
    }

    // MARK: Helpers

    private static func boolean(_ text: String) -> Bool? {
        switch text.lowercased() {
        case "true", "yes", "on": true
        case "false", "no", "off": false
        default: nil
        }
    }

    /// The known key within edit distance 2 of `key`, if there is one; of equally close keys the first in
    /// alphabetical order, so that the same file always gets the same suggestion (a `Set`'s order varies between
    /// instances).
    static func closest(to key: String, among known: Set<String>) -> String? {
        known.map { ($0, editDistance(key, $0)) }.filter { $0.1 <= 2 }.min { ($0.1, $0.0) < ($1.1, $1.0) }?.0
    }

    private static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a)
        let b = Array(b)
        var previous = Array(0...b.count)
        for i in 1...max(a.count, 1) where !a.isEmpty {
            var current = [i] + Array(repeating: 0, count: b.count)
            for j in 1...max(b.count, 1) where !b.isEmpty {
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            previous = current
        }
        return previous[b.count]
    }
}

extension Node {
    var isNull: Bool {
        guard case .scalar(let scalar) = self else { return false }
        return scalar.style == .plain && ["", "~", "null", "Null", "NULL"].contains(scalar.string)
    }

    var kindName: String {
        switch self {
        case .scalar: "a single value"
        case .mapping: "a mapping"
        case .sequence: "a list"
        case .alias: "an alias"
        }
    }

    var describedValue: String {
        if case .scalar(let scalar) = self { return "\"\(scalar.string)\"" }
        return kindName
    }
}
