// swift-tools-version:6.2
import PackageDescription

/// Settings for every target of ours: Swift 6 mode, and a warning is a build failure.
let strict: [SwiftSetting] = [
    .swiftLanguageMode(.v6),
    .treatAllWarnings(as: .error),
]

let nio: [Target.Dependency] = [
    .product(name: "NIOCore", package: "swift-nio"),
    .product(name: "NIOPosix", package: "swift-nio"),
]
let logging: Target.Dependency = .product(name: "Logging", package: "swift-log")
let lifecycle: Target.Dependency = .product(name: "ServiceLifecycle", package: "swift-service-lifecycle")

let package = Package(
    name: "bosun",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "bosun", targets: ["BosunSupervisor"]),
        .executable(name: "bosun-ingress", targets: ["BosunIngress"]),
        .executable(name: "bosun-worker", targets: ["BosunWorker"]),
        .executable(name: "bosun-gatekeeper", targets: ["BosunGatekeeper"]),
        .executable(name: "bosun-shim", targets: ["BosunShim"]),
        .library(name: "IPC", targets: ["IPC"]),
        // The libraries Fuzz/ (a package of its own, so that plain builds never see its targets) exercises.
        .library(name: "Config", targets: ["Config"]),
        .library(name: "Forge", targets: ["Forge"]),
        .library(name: "WebhookAuth", targets: ["WebhookAuth"]),
        .library(name: "Workflow", targets: ["Workflow"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-extras", from: "1.35.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1", traits: []),
        .package(url: "https://github.com/apple/swift-crypto", from: "4.5.2"),
        // Already in the graph through Hummingbird; named here because WebhookAuth reads `HTTPFields` without it.
        .package(url: "https://github.com/apple/swift-http-types", from: "1.8.0"),
    ],
    targets: [
        // C libraries: one small target each; no C types leak past the Swift wrapper beside it.
        .systemLibrary(
            name: "CBosunSQLite", path: "Sources/CBosunSQLite", pkgConfig: "sqlite3",
            providers: [.apt(["libsqlite3-dev"])]),
        .systemLibrary(
            name: "CBosunCurl", path: "Sources/CBosunCurl", pkgConfig: "libcurl",
            providers: [.apt(["libcurl4-openssl-dev"])]),
        .systemLibrary(
            name: "CBosunSystemd", path: "Sources/CBosunSystemd", pkgConfig: "libsystemd",
            providers: [.apt(["libsystemd-dev"])]),
        .target(name: "CBosunPosix", path: "Sources/CBosunPosix"),

        // Shared libraries. They point down: IPC and Store import nothing of ours but their C targets.
        .target(name: "IPC", dependencies: nio + [logging], swiftSettings: strict),
        .target(name: "Store", dependencies: ["CBosunSQLite"], swiftSettings: strict),
        .target(
            name: "Config", dependencies: ["Workflow", .product(name: "Yams", package: "Yams")], swiftSettings: strict),
        .target(name: "LinuxProcess", dependencies: ["CBosunPosix"], swiftSettings: strict),
        .target(name: "Systemd", dependencies: ["CBosunSystemd"], swiftSettings: strict),
        .target(name: "Workflow", dependencies: [.product(name: "Yams", package: "Yams")], swiftSettings: strict),
        .target(name: "Forge", swiftSettings: strict),
        // Webhook senders and their signature checks on the raw bytes: a library so that Fuzz/ can reach it.
        .target(
            name: "WebhookAuth",
            dependencies: [
                "Config", .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
            ],
            swiftSettings: strict),
        .target(name: "Outbound", dependencies: ["CBosunCurl", "Forge", "Workflow"], swiftSettings: strict),
        .target(
            name: "ProcessRuntime",
            dependencies: ["IPC", "Config", "Store", "LinuxProcess", logging, lifecycle] + nio,
            swiftSettings: strict),

        // The four executables. They import libraries, never each other.
        .executableTarget(
            name: "BosunSupervisor",
            dependencies: [
                "IPC", "Store", "Config", "LinuxProcess", "Systemd", "ProcessRuntime", logging, lifecycle,
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ] + nio,
            path: "Sources/supervisor",
            // The demo agent ships inside `bosun`: `bosun demo` writes it out, so nothing is looked up on disk.
            resources: [.embedInCode("Demo/demo-agent.py")], swiftSettings: strict),
        .executableTarget(
            name: "BosunIngress",
            dependencies: [
                "IPC", "Store", "Config", "ProcessRuntime", "LinuxProcess", "WebhookAuth", logging, lifecycle,
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "NIOExtras", package: "swift-nio-extras"),
                .product(name: "Crypto", package: "swift-crypto"),
            ] + nio,
            path: "Sources/ingress", swiftSettings: strict),
        .executableTarget(
            name: "BosunWorker",
            dependencies: ["IPC", "Store", "Config", "Workflow", "LinuxProcess", "ProcessRuntime", logging, lifecycle],
            path: "Sources/worker", swiftSettings: strict),
        .executableTarget(
            name: "BosunGatekeeper",
            dependencies: [
                "IPC", "Store", "Config", "Workflow", "Forge", "Outbound", "ProcessRuntime", logging, lifecycle,
            ],
            path: "Sources/gatekeeper", swiftSettings: strict),
        // The per-run shim: a small C program that owns one agent process and writes its exit status. SwiftPM links
        // every executable against the Swift runtime and libstdc++; `--as-needed` drops what the C does not use, so
        // that each run does not load them (2.2 ms of the shim's CPU per run, measured with perf).
        .executableTarget(
            name: "BosunShim", path: "Sources/shim", linkerSettings: [.unsafeFlags(["-static-executable"])]),

        .testTarget(
            name: "BosunTests",
            dependencies: [
                "IPC", "Store", "Config", "LinuxProcess", "Systemd", "ProcessRuntime", "BosunSupervisor",
                "BosunIngress", "BosunWorker", "BosunGatekeeper", "Workflow", "Forge", "Outbound",
                "CBosunCurl", "WebhookAuth", logging,
                .product(name: "Hummingbird", package: "hummingbird"),
            ] + nio,
            path: "Tests/BosunTests", exclude: ["Fixtures"], swiftSettings: strict),
    ]
)
