// swift-tools-version: 6.1
import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .swiftLanguageMode(.v6),
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

// Executables link with lld (in the toolchain): the release builds (Makefile, RELEASE) lay out
// the code an idle daemon runs together with lld's --symbol-ordering-file.
let linkerSettings: [LinkerSetting] = [.unsafeFlags(["-use-ld=lld"], .when(platforms: [.linux]))]

// `ratchet --version` names the commit it was built from when the build is given one:
// `make` passes `git describe` in RATCHET_GIT_DESCRIBE (SwiftPM re-reads this manifest when
// the environment changes); a plain `swift build` prints the release number alone.
let gitDescribe = (Context.environment["RATCHET_GIT_DESCRIBE"] ?? "").filter { $0.isLetter || $0.isNumber || "-._+".contains($0) }

let package = Package(
    name: "Ratchet",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "ratchet", targets: ["ratchet"]),
        .executable(name: "ratchet-timer", targets: ["ratchet-timer"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/LebJe/TOMLKit", from: "0.6.0"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
    ],
    targets: [
        .systemLibrary(
            name: "CGit2",
            pkgConfig: "libgit2",
            providers: [.apt(["libgit2-dev"])]
        ),
        .target(name: "Git", dependencies: ["CGit2"], swiftSettings: swiftSettings),
        .target(
            name: "Core",
            dependencies: [.product(name: "TOMLKit", package: "TOMLKit")],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "Store",
            dependencies: [
                "Core", "Execution", .product(name: "GRDB", package: "GRDB.swift"), .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(name: "CSpawn"),
        .target(name: "CBuildInfo", cSettings: [.define("RATCHET_GIT_DESCRIBE", to: "\"\(gitDescribe)\"")]),
        .target(name: "Execution", dependencies: ["Core", "CSpawn"], swiftSettings: swiftSettings),
        .target(
            name: "Adapters",
            dependencies: [
                "Core", "Git", "Execution",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "Runner",
            dependencies: ["Core", "Git", "Store", "Execution", "Adapters"],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "Report",
            dependencies: ["Core", "Store", "Runner", "Git"],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "Server",
            dependencies: [
                "Core", "Store", "Runner", "Git", "Report",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "ratchet",
            dependencies: [
                "Runner", "Core", "Store", "Git", "Execution", "Server", "Report", "CBuildInfo",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings,
            linkerSettings: linkerSettings
        ),
        // Times a command from inside the sandbox (see Sources/RatchetTimer/main.c); installed
        // beside `ratchet`.
        .executableTarget(name: "ratchet-timer", path: "Sources/RatchetTimer", linkerSettings: linkerSettings),
        .executableTarget(
            name: "ratchet-bench-git",
            dependencies: ["Git"],
            path: "benchmarks/GitBench",
            swiftSettings: swiftSettings,
            linkerSettings: linkerSettings
        ),
        .executableTarget(
            name: "ratchet-bench-timing",
            dependencies: ["Execution"],
            path: "benchmarks/TimingBench",
            swiftSettings: swiftSettings,
            linkerSettings: linkerSettings
        ),
        .executableTarget(
            name: "ratchet-bench-parallel",
            dependencies: ["TestSupport", "Store"],
            path: "benchmarks/ParallelBench",
            swiftSettings: swiftSettings,
            linkerSettings: linkerSettings
        ),
        .executableTarget(
            name: "ratchet-bench-store",
            dependencies: ["Store", "Core"],
            path: "benchmarks/StoreBench",
            swiftSettings: swiftSettings,
            linkerSettings: linkerSettings
        ),
        .executableTarget(
            name: "ratchet-bench-decision",
            dependencies: ["Core"],
            path: "benchmarks/DecisionBench",
            swiftSettings: swiftSettings,
            linkerSettings: linkerSettings
        ),
        .target(name: "TestSupport", dependencies: ["Git", "Runner"], path: "Tests/TestSupport", swiftSettings: swiftSettings),
        .testTarget(name: "GitTests", dependencies: ["Git", "TestSupport"], swiftSettings: swiftSettings),
        .testTarget(name: "CoreTests", dependencies: ["Core"], swiftSettings: swiftSettings),
        .testTarget(
            name: "StoreTests",
            dependencies: [
                "Store", "Core", "TestSupport", .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(name: "ExecutionTests", dependencies: ["Execution", "Core", "TestSupport"], swiftSettings: swiftSettings),
        .testTarget(
            name: "AdaptersTests",
            dependencies: [
                "Adapters", "Core", "Git", "TestSupport", "Runner", "Store",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "ServerTests",
            dependencies: [
                "Server", "Report", "Runner", "Store", "Core", "Git", "TestSupport",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            exclude: ["browser"],
            swiftSettings: swiftSettings
        ),
        .testTarget(name: "ReportTests", dependencies: ["Report", "Runner", "Store", "Core", "TestSupport"], swiftSettings: swiftSettings),
        .testTarget(name: "CLITests", dependencies: ["TestSupport", "Core"], swiftSettings: swiftSettings),
        .testTarget(
            name: "RunnerTests",
            dependencies: ["Runner", "Core", "Git", "Store", "Report", "Execution", "TestSupport"],
            exclude: ["HostileDiffs"],
            swiftSettings: swiftSettings
        ),
    ]
)
