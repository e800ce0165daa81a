import Foundation

/// A parsed JSON document. Booleans and numbers stay apart, so a `true` never passes for an issue number.
enum JSONValue: Sendable, Equatable {
    case null
    case bool(Bool)
    case integer(Int64)
    case double(Double)
    case string(String)
    case array([JSONValue])
    case object(JSONFields)

    /// Arrays and objects nested deeper than this are refused while parsing. Forge payloads stay under 12 levels;
    /// the bound keeps recursive parsing far from the stack's end whatever a sender nests.
    static let maximumDepth = 64

    /// Parses `bytes` as one JSON object; top-level members named in `skipping` are checked but not kept.
    static func parseObject(_ bytes: [UInt8], skipping: Set<String> = []) throws(NormalizationError) -> JSONObject {
        let value: JSONValue
        do {
            value = try JSONParser.parse(bytes, skipping: skipping)
        } catch  where error.tooDeep {
            throw NormalizationError(.tooDeep, "the body nests deeper than \(maximumDepth) levels", cause: error)
        } catch {
            throw NormalizationError(.malformedJSON, "the body is not valid JSON: \(error)", cause: error)
        }
        guard case .object(let fields) = value else {
            throw NormalizationError(.notAnObject, "the body is JSON \(value.typeName), not an object")
        }
        return JSONObject(fields, path: "")
    }

    /// "a string", "an object", … for error messages.
    var typeName: String {
        switch self {
        case .null: "null"
        case .bool: "a boolean"
        case .integer, .double: "a number"
        case .string: "a string"
        case .array: "an array"
        case .object: "an object"
        }
    }
}

/// An object's members in document order. A webhook body is parsed once and read a few fields at a time, so a
/// list searched from the end (the last of duplicate keys wins, as in most parsers) costs far less than building a
/// hash table for each of its hundreds of objects.
struct JSONFields: Sendable, Equatable {
    private var members: [(key: String, value: JSONValue)] = []

    init() {}

    init(_ dictionary: [String: JSONValue]) {
        members = dictionary.map { ($0.key, $0.value) }
    }

    mutating func append(_ key: String, _ value: JSONValue) {
        members.append((key, value))
    }

    subscript(key: String) -> JSONValue? {
        members.last { $0.key == key }?.value
    }

    var isEmpty: Bool { members.isEmpty }

    /// Equal when they map the same keys to equal values, whatever the order.
    static func == (lhs: JSONFields, rhs: JSONFields) -> Bool {
        Dictionary(lhs.members, uniquingKeysWith: { $1 }) == Dictionary(rhs.members, uniquingKeysWith: { $1 })
    }
}

/// A JSON object with typed, path-aware field access: a wrong or missing field becomes a `NormalizationError`
/// that names it (`pull_request.head.ref: missing`). Null counts as absent.
struct JSONObject: Sendable {
    let fields: JSONFields
    /// Where this object sits in the document, dot-separated; empty for the root.
    let path: String

    init(_ fields: JSONFields, path: String) {
        self.fields = fields
        self.path = path
    }

    /// True when `key` is present and not null.
    func has(_ key: String) -> Bool { value(key) != nil }

    func object(_ key: String) throws(NormalizationError) -> JSONObject {
        guard let object = try optionalObject(key) else { throw missing(key) }
        return object
    }

    func optionalObject(_ key: String) throws(NormalizationError) -> JSONObject? {
        guard let value = value(key) else { return nil }
        guard case .object(let fields) = value else { throw wrongType(key, value, expected: "an object") }
        return JSONObject(fields, path: fieldPath(key))
    }

    func string(_ key: String) throws(NormalizationError) -> String {
        guard let string = try optionalString(key) else { throw missing(key) }
        return string
    }

    func optionalString(_ key: String) throws(NormalizationError) -> String? {
        guard let value = value(key) else { return nil }
        guard case .string(let string) = value else { throw wrongType(key, value, expected: "a string") }
        return string
    }

    func int(_ key: String) throws(NormalizationError) -> Int64 {
        guard let int = try optionalInt(key) else { throw missing(key) }
        return int
    }

    func optionalInt(_ key: String) throws(NormalizationError) -> Int64? {
        guard let value = value(key) else { return nil }
        guard case .integer(let int) = value else { throw wrongType(key, value, expected: "an integer") }
        return int
    }

    func optionalBool(_ key: String) throws(NormalizationError) -> Bool? {
        guard let value = value(key) else { return nil }
        guard case .bool(let bool) = value else { throw wrongType(key, value, expected: "a boolean") }
        return bool
    }

    func optionalArray(_ key: String) throws(NormalizationError) -> [JSONValue]? {
        guard let value = value(key) else { return nil }
        guard case .array(let array) = value else { throw wrongType(key, value, expected: "an array") }
        return array
    }

    /// The objects of the array at `key` (empty when absent); an element that is not an object is an error.
    func objects(_ key: String) throws(NormalizationError) -> [JSONObject] {
        var result: [JSONObject] = []
        for (index, element) in (try optionalArray(key) ?? []).enumerated() {
            guard case .object(let fields) = element else {
                throw NormalizationError(
                    .wrongType, "\(fieldPath(key))[\(index)]: expected an object, found \(element.typeName)")
            }
            result.append(JSONObject(fields, path: "\(fieldPath(key))[\(index)]"))
        }
        return result
    }

    /// The strings of the array at `key` (empty when absent); an element that is not a string is an error.
    func strings(_ key: String) throws(NormalizationError) -> [String] {
        var result: [String] = []
        for (index, element) in (try optionalArray(key) ?? []).enumerated() {
            guard case .string(let string) = element else {
                throw NormalizationError(
                    .wrongType, "\(fieldPath(key))[\(index)]: expected a string, found \(element.typeName)")
            }
            result.append(string)
        }
        return result
    }

    func fieldPath(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    private func value(_ key: String) -> JSONValue? {
        guard let value = fields[key], value != .null else { return nil }
        return value
    }

    private func missing(_ key: String) -> NormalizationError {
        NormalizationError(.missingField, "\(fieldPath(key)): missing")
    }

    private func wrongType(_ key: String, _ value: JSONValue, expected: String) -> NormalizationError {
        NormalizationError(.wrongType, "\(fieldPath(key)): expected \(expected), found \(value.typeName)")
    }
}
