import PageWalk
import Testing

/// Records what the WalkContext lookups answer at each callback.
struct LookupRecorder: PageWalkVisitor {
    var ptePages: [UInt64: PageInfo] = [:]
    var pteWithoutPage: [UInt64] = []
    var thpPages: [UInt64: PageInfo] = [:]
    var holeVMAs: [UInt64: VMAInfo?] = [:]
    var mappingIDs: [UInt64: UInt32?] = [:]

    mutating func pteEntry(_ pte: inout PTE, address: UInt64, next: UInt64, walk: WalkContext) throws -> WalkStep {
        guard pte.isPresent else { return .proceed }
        if let page = walk.vmNormalPage(pte, at: address) { ptePages[address] = page } else { pteWithoutPage.append(address) }
        mappingIDs[walk.vma!.start] = walk.vmaMappingID
        return .proceed
    }

    mutating func pmdEntry(_ pmd: inout PMD, address: UInt64, next: UInt64, walk: WalkContext) throws -> WalkStep {
        if pmd.isLeaf {
            thpPages[address] = walk.vmNormalPage(pmd, at: address)
            walk.action = .continue  // keep the THP whole
        }
        return .proceed
    }

    mutating func pteHole(address: UInt64, next: UInt64, depth: Int, walk: WalkContext) throws -> WalkStep {
        holeVMAs[address] = walk.findVMA(address)
        return .proceed
    }
}

/// The Swift API gives what the procfs clients need without C: `find_vma`, `vm_normal_page`,
/// the page and folio of a PFN, the file of the VMA walked, VMA flag updates.
@Suite struct LookupTests {
    /// Anonymous [4 MiB, 12 MiB) with eight PTEs, the zero page and a THP; a gap; a file VMA
    /// [16 MiB, 20 MiB) of mapping 3 with one page.
    func makeSpace() throws -> (Machine, AddressSpace, VMA, VMA) {
        let (machine, space, anon) = try makeSmallSpace()
        try space.mapZeroPage(at: 0x40_8000)
        let file = try space.addVMA(0x100_0000..<0x140_0000, flags: [.read], file: machine.mapping(3))
        try space.faultIn(0x100_0000, pfn: 0x200, writable: false)
        return (machine, space, anon, file)
    }

    @Test(arguments: [WalkEngine.c, .swift])
    func lookupsAnswerInsideAWalk(engine: WalkEngine) throws {
        let (_, space, anon, file) = try makeSpace()
        var recorder = LookupRecorder()
        _ = try space.walkPageRange(0x40_0000..<0x140_0000, visitor: &recorder, engine: engine)

        // vm_normal_page: a normal PTE's page is a folio of one; the zero page has none.
        let p = try #require(recorder.ptePages[0x40_3000])
        #expect(p.pfn == 0x103 && p.folioHead == 0x103 && p.folioOrder == 0 && p.isFolioHead)
        #expect(p == space.machine.page(pfn: 0x103))
        #expect(recorder.pteWithoutPage == [0x40_8000])
        #expect(recorder.ptePages.count == 9)

        // vm_normal_page_pmd: the THP's head, a folio of order 9.
        let thp = try #require(recorder.thpPages[0x80_0000])
        #expect(thp.pfn == 0x1000 && thp.folioHead == 0x1000 && thp.folioOrder == 9 && thp.folioPages == 512)

        // find_vma from a hole: the gap [12 MiB, 16 MiB) finds the file VMA above it.
        let gap = try #require(recorder.holeVMAs[0xc0_0000] ?? nil)
        #expect(gap.id == file.id && gap.start == 0x100_0000 && gap.end == 0x140_0000)
        #expect(!gap.isAnonymous)

        // vm_file: only the file VMA has one.
        #expect(try recorder.mappingIDs[anon.start] == .some(nil))
        #expect(try recorder.mappingIDs[file.start] == .some(3))
    }

    @Test func pageOfAPFNNamesItsFolio() throws {
        let (machine, _, _, _) = try makeSpace()
        let tail = try #require(machine.page(pfn: 0x1005))
        #expect(tail.pfn == 0x1005 && tail.folioHead == 0x1000 && tail.folioOrder == 9 && !tail.isFolioHead)
        #expect(machine.page(pfn: 1 << 40) == nil)
    }

    @Test func vmaNormalPageAndFlagUpdates() throws {
        let (_, space, anon, file) = try makeSpace()
        #expect(try anon.vmNormalPage(PTE.present(pfn: 0x104), at: 0x40_4000)?.pfn == 0x104)
        #expect(try file.vmNormalPage(PTE.present(pfn: 1, flags: [.present, .special]), at: 0x100_0000) == nil)

        space.mmapLockState = .write
        try anon.insertFlags([.locked, .softDirty])
        #expect(try anon.flags.isSuperset(of: [.read, .write, .locked, .softDirty]))
        try anon.removeFlags(.softDirty)
        #expect(try anon.flags == [.read, .write, .locked])
        #expect(try space.findVMA(0x40_0000)?.flags.contains(.locked) == true)
    }
}
