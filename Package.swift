// swift-tools-version:6.2
import PackageDescription

// CI builds our Swift targets with every warning an error (dependencies keep their own
// settings: warning control does not reach remote packages). Locally, warnings stay warnings.
let strictInCI: [SwiftSetting] = Context.environment["CI"] != nil ? [.treatAllWarnings(as: .error)] : []

let package = Package(
    name: "PageWalk",
    products: [
        .library(name: "PageWalk", targets: ["PageWalk"]),
        .library(name: "PageWalkImport", targets: ["PageWalkImport"]),
        .library(name: "PageWalkConformance", targets: ["PageWalkConformance"]),
        .library(name: "CWalkCore", targets: ["CWalkCore"]),
        .library(name: "CWalkImage", targets: ["CWalkImage"]),
        .library(name: "PageWalkImage", targets: ["PageWalkImage"]),
        .executable(name: "pagewalk", targets: ["pagewalk"]),
        .executable(name: "pagewalk-bench", targets: ["pagewalk-bench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/x-sheep/swift-property-based", from: "2.0.0"),
        // `swift package generate-documentation` (DocC) and the man page plugin's host.
        .package(url: "https://github.com/swiftlang/swift-docc-plugin", from: "1.4.0"),
    ],
    targets: [
        // The C core: the radix walk and PTE loops. Sources in CWalkCore/,
        // public headers in include/, usable from plain C through them alone.
        .target(
            name: "CWalkCore",
            path: ".",
            sources: ["CWalkCore"],
            publicHeadersPath: "include"
        ),
        // PageWalk's own kernel-style walk clients (mincore, pagemap, guard, clear_refs, smaps,
        // numa_maps, PAGEMAP_SCAN, ptdump), written in the kernel's vocabulary and built
        // through the compatibility layer in compat/ (docs/KERNEL-CLIENTS.md).
        .target(
            name: "CKernelClients",
            dependencies: ["CWalkCore"],
            path: ".",
            sources: ["KernelClients"],
            publicHeadersPath: "KernelClients/include",
            cSettings: [.headerSearchPath("compat")]
        ),
        // Memory images of real machines (ELF cores, raw memory) as
        // physical memory, their notes, and x86-64 Linux's entry encoding.
        .target(
            name: "CWalkImage",
            dependencies: ["CWalkCore"],
            path: "CWalkImage",
            publicHeadersPath: "include"
        ),
        // The conformance scenario replayer (a test harness, not part of the core).
        .target(
            name: "CScenario",
            dependencies: ["CWalkCore"],
            path: "Sources/CScenario"
        ),
        // The Swift walker API (visitors, machines, address spaces) and the Swift engine,
        // over the C core.
        .target(
            name: "PageWalk",
            dependencies: ["CWalkCore"],
            path: "Sources/PageWalk",
            swiftSettings: strictInCI
        ),
        // Walking memory images of real machines (MemoryImage, Machine(image:)).
        .target(
            name: "PageWalkImage",
            dependencies: ["PageWalk", "CWalkImage"],
            path: "Sources/PageWalkImage",
            swiftSettings: strictInCI
        ),
        // The live-process import and the procfs clients (smaps, pagemap, mincore, ptdump)
        // built on it: the Swift API alone, no C core.
        .target(
            name: "PageWalkImport",
            dependencies: ["PageWalk"],
            path: "Sources/PageWalkImport",
            // Members of C types reached through PageWalk's API do not leak in: what this module
            // uses is Swift API (and ImportBoundaryTests fails if one of its files imports CWalkCore).
            swiftSettings: [.enableUpcomingFeature("MemberImportVisibility")] + strictInCI
        ),
        // Conformance-scenario replay on every engine, for the tests and the CLI.
        .target(
            name: "PageWalkConformance",
            dependencies: ["PageWalk", "CWalkCore", "CScenario"],
            path: "Sources/PageWalkConformance",
            swiftSettings: strictInCI
        ),
        // The command-line tool.
        .executableTarget(
            name: "pagewalk",
            dependencies: [
                "PageWalk",
                "PageWalkImage",
                "PageWalkImport",
                "PageWalkConformance",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Sources/pagewalk",
            swiftSettings: strictInCI,
            // Kernel-style clients loaded by `pagewalk client` call the core's symbols.
            linkerSettings: [.unsafeFlags(["-Xlinker", "--export-dynamic"])]
        ),
        // The benchmark's C side: C visitors, batched visitors and bare loops.
        .target(
            name: "CBenchCallbacks",
            dependencies: ["CWalkCore"],
            path: "Benchmarks/CBenchCallbacks"
        ),
        .executableTarget(
            name: "pagewalk-bench",
            dependencies: [
                "PageWalk",
                "CBenchCallbacks",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Benchmarks/pagewalk-bench",
            swiftSettings: strictInCI
        ),
        // A process with a known memory layout, for the import tests and measurements.
        .executableTarget(
            name: "pagewalk-testchild",
            path: "Tests/TestChild"
        ),
        // One test target for the whole package: the import, CLI and map tests share the test
        // child and the kernel-comparison helpers (ImportSupport.swift).
        .testTarget(
            name: "PageWalkTests",
            dependencies: [
                "PageWalk",
                "PageWalkImport",
                "PageWalkConformance",
                "PageWalkImage",
                "CKernelClients",
                .product(name: "PropertyBased", package: "swift-property-based"),
            ],
            path: "Tests/PageWalkTests",
            swiftSettings: strictInCI,
            // The kernel-client tests load shared objects that call the core's symbols.
            linkerSettings: [.unsafeFlags(["-Xlinker", "--export-dynamic"])]
        ),
    ]
)
