import Config
import Testing

@testable import BosunSupervisor

@Suite("bosun dashboard: where the link points")
struct DashboardCommandTests {
    @Test("a wildcard listen address means this machine's loopback; IPv6 hosts are bracketed")
    func baseURL() throws {
        let cases = [
            ("0.0.0.0:8787", "http://127.0.0.1:8787"), (":8787", "http://127.0.0.1:8787"),
            ("[::]:9000", "http://[::1]:9000"), ("[::1]:9000", "http://[::1]:9000"),
            ("127.0.0.1:8787", "http://127.0.0.1:8787"), ("192.0.2.7:80", "http://192.0.2.7:80"),
        ]
        for (listen, url) in cases {
            let address = try #require(ListenAddress(parsing: listen))
            #expect(LoopbackHTTP.baseURL(address) == url, "\(listen)")
        }
    }

    @Test("nothing listening: a clear failure, not a hang")
    func refused() throws {
        let address = try #require(ListenAddress(parsing: "127.0.0.1:1"))
        #expect(throws: CommandFailure.self) {
            try LoopbackHTTP.post(address, path: "/api/v1/login-links", headers: [])
        }
    }
}
