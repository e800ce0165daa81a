import Foundation

/// A parsed JSON document. Booleans and numbers stay apart, so a `true` never passes for an issue number.
enum JSONValue: Sendable, Equatable {
    case null
    case bool(Bool)
    case integer(Int64)
    case double(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    /// Arrays and objects nested deeper than this are refused before decoding. Forge payloads stay under 12 levels;
    /// the bound keeps recursive decoding far from the stack's end whatever a sender nests.
    static let maximumDepth = 64

    /// Parses `bytes` as one JSON object.
    static func parseObject(_ bytes: [UInt8]) throws(NormalizationError) -> JSONObject {
        try checkDepth(bytes)
        let value: JSONValue
        do {
            value = try JSONParser.parse(bytes)
        } catch {
            throw NormalizationError(.malformedJSON, "the body is not valid JSON: \(error)", cause: error)
        }
        guard case .object(let fields) = value else {
            throw NormalizationError(.notAnObject, "the body is JSON \(value.typeName), not an object")
        }
        return JSONObject(fields, path: "")
    }

    /// Counts bracket nesting outside strings; a cheap scan that needs no recursion.
    private static func checkDepth(_ bytes: [UInt8]) throws(NormalizationError) {
        var depth = 0
        var inString = false
        var escaped = false
        for byte in bytes {
            if inString {
                if escaped {
                    escaped = false
                } else if byte == UInt8(ascii: "\\") {
                    escaped = true
                } else if byte == UInt8(ascii: "\"") {
                    inString = false
                }
                continue
            }
            switch byte {
            case UInt8(ascii: "\""): inString = true
            case UInt8(ascii: "["), UInt8(ascii: "{"):
                depth += 1
                if depth > maximumDepth {
                    throw NormalizationError(.tooDeep, "the body nests deeper than \(maximumDepth) levels")
                }
            case UInt8(ascii: "]"), UInt8(ascii: "}"): depth -= 1
            default: break
            }
        }
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

/// A JSON object with typed, path-aware field access: a wrong or missing field becomes a `NormalizationError`
/// that names it (`pull_request.head.ref: missing`). Null counts as absent.
struct JSONObject: Sendable {
    let fields: [String: JSONValue]
    /// Where this object sits in the document, dot-separated; empty for the root.
    let path: String

    init(_ fields: [String: JSONValue], path: String) {
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
