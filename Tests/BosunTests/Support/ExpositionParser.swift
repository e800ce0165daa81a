import Foundation

/// A strict reader of the Prometheus text format 0.0.4, for checking what `/metrics` serves: it refuses anything a
/// scraper might misread instead of guessing.
///
/// Checked: only `# HELP` and `# TYPE` comments, each at most once per family and before its samples; every sample
/// belongs to a family declared by `# TYPE` (a histogram's through `_bucket`, `_sum`, `_count`); valid metric and
/// label names; label values quoted with only `\\`, `\"` and `\n` escapes; no series twice; a family's samples
/// together; counters named `…_total`; histogram buckets cumulative, ordered by `le`, ending in `+Inf` equal to
/// `_count`, with `_sum` and `_count` present.
struct Exposition {
    struct Sample: Equatable {
        var name: String
        var labels: [String: String]
        var value: Double
    }

    struct Family {
        var type: String
        var help: String?
        var samples: [Sample] = []
    }

    struct Invalid: Error, CustomStringConvertible {
        var line: Int
        var reason: String
        var description: String { "line \(line): \(reason)" }
    }

    private(set) var families: [String: Family] = [:]

    /// The value of the series `name` with exactly these labels.
    func value(_ name: String, _ labels: [String: String] = [:]) -> Double? {
        families.values.lazy.flatMap(\.samples).first { $0.name == name && $0.labels == labels }?.value
    }

    /// Every series of `name`, whatever its labels.
    func samples(_ name: String) -> [Sample] {
        families.values.flatMap(\.samples).filter { $0.name == name }
    }

