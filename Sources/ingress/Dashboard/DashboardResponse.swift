import HTTPTypes
import Hummingbird
import NIOCore

/// Every dashboard response carries the same strict headers: a Content-Security-Policy that allows only the
/// dashboard's own stylesheet, script and requests, no framing, no MIME sniffing, no caching, no referrer.
enum DashboardResponse {
    static let contentSecurityPolicy =
        "default-src 'none'; style-src 'self'; script-src 'self'; connect-src 'self'; form-action 'self'; "
        + "frame-ancestors 'none'; base-uri 'none'"

    /// The security headers plus a content type.
    static func headers(contentType: String?) -> HTTPFields {
        var headers = HTTPFields()
        if let contentType { headers[.contentType] = contentType }
        headers[.contentSecurityPolicy] = contentSecurityPolicy
        headers[.xContentTypeOptions] = "nosniff"
        headers[HTTPField.Name("X-Frame-Options")!] = "DENY"
        headers[.cacheControl] = "no-store"
        headers[HTTPField.Name("Referrer-Policy")!] = "no-referrer"
        return headers
    }

    static func html(_ status: HTTPResponse.Status, _ page: HTML, setCookie: String? = nil) -> Response {
        var headers = headers(contentType: "text/html; charset=utf-8")
        if let setCookie { headers[.setCookie] = setCookie }
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: page.markup)))
    }

    static func text(
        _ status: HTTPResponse.Status, _ text: String, contentType: String = "text/plain; charset=utf-8",
        extra: HTTPFields = [:]
    ) -> Response {
        var headers = headers(contentType: contentType)
        headers.append(contentsOf: extra)
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    /// 303 See Other to a path of ours.
    static func redirect(to location: String, setCookie: String? = nil) -> Response {
        var headers = headers(contentType: nil)
        headers[.location] = location
        if let setCookie { headers[.setCookie] = setCookie }
        return Response(status: .seeOther, headers: headers)
    }
}
