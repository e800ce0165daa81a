import HTTPTypes
import Hummingbird
import NIOCore

/// JSON responses, the only kind the API and the webhooks answer with.
enum JSONResponse {
    /// A response whose body is a flat JSON object of strings, keys sorted. Built by hand: this is on every
    /// webhook's path, and `JSONEncoder` costs more than everything else about such a response.
    static func make(_ status: HTTPResponse.Status, _ object: [String: String], headers: HTTPFields = [:]) -> Response {
        make(status, json: JSONText.object(object), headers: headers)
    }

    /// A response with a JSON text as its body.
    static func make(_ status: HTTPResponse.Status, json: String, headers: HTTPFields = [:]) -> Response {
        var fields = headers
        fields[.contentType] = "application/json"
        return Response(status: status, headers: fields, body: .init(byteBuffer: ByteBuffer(string: json)))
    }

    /// `{"error": …, "detail": …}`
    static func error(
        _ status: HTTPResponse.Status, _ error: String, _ detail: String, headers: HTTPFields = [:]
    )
        -> Response
    {
        make(status, ["error": error, "detail": detail], headers: headers)
    }
}

/// Small JSON texts built by hand.
enum JSONText {
    /// `{"a":"1","b":"2"}` with sorted keys.
    static func object(_ members: [String: String]) -> String {
        var text = "{"
        for (index, key) in members.keys.sorted().enumerated() {
            if index > 0 { text += "," }
            text += string(key) + ":" + string(members[key]!)
        }
        return text + "}"
    }

    /// A JSON string literal, escaped per RFC 8259.
    static func string(_ value: String) -> String {
        // Nearly every value (delivery ids, header values, statuses) needs no escape at all.
        if !value.utf8.contains(where: { $0 < 0x20 || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") }) {
            return "\"" + value + "\""
        }
        var text = "\""
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\"": text += "\\\""
            case "\\": text += "\\\\"
            case "\n": text += "\\n"
            case "\r": text += "\\r"
            case "\t": text += "\\t"
            case let control where control.value < 0x20:
                let hex = String(control.value, radix: 16)
                text += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: text.unicodeScalars.append(scalar)
            }
        }
        return text + "\""
    }
}
