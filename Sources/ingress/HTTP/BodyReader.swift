import Config
import HTTPTypes
import Hummingbird
import NIOCore

/// Reads a request body within the configured size: a declared `Content-Length` over the limit is refused before a
/// byte of the body is read; a chunked body is cut off as soon as it passes the limit. A refused request's connection
/// is closed (`Connection: close`), so that the rest of the body is never read. (A body that does not arrive in time
/// is cut off by `RequestDeadlines`.)
enum BodyReader {
    /// A body that was not read, and the response that says why.
    struct Refusal: Error {
        var response: Response
        /// The metrics label.
        var outcome: String
    }

    static func read(_ request: Request, limits: IngressConfig) async -> Result<[UInt8], Refusal> {
        if let declared = request.headers[.contentLength].flatMap(Int.init), declared > limits.maxBodyBytes {
            return .failure(tooLarge(limits))
        }
        // The body's deadline is `RequestDeadlines`', on the channel: no timer task per request here.
        do {
            return .success(Array(try await request.body.collect(upTo: limits.maxBodyBytes).readableBytesView))
        } catch is NIOTooManyBytesError {
            return .failure(tooLarge(limits))
        } catch {
            return .failure(
                Refusal(
                    response: JSONResponse.error(.badRequest, "unreadable body", "\(error)", headers: closing),
                    outcome: "invalid"))
        }
    }

    private static var closing: HTTPFields { [.connection: "close"] }

    private static func tooLarge(_ limits: IngressConfig) -> Refusal {
        Refusal(
            response: JSONResponse.error(
                .contentTooLarge, "body too large", "the limit is \(limits.maxBodyBytes) bytes", headers: closing),
            outcome: "too_large")
    }
}
