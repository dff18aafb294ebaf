import Foundation
import PageWalk
import Testing

// The visitor of the DocC walkthrough (WritingAVisitor.md), verbatim; a test below checks that.
struct SmapsCounter: PageWalkVisitor {
    let zeroPFN: UInt64, hugeZeroPFN: UInt64
    var rss: UInt64 = 0, anonymous: UInt64 = 0, anonHuge: UInt64 = 0, swap: UInt64 = 0
    mutating func pmdEntry(_ pmd: inout PMD, address: UInt64, next: UInt64,
                           walk: WalkContext) throws -> WalkStep {
        walk.action = .continue
        let anonymousVMA = walk.vma?.isAnonymous ?? false
        if pmd.isLeaf {
            if pmd.pfn == hugeZeroPFN { return .proceed }  // the huge zero page: no struct page to count
            let bytes = next - address
            rss += bytes
            if anonymousVMA { anonymous += bytes; anonHuge += bytes }
            return .proceed
        }
        _ = walk.withPTEs(of: &pmd, range: address..<next) { ptes in
            for pte in ptes {
                if pte.isPresent {
                    if pte.isSpecial || pte.pfn == zeroPFN { continue }  // as vm_normal_page: not counted
                    rss += 4096
                    if anonymousVMA { anonymous += 4096 }
                } else if pte.isSwap && !pte.isMigration && pte.marker == nil {
                    swap += 4096
                }
            }
        }
        return .proceed
    }
}

@Suite struct WalkthroughTests {
    @Test(arguments: [WalkEngine.c, .swift])
    func theSmapsVisitorCountsPTEsAndTHPs(engine: WalkEngine) throws {
        let (_, space, vma) = try makeSmallSpace()
        try space.swapOut(0x40_8000, offset: 7)
        // smaps counts neither zero page (vm_normal_page turns them away): neither may this visitor.
        try space.mapZeroPage(at: 0x40_9000)
        try space.mapHugeZeroPage(at: 0xa0_0000)
        var counter = SmapsCounter(zeroPFN: 1, hugeZeroPFN: 512)
        try vma.walkPageVMA(visitor: &counter, engine: engine)
        #expect(counter.rss == 8 * 4096 + 2 * 1024 * 1024)
        #expect(counter.anonymous == counter.rss)
        #expect(counter.anonHuge == 2 * 1024 * 1024)
        #expect(counter.swap == 4096)
    }

    @Test func theDocumentationShowsThisVisitor() throws {
        let here = URL(fileURLWithPath: #filePath)
        let root = here.deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let doc = try String(contentsOf: root.appendingPathComponent("Sources/PageWalk/PageWalk.docc/WritingAVisitor.md"), encoding: .utf8)
        let source = try String(contentsOf: here, encoding: .utf8)
        let blocks = doc.components(separatedBy: "```swift\n").dropFirst().map { $0.components(separatedBy: "```")[0] }
        #expect(blocks.count >= 2)
        #expect(source.contains(blocks[0] + blocks[1]))
    }
}
