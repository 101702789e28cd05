// swift-tools-version: 6.1
import PackageDescription

let package = Package(
    name: "uvs",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "uvsd", targets: ["uvsd"]),
        .executable(name: "uvsadm", targets: ["uvsadm"]),
        .library(name: "UVSEngine", targets: ["UVSEngine"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.0"),
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.27.0", traits: ["MallocInterposer"]),
    ],
    targets: [
        // libpcap: reading/writing pcap and pcapng, BPF compilation.
        .systemLibrary(name: "CPcap", path: "Sources/CPcap", pkgConfig: "libpcap",
                       providers: [.apt(["libpcap-dev"])]),
        // libnet (no .pc file): crafting ARP and neighbour-discovery frames.
        .systemLibrary(name: "CLibnet", path: "Sources/CLibnet", providers: [.apt(["libnet1-dev"])]),
        // What Swift's Glibc module does not show: TPACKET_V3, sendmmsg, fanout, rtnetlink.
        .target(name: "CUVSNet"),
        // Raw frame views, parsing, checksums: the small unsafe layer everything else stands on.
        .target(name: "UVSPacket"),
        // The pure, deterministic IPVS engine (no I/O; clock and randomness injected).
        // A prefetch hint, so the engine can look ahead across a batch of frames.
        .target(name: "CPrefetch"),
        .target(name: "UVSEngine", dependencies: ["UVSPacket", "CPrefetch"]),
        // ipvsadm grammar and listings.
        .target(name: "UVSControl", dependencies: ["UVSEngine", "UVSPacket"]),
        // The one configuration model and its readers (keepalived.conf, …), checks' specifications.
        .target(name: "UVSConfig", dependencies: ["UVSControl", "UVSEngine", "UVSPacket"]),
        // Pure health state machines: each tool's check counting, quorum, the table they want.
        .target(name: "UVSHealth", dependencies: ["UVSConfig"]),
        // The checks' I/O edge: probes on an event loop (NIO, NIOSSL), programs, and the monitor
        // that feeds their verdicts to UVSHealth and the resulting commands to the director.
        .target(name: "UVSChecks", dependencies: [
            "UVSHealth", "UVSConfig", "UVSControl",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        // Failover's pure parts: VRRP adverts and their receive validation (issue 12).
        .target(name: "UVSFailover", dependencies: ["UVSPacket"]),
        // I/O edges: capture files, replay driver.
        .target(name: "UVSIO", dependencies: ["UVSEngine", "UVSControl", "UVSPacket", "CPcap"]),
        // The live director: AF_PACKET rings, workers, ARP/ND, tc guard, control socket.
        .target(name: "UVSLive", dependencies: [
            "UVSEngine", "UVSControl", "UVSPacket", "CUVSNet", "CLibnet", "CPcap",
            .product(name: "Logging", package: "swift-log"),
        ]),
        .executableTarget(name: "uvsd", dependencies: [
            "UVSIO", "UVSConfig", "UVSChecks", "UVSControl", "UVSEngine", "UVSPacket", "UVSLive",
            .product(name: "Logging", package: "swift-log"),
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .executableTarget(name: "uvsadm", dependencies: ["UVSControl", "UVSEngine"]),
        .testTarget(name: "UVSPacketTests", dependencies: ["UVSPacket"]),
        .testTarget(name: "UVSEngineTests", dependencies: ["UVSEngine", "UVSPacket", "UVSControl"]),
        .testTarget(name: "UVSControlTests", dependencies: ["UVSControl", "UVSEngine"]),
        .testTarget(name: "UVSConfigTests", dependencies: ["UVSConfig", "UVSControl", "UVSEngine"]),
        .testTarget(name: "UVSHealthTests", dependencies: ["UVSHealth", "UVSConfig"]),
        .testTarget(name: "UVSChecksTests", dependencies: ["UVSChecks", "UVSConfig"]),
        .testTarget(name: "UVSFailoverTests", dependencies: ["UVSFailover", "UVSPacket"]),
        .testTarget(name: "UVSLiveTests", dependencies: ["UVSLive", "UVSPacket", "CUVSNet"]),
        .testTarget(name: "ReplayTests", dependencies: ["UVSIO", "UVSControl", "UVSEngine", "UVSPacket"]),
        .executableTarget(name: "HealthScale", dependencies: [
            "UVSChecks", "UVSConfig",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "Logging", package: "swift-log"),
        ], path: "Benchmarks/HealthScale"),
        .executableTarget(name: "EngineLoop", dependencies: ["UVSEngine", "UVSPacket", "UVSControl"],
                          path: "Benchmarks/EngineLoop"),
        .executableTarget(
            name: "EngineBenchmarks",
            dependencies: [
                "UVSEngine", "UVSPacket", "UVSControl", "UVSIO",
                .product(name: "Benchmark", package: "benchmark"),
            ],
            path: "Benchmarks/EngineBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
    ]
)
