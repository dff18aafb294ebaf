// swift-tools-version:6.1
import PackageDescription

let package = Package(
    name: "PageWalk",
    products: [
        .library(name: "PageWalk", targets: ["PageWalk"]),
        .library(name: "CWalkCore", targets: ["CWalkCore"]),
        .library(name: "CWalkImage", targets: ["CWalkImage"]),
        .library(name: "PageWalkImage", targets: ["PageWalkImage"]),
        .executable(name: "pagewalk", targets: ["pagewalk"]),
        .executable(name: "pagewalk-bench", targets: ["pagewalk-bench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/x-sheep/swift-property-based", from: "2.0.0"),
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
        // Memory images of real machines (ELF cores, raw memory) as
        // physical memory, their notes, and x86-64 Linux's entry encoding.
        .target(
            name: "CWalkImage",
            dependencies: ["CWalkCore"],
            path: "CWalkImage",
            publicHeadersPath: "include"
        ),
        .target(
            name: "PageWalk",
            dependencies: ["CWalkCore"],
            path: "Sources/PageWalk"
        ),
        // Walking memory images of real machines (MemoryImage, Machine(image:)).
        .target(
            name: "PageWalkImage",
            dependencies: ["PageWalk", "CWalkImage"],
            path: "Sources/PageWalkImage"
        ),
        .executableTarget(
            name: "pagewalk",
            dependencies: [
                "PageWalk",
                "PageWalkImage",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Sources/pagewalk"
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
            path: "Benchmarks/pagewalk-bench"
        ),
        // A process with a known memory layout, for the import tests and measurements.
        .executableTarget(
            name: "pagewalk-testchild",
            path: "Tests/TestChild"
        ),
        .testTarget(
            name: "PageWalkTests",
            dependencies: [
                "PageWalk",
                .product(name: "PropertyBased", package: "swift-property-based"),
            ],
            path: "Tests/PageWalkTests"
        ),
    ]
)
