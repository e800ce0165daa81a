import Foundation

/// Columns that hold JSON (counters, job specs, outcomes, outbox effects): encoded with sorted keys so the same
/// value is always the same text.
public enum JSONColumn {
    /// `value` as compact JSON text.
    public static func encode<T: Encodable>(_ value: T) throws(StoreError) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        do {
            return String(decoding: try encoder.encode(value), as: UTF8.self)
        } catch {
            throw StoreError(.decoding, "cannot encode \(T.self) as JSON: \(error)")
        }
    }

    /// The value that `text` encodes.
    public static func decode<T: Decodable>(_ text: String, as type: T.Type = T.self) throws(StoreError) -> T {
        do {
            return try JSONDecoder().decode(T.self, from: Data(text.utf8))
        } catch {
            throw StoreError(.decoding, "cannot decode \(T.self) from the stored JSON: \(error)")
        }
    }
}
