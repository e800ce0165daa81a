/// Why a delivery could not be turned into a `TrackerEvent`: its body is not the JSON the forge documents.
public struct NormalizationError: Error, Sendable, CustomStringConvertible {
    /// The classes of failure. All of them mean "this body is bad"; none is transient.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        let name: String
        public var description: String { name }

        /// The body is not JSON.
        public static let malformedJSON = Code(name: "malformed_json")
        /// The body is JSON but not an object (an array, a string, a number).
        public static let notAnObject = Code(name: "not_an_object")
        /// The body nests arrays or objects deeper than any forge payload does.
        public static let tooDeep = Code(name: "too_deep")
        /// A field the event needs is absent or null.
        public static let missingField = Code(name: "missing_field")
        /// A field has the wrong JSON type (a number sent as a string, an object where a string belongs).
        public static let wrongType = Code(name: "wrong_type")
        /// The `source` is none of github, gitea, forgejo, gitlab, plane.
        public static let unknownSource = Code(name: "unknown_source")
    }

    public var code: Code
    /// What was wrong and where, e.g. `github 'issues' delivery: issue.number: expected a number, found a string`.
    public var message: String
    /// The decoder's own error, when there was one.
    public var cause: (any Error)?

    /// Makes an error.
    public init(_ code: Code, _ message: String, cause: (any Error)? = nil) {
        self.code = code
        self.message = message
        self.cause = cause
    }

    public var description: String { "\(code): \(message)" }
}
