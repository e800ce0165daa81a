/// Builds a Prometheus text exposition (format 0.0.4): each family once, with its `# HELP` and `# TYPE` lines before
/// its samples, label values and help texts escaped. Hand-rolled: a few dozen series do not justify a metrics stack.
struct PrometheusText {
    enum Kind: String {
        case counter, gauge, histogram
    }

    private(set) var text = ""

    /// A family of counters or gauges: one sample per label set.
    mutating func family(
        _ name: String, _ kind: Kind, help: String, _ samples: [(labels: [(String, String)], value: Double)]
    ) {
        header(name, kind, help)
        for sample in samples { line(name, sample.labels, sample.value) }
    }

    /// A family with one unlabelled sample.
    mutating func single(_ name: String, _ kind: Kind, help: String, _ value: Double) {
        family(name, kind, help: help, [([], value)])
    }

    /// One series of a histogram: `labels` plus cumulative counts at each upper bound (`le`), then `+Inf`, sum and
    /// count.
    struct HistogramSeries {
        var labels: [(String, String)]
        var bounds: [Double]
        var cumulativeCounts: [Int]
        var count: Int
        var sum: Double
    }

    mutating func histogram(_ name: String, help: String, _ series: [HistogramSeries]) {
        header(name, .histogram, help)
        for one in series {
            for (bound, count) in zip(one.bounds, one.cumulativeCounts) {
                line(name + "_bucket", one.labels + [("le", Self.number(bound))], Double(count))
            }
            line(name + "_bucket", one.labels + [("le", "+Inf")], Double(one.count))
            line(name + "_sum", one.labels, one.sum)
            line(name + "_count", one.labels, Double(one.count))
        }
    }

    private mutating func header(_ name: String, _ kind: Kind, _ help: String) {
        text += "# HELP \(name) \(Self.escapeHelp(help))\n# TYPE \(name) \(kind.rawValue)\n"
    }

    private mutating func line(_ name: String, _ labels: [(String, String)], _ value: Double) {
        text += name
        if !labels.isEmpty {
            text += "{" + labels.map { "\($0.0)=\"\(Self.escapeLabel($0.1))\"" }.joined(separator: ",") + "}"
        }
        text += " " + Self.number(value) + "\n"
    }

    /// Integers without a fraction, others in Swift's shortest round-tripping form; `+Inf`, `-Inf`, `NaN`.
    static func number(_ value: Double) -> String {
        if value.isNaN { return "NaN" }
        if value.isInfinite { return value > 0 ? "+Inf" : "-Inf" }
        if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        return "\(value)"
    }

    /// A label value: backslash, double quote and line feed escaped.
    static func escapeLabel(_ value: String) -> String {
        escape(value, quote: true)
    }

    /// A help text: backslash and line feed escaped.
    static func escapeHelp(_ value: String) -> String {
        escape(value, quote: false)
    }

    /// Works on Unicode scalars, not characters: `\r\n` is one character, and its line feed must be escaped too.
    private static func escape(_ value: String, quote: Bool) -> String {
        var escaped = String.UnicodeScalarView()
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\\": escaped.append(contentsOf: "\\\\".unicodeScalars)
            case "\n": escaped.append(contentsOf: "\\n".unicodeScalars)
            case "\"" where quote: escaped.append(contentsOf: "\\\"".unicodeScalars)
            default: escaped.append(scalar)
            }
        }
        return String(escaped)
    }
}