    init(parsing text: String) throws {
        guard text.hasSuffix("\n") else { throw Invalid(line: 0, reason: "the text must end with a line feed") }
        var finished: Set<String> = []
        var current: String?
        var series: Set<String> = []
        for (index, line) in text.dropLast().split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let number = index + 1
            func fail(_ reason: String) -> Invalid { Invalid(line: number, reason: "\(reason): \(line)") }
            if line.isEmpty { throw fail("empty line") }
            if line.hasPrefix("#") {
                let parts = line.split(separator: " ", maxSplits: 3, omittingEmptySubsequences: false).map(String.init)
                guard parts.count >= 3, parts[0] == "#", ["HELP", "TYPE"].contains(parts[1]) else {
                    throw fail("only # HELP and # TYPE comments are expected")
                }
                let name = parts[2]
                guard Self.isMetricName(name) else { throw fail("invalid metric name") }
                if current != name {
                    if let current { finished.insert(current) }
                    guard !finished.contains(name) else { throw fail("family \(name) appears twice") }
                    current = name
                }
                if parts[1] == "TYPE" {
                    guard parts.count == 4, ["counter", "gauge", "histogram"].contains(parts[3]) else {
                        throw fail("unknown or missing type")
                    }
                    guard families[name] == nil || families[name]!.type.isEmpty else { throw fail("second TYPE") }
                    guard families[name]?.samples.isEmpty ?? true else { throw fail("TYPE after samples") }
                    if parts[3] == "counter" && !name.hasSuffix("_total") {
                        throw fail("a counter's name must end in _total")
                    }
                    families[name, default: Family(type: "")].type = parts[3]
                } else {
                    guard families[name]?.help == nil else { throw fail("second HELP") }
                    guard parts.count == 4, !parts[3].isEmpty else { throw fail("empty HELP") }
                    try Self.checkEscapes(parts[3], quotes: false, line: number)
                    families[name, default: Family(type: "")].help = parts[3]
                }
                continue
            }
            let sample = try Self.sample(String(line), line: number)
            guard let family = current, let type = families[family]?.type, !type.isEmpty else {
                throw fail("a sample without a # TYPE for its family")
            }
            let allowed =
                type == "histogram" ? [family + "_bucket", family + "_sum", family + "_count"] : [family]
            guard allowed.contains(sample.name) else { throw fail("sample \(sample.name) outside family \(family)") }
            if type == "histogram" && (sample.name.hasSuffix("_bucket") != (sample.labels["le"] != nil)) {
                throw fail("le belongs on buckets and only there")
            }
            let key =
                sample.name + "|"
                + sample.labels.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
                .joined(separator: ",")
            guard series.insert(key).inserted else { throw fail("the same series twice") }
            families[family]!.samples.append(sample)
        }
        for (name, family) in families {
            guard !family.type.isEmpty else { throw Invalid(line: 0, reason: "\(name) has HELP but no TYPE") }
            if family.type == "histogram" { try Self.checkHistogram(name, family.samples) }
        }
    }

    private static func checkHistogram(_ name: String, _ samples: [Sample]) throws {
        var groups: [[String: String]: (buckets: [(Double, Double)], sum: Double?, count: Double?)] = [:]
        for sample in samples {
            var labels = sample.labels
            let le = labels.removeValue(forKey: "le")
            var group = groups[labels] ?? ([], nil, nil)
            if sample.name.hasSuffix("_bucket") {
                guard let bound = le.flatMap(number) else {
                    throw Invalid(line: 0, reason: "\(name): le \(le ?? "") is not a number")
                }
                group.buckets.append((bound, sample.value))
            } else if sample.name.hasSuffix("_sum") {
                group.sum = sample.value
            } else {
                group.count = sample.value
            }
            groups[labels] = group
        }
        for (labels, group) in groups {
            let what = "\(name)\(labels)"
            guard let count = group.count, group.sum != nil else {
                throw Invalid(line: 0, reason: "\(what) lacks _sum or _count")
            }
            guard let last = group.buckets.last, last.0 == .infinity else {
                throw Invalid(line: 0, reason: "\(what) does not end in le=\"+Inf\"")
            }
            guard last.1 == count else {
                throw Invalid(line: 0, reason: "\(what): +Inf bucket \(last.1) ≠ count \(count)")
            }
            for (previous, next) in zip(group.buckets, group.buckets.dropFirst()) {
                guard previous.0 < next.0 else { throw Invalid(line: 0, reason: "\(what): le not ascending") }
                guard previous.1 <= next.1 else { throw Invalid(line: 0, reason: "\(what): buckets not cumulative") }
            }
        }
    }

    private static func sample(_ line: String, line number: Int) throws -> Sample {
        let scalars = Array(line.unicodeScalars)
        var index = 0
        func fail(_ reason: String) -> Invalid { Invalid(line: number, reason: "\(reason): \(line)") }
        var name = ""
        while index < scalars.count, scalars[index] != "{", scalars[index] != " " {
            name.unicodeScalars.append(scalars[index])
            index += 1
        }
        guard isMetricName(name) else { throw fail("invalid metric name") }
        var labels: [String: String] = [:]
        if index < scalars.count, scalars[index] == "{" {
            index += 1
            while true {
                guard index < scalars.count else { throw fail("unterminated labels") }
                if scalars[index] == "}" {
                    index += 1
                    break
                }
                var label = ""
                while index < scalars.count, scalars[index] != "=" {
                    label.unicodeScalars.append(scalars[index])
                    index += 1
                }
                guard isLabelName(label) else { throw fail("invalid label name \(label)") }
                guard index + 1 < scalars.count, scalars[index + 1] == "\"" else {
                    throw fail("label value not quoted")
                }
                index += 2
                var value = ""
                while true {
                    guard index < scalars.count else { throw fail("unterminated label value") }
                    let scalar = scalars[index]
                    index += 1
                    if scalar == "\"" { break }
                    if scalar == "\\" {
                        guard index < scalars.count else { throw fail("dangling backslash") }
                        switch scalars[index] {
                        case "\\": value += "\\"
                        case "\"": value += "\""
                        case "n": value += "\n"
                        default: throw fail("unknown escape \\\(scalars[index])")
                        }
                        index += 1
                    } else {
                        value.unicodeScalars.append(scalar)
                    }
                }
                guard labels.updateValue(value, forKey: label) == nil else { throw fail("label \(label) twice") }
                guard index < scalars.count else { throw fail("unterminated labels") }
                if scalars[index] == "," {
                    index += 1
                } else if scalars[index] != "}" {
                    throw fail("expected , or } after a label")
                }
            }
        }
        guard index < scalars.count, scalars[index] == " " else { throw fail("expected a space before the value") }
        let rest = String(String.UnicodeScalarView(scalars[(index + 1)...])).split(
            separator: " ", omittingEmptySubsequences: false)
        guard rest.count == 1 || rest.count == 2, let value = Self.number(String(rest[0])) else {
            throw fail("invalid value")
        }
        if rest.count == 2, Int64(rest[1]) == nil { throw fail("invalid timestamp") }
        return Sample(name: name, labels: labels, value: value)
    }

    private static func checkEscapes(_ text: String, quotes: Bool, line: Int) throws {
        var escaping = false
        for scalar in text.unicodeScalars {
            if escaping {
                guard scalar == "\\" || scalar == "n" || (quotes && scalar == "\"") else {
                    throw Invalid(line: line, reason: "unknown escape in \(text)")
                }
                escaping = false
            } else if scalar == "\\" {
                escaping = true
            }
        }
        if escaping { throw Invalid(line: line, reason: "dangling backslash in \(text)") }
    }

    /// Go's float syntax as Prometheus accepts it, in the forms a server writes.
    static func number(_ text: String) -> Double? {
        switch text {
        case "+Inf": return .infinity
        case "-Inf": return -.infinity
        case "NaN": return .nan
        default:
            guard !text.isEmpty, text.allSatisfy({ "0123456789.eE+-".contains($0) }) else { return nil }
            return Double(text)
        }
    }

    static func isMetricName(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, first == "_" || first == ":" || first.isASCIILetter else {
            return false
        }
        return name.unicodeScalars.allSatisfy { $0 == "_" || $0 == ":" || $0.isASCIILetter || $0.isASCIIDigit }
    }

    static func isLabelName(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, first == "_" || first.isASCIILetter, !name.hasPrefix("__") else {
            return false
        }
        return name.unicodeScalars.allSatisfy { $0 == "_" || $0.isASCIILetter || $0.isASCIIDigit }
    }
}

extension Unicode.Scalar {
    fileprivate var isASCIILetter: Bool { ("a"..."z").contains(self) || ("A"..."Z").contains(self) }
    fileprivate var isASCIIDigit: Bool { ("0"..."9").contains(self) }
}
