import Foundation
import PageWalk
import Testing

// The README's Swift example, verbatim between the markers (a test below checks they match).
// README-EXAMPLE-BEGIN
struct PresentPages: PageWalkVisitor {
    var count = 0
    mutating func pteEntry(_ pte: inout PTE, address: UInt64, next: UInt64, walk: WalkContext) throws -> WalkStep {
        if pte.isPresent { count += 1 }
        return .proceed
    }
}

func countPresentPages() throws -> Int {
    let machine = try Machine(levels: 4, frames: 1 << 16, tableBase: 1 << 15)
    let space = try machine.makeAddressSpace()
    try space.addVMA(0x40_0000..<0x80_0000, flags: [.read, .write])
    try space.faultIn(0x40_0000, pfn: 0x100)
    var visitor = PresentPages()
    _ = try space.withMmapReadLock { try space.walkPageRange(0x40_0000..<0x80_0000, visitor: &visitor) }
    return visitor.count  // 1
}
// README-EXAMPLE-END

@Suite struct ReadmeExampleTests {
    @Test func theExampleRunsAndCountsOnePage() throws {
        #expect(try countPresentPages() == 1)
    }

    @Test func theReadmeShowsExactlyThisExample() throws {
        let here = URL(fileURLWithPath: #filePath)
        let root = here.deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let readme = try String(contentsOf: root.appendingPathComponent("README.md"), encoding: .utf8)
        let source = try String(contentsOf: here, encoding: .utf8)
        func between(_ text: String, _ begin: String, _ end: String) -> String? {
            guard let b = text.range(of: begin), let e = text.range(of: end, range: b.upperBound..<text.endIndex)
            else { return nil }
            return String(text[b.upperBound..<e.lowerBound]).trimmingCharacters(in: .whitespacesAndNewlines)
        }
        let inTest = between(source, "// README-EXAMPLE-BEGIN", "// README-EXAMPLE-END")
        let inReadme = between(readme, "<!-- swift-example -->\n```swift", "```")
        #expect(inTest != nil)
        #expect(inReadme == inTest)
    }
}
