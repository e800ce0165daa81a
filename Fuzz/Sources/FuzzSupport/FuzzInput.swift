/// Reads a fuzzer's byte string as structured input: small choices from the front, fields up to a separator, and
/// whatever is left. Running out of bytes is never an error: a choice then reads as 0 and a field as empty, so every
/// byte string is a valid input and the fuzzer wastes no runs on rejected ones.
public struct FuzzInput {
    private let bytes: [UInt8]
    private var index = 0

    /// Wraps one input.
    public init(_ bytes: [UInt8]) {
        self.bytes = bytes
    }

    /// Wraps the buffer libFuzzer passes to `LLVMFuzzerTestOneInput`.
    public init(_ data: UnsafePointer<UInt8>?, _ size: Int) {
        guard let data, size > 0 else {
            self.init([])
            return
        }
        self.init(Array(UnsafeBufferPointer(start: data, count: size)))
    }

    /// True when every byte has been read.
    public var isAtEnd: Bool { index >= bytes.count }

    /// The next byte, or 0 past the end.
    public mutating func byte() -> UInt8 {
        guard index < bytes.count else { return 0 }
        defer { index += 1 }
        return bytes[index]
    }

    /// One of `choices`, picked by the next byte.
    public mutating func pick<Element>(_ choices: [Element]) -> Element {
        choices[Int(byte()) % choices.count]
    }

    /// The bytes up to the next `separator` (which is consumed), or up to the end.
    public mutating func field(until separator: UInt8) -> [UInt8] {
        let start = index
        while index < bytes.count, bytes[index] != separator { index += 1 }
        defer { if index < bytes.count { index += 1 } }
        return Array(bytes[start..<index])
    }

    /// Everything not read yet.
    public mutating func rest() -> [UInt8] {
        defer { index = bytes.count }
        return index < bytes.count ? Array(bytes[index...]) : []
    }
}

/// Stops the run with `message` when an invariant does not hold: libFuzzer reports the crash and keeps the input as
/// a `crash-…` artifact, which is how a broken invariant becomes a reproducible case.
public func require(
    _ condition: @autoclosure () -> Bool, _ message: @autoclosure () -> String, file: StaticString = #fileID,
    line: UInt = #line
) {
    if !condition() {
        fatalError("invariant broken: \(message())", file: file, line: line)
    }
}

/// Lowercase hex of `bytes`.
public func hex<Bytes: Sequence<UInt8>>(_ bytes: Bytes) -> String {
    let digits = Array("0123456789abcdef".utf8)
    var text: [UInt8] = []
    for byte in bytes {
        text.append(digits[Int(byte >> 4)])
        text.append(digits[Int(byte & 0x0f)])
    }
    return String(decoding: text, as: UTF8.self)
}
