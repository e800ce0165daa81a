// swift-tools-version:6.2
import PackageDescription

// libFuzzer targets for Bosun's parsers and checks (docs/FUZZING.md). A package of its own, next to the main one,
// so that `swift build` and `swift test` at the root never see these targets nor need the fuzzer runtime. Build with
// `swift build --package-path Fuzz --sanitize=fuzzer`, or run scripts/fuzz.sh.

let strict: [SwiftSetting] = [
    .swiftLanguageMode(.v6),
    .treatAllWarnings(as: .error),
]

/// One fuzz target: an executable whose `LLVMFuzzerTestOneInput` libFuzzer's own `main` calls.
func fuzzTarget(_ name: String, _ dependencies: [Target.Dependency]) -> Target {
    .executableTarget(name: name, dependencies: ["FuzzSupport"] + dependencies, swiftSettings: strict)
}

let package = Package(
    name: "bosun-fuzz",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "bosun", path: ".."),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-crypto", from: "4.5.2"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.8.0"),
    ],
    targets: [
        .target(name: "FuzzSupport", swiftSettings: strict),
        fuzzTarget(
            "FuzzWebhookAuth",
            [
                .product(name: "WebhookAuth", package: "bosun"), .product(name: "Config", package: "bosun"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
            ]),
        fuzzTarget("FuzzNormalizer", [.product(name: "Forge", package: "bosun")]),
        fuzzTarget(
            "FuzzIPC", [.product(name: "IPC", package: "bosun"), .product(name: "NIOCore", package: "swift-nio")]),
        fuzzTarget(
            "FuzzConfig", [.product(name: "Config", package: "bosun"), .product(name: "Workflow", package: "bosun")]),
        fuzzTarget("FuzzTaskBranch", [.product(name: "Workflow", package: "bosun")]),
    ]
)
