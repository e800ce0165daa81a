/// A value SQLite stores: the five storage classes.
public enum SQLValue: Sendable, Equatable, Hashable {
    case null
    case integer(Int64)
    case real(Double)
    case text(String)
    case blob([UInt8])
}

extension SQLValue: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByNilLiteral,
    ExpressibleByFloatLiteral
{
    public init(stringLiteral value: String) { self = .text(value) }
    public init(integerLiteral value: Int64) { self = .integer(value) }
    public init(nilLiteral: ()) { self = .null }
    public init(floatLiteral value: Double) { self = .real(value) }
}

extension SQLValue {
    /// `.text`, or `.null` for nil.
    public static func text(_ value: String?) -> SQLValue { value.map { .text($0) } ?? .null }
    /// `.integer`, or `.null` for nil.
    public static func integer(_ value: Int?) -> SQLValue { value.map { .integer(Int64($0)) } ?? .null }
    /// `.integer`, or `.null` for nil.
    public static func integer(_ value: Int64?) -> SQLValue { value.map { .integer($0) } ?? .null }
    /// 1 or 0.
    public static func bool(_ value: Bool) -> SQLValue { .integer(value ? 1 : 0) }
}

/// One result row, with its values addressable by column name.
public struct Row: Sendable {
    public let columns: [String]
    public let values: [SQLValue]

    public init(columns: [String], values: [SQLValue]) {
        self.columns = columns
        self.values = values
    }

    /// The value of the named column; `.null` if there is no such column.
    public subscript(_ column: String) -> SQLValue {
        guard let index = columns.firstIndex(of: column) else { return .null }
        return values[index]
    }

    /// The named column as an integer, nil if it is NULL.
    public func int64(_ column: String) throws(StoreError) -> Int64? {
        switch self[column] {
        case .null: return nil
        case .integer(let value): return value
        case let other: throw StoreError(.decoding, "column \(column) is \(other), not an integer")
        }
    }

    /// The named column as an Int, nil if it is NULL.
    public func int(_ column: String) throws(StoreError) -> Int? {
        try int64(column).map { Int($0) }
    }

    /// The named column as text, nil if it is NULL.
    public func string(_ column: String) throws(StoreError) -> String? {
        switch self[column] {
        case .null: return nil
        case .text(let value): return value
        case let other: throw StoreError(.decoding, "column \(column) is \(other), not text")
        }
    }

    /// The named column as bytes, nil if it is NULL.
    public func blob(_ column: String) throws(StoreError) -> [UInt8]? {
        switch self[column] {
        case .null: return nil
        case .blob(let value): return value
        case .text(let value): return Array(value.utf8)
        case let other: throw StoreError(.decoding, "column \(column) is \(other), not a blob")
        }
    }

    /// A column that must not be NULL.
    public func required<T>(_ column: String, _ read: (String) throws(StoreError) -> T?) throws(StoreError) -> T {
        guard let value = try read(column) else { throw StoreError(.decoding, "column \(column) is NULL") }
        return value
    }
}
