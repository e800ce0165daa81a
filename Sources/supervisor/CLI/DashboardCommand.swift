import ArgumentParser
import Config
import Foundation
import IPC

/// `bosun dashboard [--base-url URL]`: asks the running ingress for a one-time login link and prints it.
struct DashboardCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dashboard",
        abstract: "Print a link that logs a browser into the dashboard: valid for 60 s, usable once.")

    @OptionGroup var options: ConfigOption
    @Option(help: "Print the link under this address (e.g. https://bosun.example.com behind a proxy).")
    var baseURL: String?

    func run() async throws {
        try await reportingFailures {
            let config = try ConfigLoader.load(path: options.path)
            guard let token = config.api.token else {
                throw CommandFailure(
                    message: "the dashboard needs an API token: set api.token_file or api.token_env in \(config.file)")
            }
            let report = try await ControlClient.send(Status(), configPath: options.path)
            guard let listen = ListenAddress(parsing: report.supervisor.listen) else {
                throw CommandFailure(message: "the supervisor listens on \(report.supervisor.listen), not host:port")
            }
            let reply = try LoopbackHTTP.post(
                listen, path: "/api/v1/login-links", headers: [("Authorization", "Bearer \(token.value)")])
            let object = try? JSONSerialization.jsonObject(with: Data(reply.body.utf8)) as? [String: Any]
            guard reply.status == 201, let path = object?["path"] as? String, path.hasPrefix("/login/") else {
                throw CommandFailure(message: "ingress did not make a login link (HTTP \(reply.status)): \(reply.body)")
            }
            let base = baseURL.map { $0.hasSuffix("/") ? String($0.dropLast()) : $0 } ?? LoopbackHTTP.baseURL(listen)
            print(base + path)
        }
    }
}
