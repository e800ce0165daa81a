import Foundation
import IPC
import Logging
import NIOCore
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A test-only request whose handler sleeps.
struct SlowRequest: IPCRequest {
    static let type = "slow"
    typealias Reply = Empty
    var milliseconds: Int
}

/// A test-only event.
struct Note: IPCEvent {
    static let type = "note"
    var text: String
}

@Suite("IPC over real Unix sockets")
struct IPCServerTests {
    let directory = TemporaryDirectory("bosun-ipc")
    var path: String { directory.file("run/test.sock") }

    func hello(_ role: IPCRole = .cli) -> Hello {
        Hello(role: role, pid: getpid(), program: "test", version: "test")
    }

    /// Binds a server with a few handlers and runs it for the duration of `body`.
    func withServer(
        handshakeTimeout: TimeAmount = .seconds(5), logger: Logger = quietLogger,
        admit: @escaping @Sendable (Hello, PeerCredentials) async -> String? = { _, _ in nil },
        notes: AsyncStream<String>.Continuation? = nil,
        _ body: (IPCServer) async throws -> Void
    ) async throws {
        let server = try await IPCServer.bind(
            path: path, role: .supervisor, maxFrameSize: 4096, handshakeTimeout: handshakeTimeout, logger: logger)
        var handlers = IPCHandlers()
        handlers.onRequest(Ping.self) { _, _ in Pong(pid: getpid()) }
        handlers.onRequest(Restart.self) { request, _ in
            throw IPCError(.remote, "no process named \(request.name)")
        }
        handlers.onRequest(SlowRequest.self) { request, _ in
            try await Task.sleep(for: .milliseconds(request.milliseconds))
            return Empty()
        }
        handlers.onEvent(Note.self) { note, _ in notes?.yield(note.text) }
        let serving = handlers
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await server.run(handlers: serving, admit: admit) }
            defer { group.cancelAll() }
            try await body(server)
        }
    }

    func ping() async throws -> Int32 {
        try await IPCClient.withConnection(path: path, hello: hello(), logger: quietLogger) { connection in
            try await connection.request(Ping()).pid
        }
    }

    @Test("requests get their replies, errors come back as errors, events arrive")
    func roundTrips() async throws {
        let (notes, continuation) = AsyncStream<String>.makeStream()
        try await withServer(notes: continuation) { _ in
            #expect(try await ping() == getpid())
            try await IPCClient.withConnection(path: path, hello: hello(), logger: quietLogger) { connection in
                #expect(connection.peer.role == .supervisor)
                do {
                    _ = try await connection.request(Restart(name: "nope"))
                    Issue.record("expected an error reply")
                } catch let error as IPCError {
                    #expect(error.code == .remote)
                    #expect(error.message == "no process named nope")
                }
                do {
                    _ = try await connection.request(Status())
                    Issue.record("expected unknown_type")
                } catch let error as IPCError {
                    #expect(error.message.contains("does not handle status"))
                }
                try await connection.send(Note(text: "hello"))
            }
            var iterator = notes.makeAsyncIterator()
            #expect(await iterator.next() == "hello")
        }
    }

    @Test("a request without a reply in time fails with timeout, and the connection still works")
    func timeout() async throws {
        try await withServer { _ in
            try await IPCClient.withConnection(path: path, hello: hello(), logger: quietLogger) { connection in
                do {
                    _ = try await connection.request(SlowRequest(milliseconds: 2000), timeout: .milliseconds(100))
                    Issue.record("expected a timeout")
                } catch let error as IPCError {
                    #expect(error.code == .timeout)
                }
                #expect(try await connection.request(Ping()).pid == getpid())
            }
        }
    }

    @Test("the socket is 0600 in a 0700 directory; a live socket is not taken over, a stale one is")
    func permissionsAndOwnership() async throws {
        try await withServer { _ in
            var info = stat()
            stat(path, &info)
            #expect(info.st_mode & 0o777 == 0o600)
            stat(directory.file("run"), &info)
            #expect(info.st_mode & 0o777 == 0o700)
            do {
                _ = try await IPCServer.bind(path: path, role: .supervisor, logger: quietLogger)
                Issue.record("a second server took over a live socket")
            } catch let error as IPCError {
                #expect(error.code == .socketSetup)
            }
        }
        // The first server is gone and its file removed; a stale file left by a crash is replaced.
        let stale = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        _ = withUnixAddress(path) { bind(stale, $0, $1) }
        close(stale)
        #expect(FileManager.default.fileExists(atPath: path))
        try await withServer { _ in
            let pid = try await ping()
            #expect(pid == getpid())
        }
    }

    @Test("garbage, an oversized frame, a missing hello: that connection closes with one log line, others go on")
    func badPeersAreCutOff() async throws {
        let lines = CapturedLines()
        try await withServer(handshakeTimeout: .milliseconds(300), logger: lines.logger()) { _ in
            try await IPCClient.withConnection(path: path, hello: hello(), logger: quietLogger) { good in
                let garbage = try RawUnixSocket(path: path)
                garbage.send(Array("GET / HTTP/1.1\r\n\r\n".utf8))
                #expect(await garbage.readUntilClosed().closed)

                let oversized = try RawUnixSocket(path: path)
                oversized.send([0x7f, 0xff, 0xff, 0xff, 0x7b])
                #expect(await oversized.readUntilClosed().closed)

                let notJSON = try RawUnixSocket(path: path)
                notJSON.sendFrame("this is not json")
                #expect(await notJSON.readUntilClosed().closed)

                let noHello = try RawUnixSocket(path: path)
                noHello.sendFrame("{\"v\":1,\"id\":1,\"kind\":\"request\",\"type\":\"ping\",\"payload\":{}}")
                #expect(await noHello.readUntilClosed().closed)

                let silent = try RawUnixSocket(path: path)
                #expect(await silent.readUntilClosed().closed)

                #expect(try await good.request(Ping()).pid == getpid())
                #expect(try await ping() == getpid())
            }
        }
        let closings = lines.all.filter { $0.contains("closing IPC connection") }
        #expect(closings.count == 5, "\(lines.all)")
    }

    @Test("an established peer that sends another protocol version is told why, then disconnected")
    func wrongVersion() async throws {
        try await withServer { _ in
            let raw = try RawUnixSocket(path: path)
            raw.sendHello()
            raw.sendFrame("{\"v\":2,\"id\":2,\"kind\":\"request\",\"type\":\"ping\",\"payload\":{}}")
            let (bytes, closed) = await raw.readUntilClosed()
            #expect(closed)
            let text = String(decoding: bytes, as: UTF8.self)
            #expect(text.contains("\"type\":\"hello\""))
            #expect(text.contains("unsupported_version"))
            #expect(try await ping() == getpid())
        }
    }

    @Test("a hello with another version is refused during the handshake")
    func wrongVersionHello() async throws {
        try await withServer { _ in
            let raw = try RawUnixSocket(path: path)
            raw.sendFrame(
                "{\"v\":9,\"id\":1,\"kind\":\"request\",\"type\":\"hello\",\"payload\":"
                    + "{\"role\":\"cli\",\"pid\":1,\"program\":\"raw\",\"version\":\"x\"}}")
            #expect(await raw.readUntilClosed().closed)
            #expect(try await ping() == getpid())
        }
    }

    @Test("the admission check can refuse a peer, which learns why")
    func refusal() async throws {
        let onlyWorkers: @Sendable (Hello, PeerCredentials) async -> String? = { hello, credentials in
            let admitted = hello.role == .worker && credentials.uid == geteuid()
            return admitted ? nil : "only workers here"
        }
        try await withServer(admit: onlyWorkers) { _ in
            do {
                _ = try await ping()
                Issue.record("expected a refusal")
            } catch let error as IPCError {
                #expect(error.code == .handshake)
                #expect(error.message == "only workers here")
            }
            let pid = try await IPCClient.withConnection(path: path, hello: hello(.worker), logger: quietLogger) {
                try await $0.request(Ping()).pid
            }
            #expect(pid == getpid())
        }
    }

    @Test("a request waiting for a reply fails at once when the peer goes away, even from an event handler")
    func pendingFailsOnClose() async throws {
        let server = try await IPCServer.bind(path: path, role: .supervisor, logger: quietLogger)
        let (outcomes, continuation) = AsyncStream<(IPCError.Code?, Duration)>.makeStream()
        var handlers = IPCHandlers()
        handlers.onEvent(Note.self) { _, connection in
            let started = ContinuousClock.now
            do {
                _ = try await connection.request(Ping(), timeout: .seconds(30))
                continuation.yield((nil, ContinuousClock.now - started))
            } catch let error as IPCError {
                continuation.yield((error.code, ContinuousClock.now - started))
            } catch {
                continuation.yield((nil, ContinuousClock.now - started))
            }
        }
        let serving = handlers
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await server.run(handlers: serving) }
            defer { group.cancelAll() }
            let raw = try RawUnixSocket(path: path)
            raw.sendHello()
            raw.sendFrame("{\"v\":1,\"id\":2,\"kind\":\"event\",\"type\":\"note\",\"payload\":{\"text\":\"x\"}}")
            // Wait for the server's ping to arrive, then hang up without answering it.
            try await eventually("the server's ping") {
                String(decoding: await raw.readAvailable(), as: UTF8.self).contains("\"type\":\"ping\"")
            }
            raw.close()
            var iterator = outcomes.makeAsyncIterator()
            let (code, elapsed) = try #require(await iterator.next())
            #expect(code == .closed)
            #expect(elapsed < .seconds(10))
        }
    }

    @Test("connecting where nothing listens is unreachable")
    func unreachable() async throws {
        do {
            _ = try await ping()
            Issue.record("expected unreachable")
        } catch let error as IPCError {
            #expect(error.code == .unreachable)
        }
    }

    @Test("the server can call the client: requests flow both ways on one connection")
    func serverToClient() async throws {
        let server = try await IPCServer.bind(path: path, role: .supervisor, logger: quietLogger)
        let (pids, continuation) = AsyncStream<Int32>.makeStream()
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                await server.run(
                    handlers: IPCHandlers(),
                    connected: { connection in
                        if let pong = try? await connection.request(Ping()) { continuation.yield(pong.pid) }
                        await connection.waitUntilClosed()
                    })
            }
            defer { group.cancelAll() }
            var handlers = IPCHandlers()
            handlers.onRequest(Ping.self) { _, _ in Pong(pid: 4242) }
            try await IPCClient.withConnection(
                path: path, hello: hello(.worker), handlers: handlers, logger: quietLogger
            ) { _ in
                var iterator = pids.makeAsyncIterator()
                #expect(await iterator.next() == 4242)
            }
        }
    }
}
