import CBosunCurl

/// Every libcurl call of the module. One easy handle per transfer, owned by the calling thread for the transfer's
/// duration and cleaned up before returning, so no handle is ever shared.
enum CurlTransfer {
    /// `curl_global_init` must run once before any other call; a `static let` runs it exactly once, thread-safely.
    private static let globalInit: CURLcode = bosun_curl_global_init_default()

    /// Runs one transfer to completion.
    static func perform(_ request: HTTPRequest, limits: HTTPClient.Limits) throws(OutboundError) -> HTTPResponse {
        guard globalInit == CURLE_OK else {
            throw OutboundError(.transport, "libcurl could not be initialised", cause: describe(globalInit))
        }
        for header in request.headers where !isSafeHeader(name: header.name, value: header.value) {
            throw OutboundError(.invalidRequest, "header \(sanitizedName(header.name)) has a line break or bad name")
        }
        let method = request.method.uppercased()
        guard !method.isEmpty, method.utf8.allSatisfy({ $0 >= UInt8(ascii: "A") && $0 <= UInt8(ascii: "Z") }) else {
            throw OutboundError(.invalidRequest, "HTTP method must be letters only")
        }
        guard let handle = curl_easy_init() else {
            throw OutboundError(.transport, "libcurl could not create a handle")
        }
        defer { curl_easy_cleanup(handle) }

        var headerList: UnsafeMutablePointer<curl_slist>?
        defer { curl_slist_free_all(headerList) }
        // An empty `Expect:` stops curl from waiting for `100 Continue` on larger bodies.
        for line in request.headers.map({ "\($0.name): \($0.value)" }) + ["Expect:"] {
            guard let appended = curl_slist_append(headerList, line) else {
                throw OutboundError(.transport, "libcurl could not build the header list")
            }
            headerList = appended
        }

        let sink = ResponseSink(limit: limits.maxResponseBytes)
        var errorBuffer = [CChar](repeating: 0, count: Int(CURL_ERROR_SIZE) + 1)
        let code: CURLcode = errorBuffer.withUnsafeMutableBufferPointer { errorPointer in
            let sinkPointer = Unmanaged.passUnretained(sink).toOpaque()
            var setup = CURLE_OK
            func set(_ result: CURLcode) { if setup == CURLE_OK { setup = result } }
            set(bosun_curl_setopt_pointer(handle, CURLOPT_ERRORBUFFER, errorPointer.baseAddress))
            set(bosun_curl_setopt_string(handle, CURLOPT_URL, request.url))
            set(bosun_curl_setopt_string(handle, CURLOPT_PROTOCOLS_STR, "http,https"))
            set(bosun_curl_setopt_long(handle, CURLOPT_NOSIGNAL, 1))
            set(bosun_curl_setopt_long(handle, CURLOPT_FOLLOWLOCATION, 0))
            set(bosun_curl_setopt_long(handle, CURLOPT_PATH_AS_IS, 1))
            set(bosun_curl_setopt_long(handle, CURLOPT_SSL_VERIFYPEER, 1))
            set(bosun_curl_setopt_long(handle, CURLOPT_SSL_VERIFYHOST, 2))
            set(bosun_curl_setopt_long(handle, CURLOPT_CONNECTTIMEOUT_MS, limits.connectTimeoutMilliseconds))
            set(bosun_curl_setopt_long(handle, CURLOPT_TIMEOUT_MS, limits.totalTimeoutMilliseconds))
            set(bosun_curl_setopt_string(handle, CURLOPT_ACCEPT_ENCODING, ""))
            set(bosun_curl_setopt_slist(handle, CURLOPT_HTTPHEADER, headerList))
            set(bosun_curl_setopt_write_callback(handle, CURLOPT_WRITEFUNCTION, bodyCallback))
            set(bosun_curl_setopt_pointer(handle, CURLOPT_WRITEDATA, sinkPointer))
            set(bosun_curl_setopt_write_callback(handle, CURLOPT_HEADERFUNCTION, headerCallback))
            set(bosun_curl_setopt_pointer(handle, CURLOPT_HEADERDATA, sinkPointer))
            if let body = request.body {
                set(bosun_curl_setopt_off_t(handle, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(body.count)))
                // COPYPOSTFIELDS copies the bytes, so the buffer need not outlive this call. An empty body still
                // needs a valid pointer, hence the one-byte stand-in (its size stays 0).
                let bytes = body.isEmpty ? [0] : body
                set(
                    bytes.withUnsafeBytes {
                        bosun_curl_setopt_pointer(
                            handle, CURLOPT_COPYPOSTFIELDS, UnsafeMutableRawPointer(mutating: $0.baseAddress))
                    })
                if method != "POST" { set(bosun_curl_setopt_string(handle, CURLOPT_CUSTOMREQUEST, method)) }
            } else if method == "GET" {
                set(bosun_curl_setopt_long(handle, CURLOPT_HTTPGET, 1))
            } else if method == "HEAD" {
                set(bosun_curl_setopt_long(handle, CURLOPT_NOBODY, 1))
            } else {
                set(bosun_curl_setopt_string(handle, CURLOPT_CUSTOMREQUEST, method))
            }
            guard setup == CURLE_OK else { return setup }
            let result = withExtendedLifetime(sink) { curl_easy_perform(handle) }
            _ = bosun_curl_setopt_pointer(handle, CURLOPT_ERRORBUFFER, nil)
            return result
        }
        let detail = String(decoding: errorBuffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        guard code == CURLE_OK else {
            throw error(for: code, detail: detail, sink: sink, limits: limits)
        }
        var status = 0
        _ = bosun_curl_getinfo_long(handle, CURLINFO_RESPONSE_CODE, &status)
        return HTTPResponse(status: status, headers: sink.headerDictionary, body: sink.body)
    }

    private static func error(
        for code: CURLcode, detail: String, sink: ResponseSink, limits: HTTPClient.Limits
    ) -> OutboundError {
        let cause = detail.isEmpty ? describe(code) : detail
        switch code {
        case CURLE_OPERATION_TIMEDOUT:
            return OutboundError(
                .timeout, "request timed out (limit \(limits.totalTimeoutMilliseconds) ms)", cause: cause)
        case CURLE_WRITE_ERROR where sink.overflowed:
            return OutboundError(
                .responseTooLarge, "response body exceeds \(limits.maxResponseBytes) bytes", cause: cause)
        case CURLE_COULDNT_RESOLVE_HOST, CURLE_COULDNT_RESOLVE_PROXY, CURLE_COULDNT_CONNECT, CURLE_SEND_ERROR,
            CURLE_RECV_ERROR, CURLE_GOT_NOTHING, CURLE_PARTIAL_FILE, CURLE_HTTP2, CURLE_HTTP2_STREAM:
            return OutboundError(.network, "connection failed", cause: cause)
        case CURLE_SSL_CONNECT_ERROR, CURLE_PEER_FAILED_VERIFICATION, CURLE_SSL_CERTPROBLEM, CURLE_SSL_CIPHER,
            CURLE_SSL_CACERT_BADFILE, CURLE_SSL_ISSUER_ERROR, CURLE_SSL_PINNEDPUBKEYNOTMATCH:
            return OutboundError(.tls, "TLS failed", cause: cause)
        case CURLE_URL_MALFORMAT, CURLE_UNSUPPORTED_PROTOCOL, CURLE_BAD_FUNCTION_ARGUMENT:
            return OutboundError(.invalidRequest, "request rejected by libcurl", cause: cause)
        default:
            return OutboundError(.transport, "transfer failed", cause: cause)
        }
    }

    private static func describe(_ code: CURLcode) -> String {
        guard let text = curl_easy_strerror(code) else { return "curl error \(code.rawValue)" }
        return String(cString: text)
    }

    private static func isSafeHeader(name: String, value: String) -> Bool {
        let tokenBytes = name.utf8
        guard !tokenBytes.isEmpty,
            tokenBytes.allSatisfy({ $0 > 32 && $0 < 127 && $0 != UInt8(ascii: ":") })
        else { return false }
        return !value.utf8.contains { $0 == 13 || $0 == 10 || $0 == 0 }
    }

    private static func sanitizedName(_ name: String) -> String {
        String(name.unicodeScalars.filter { $0.isASCII && $0.value > 32 && $0.value < 127 }.prefix(40))
    }
}

/// Collects one transfer's headers and body. Only curl's callbacks touch it, on the thread running
/// `curl_easy_perform`, and the caller reads it after that returns.
private final class ResponseSink {
    let limit: Int
    var body: [UInt8] = []
    var headers: [(String, String)] = []
    var overflowed = false

