import Foundation
import Testing

@Suite struct ImportBoundaryTests {
    /// The import module builds on the Swift API alone: none of its files imports the C core
    /// (its target does not depend on CWalkCore, and MemberImportVisibility keeps C members
    /// reached through PageWalk out of it).
    @Test func theImportModuleDoesNotImportTheCCore() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let dir = root.appendingPathComponent("Sources/PageWalkImport")
        let files = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasSuffix(".swift") }
        #expect(files.count >= 10)
        for name in files {
            let text = try String(contentsOf: dir.appendingPathComponent(name), encoding: .utf8)
            let imports = text.split(separator: "\n").filter { $0.hasPrefix("import ") || $0.contains(" import ") }
            #expect(!imports.contains { $0.contains("CWalkCore") }, "\(name) imports the C core")
        }
        let manifest = try String(contentsOf: root.appendingPathComponent("Package.swift"), encoding: .utf8)
        let target = try #require(manifest.range(of: "name: \"PageWalkImport\",\n            dependencies: [\"PageWalk\"]"))
        #expect(!target.isEmpty)
    }
}