    init(limit: Int) { self.limit = limit }

    /// Names lowercased, repeated headers joined with `, `.
    var headerDictionary: [String: String] {
        var result: [String: String] = [:]
        for (name, value) in headers {
            result[name] = result[name].map { "\($0), \(value)" } ?? value
        }
        return result
    }

    func appendBody(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        guard body.count + bytes.count <= limit else {
            overflowed = true
            return false
        }
        body.append(contentsOf: bytes)
        return true
    }

    func appendHeaderLine(_ bytes: UnsafeBufferPointer<UInt8>) {
        var line = Substring(String(decoding: bytes, as: UTF8.self))
        while let last = line.last, last == "\r" || last == "\n" || last == "\r\n" { line = line.dropLast() }
        if line.hasPrefix("HTTP/") {
            // A new status line (after `100 Continue` or a proxy's answer): the headers so far were not the final
            // response's.
            headers.removeAll()
            return
        }
        guard let colon = line.firstIndex(of: ":") else { return }
        let name = line[..<colon].trimmingSpaces().lowercased()
        let value = line[line.index(after: colon)...].trimmingSpaces()
        guard !name.isEmpty else { return }
        headers.append((name, value))
    }
}

private let bodyCallback: curl_write_callback = { data, size, count, userData in
    let total = size * count
    guard let userData else { return 0 }
    let sink = Unmanaged<ResponseSink>.fromOpaque(userData).takeUnretainedValue()
    guard total > 0, let data else { return total }
    let bytes = UnsafeRawPointer(data).bindMemory(to: UInt8.self, capacity: total)
    return sink.appendBody(UnsafeBufferPointer(start: bytes, count: total)) ? total : 0
}

private let headerCallback: curl_write_callback = { data, size, count, userData in
    let total = size * count
    guard let userData else { return 0 }
    let sink = Unmanaged<ResponseSink>.fromOpaque(userData).takeUnretainedValue()
    guard total > 0, let data else { return total }
    let bytes = UnsafeRawPointer(data).bindMemory(to: UInt8.self, capacity: total)
    sink.appendHeaderLine(UnsafeBufferPointer(start: bytes, count: total))
    return total
}
