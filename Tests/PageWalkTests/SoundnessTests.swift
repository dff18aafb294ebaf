import PageWalk
import Testing

/// The Swift API's soundness (issue 12.7 and 12.8): handles that outlive what they name, optional
/// results, the top of the address space.
@Suite struct VMAHandleTests {
    /// Two anonymous VMAs with a gap: [4 MiB, 5 MiB) and [6 MiB, 7 MiB), one page faulted in each.
    func twoVMAs() throws -> (Machine, AddressSpace, VMA, VMA) {
        let machine = try Machine(levels: 4, frames: 1 << 16, tableBase: 1 << 15)
        let space = try machine.makeAddressSpace()
        let a = try space.map(0x40_0000..<0x50_0000, flags: [.read, .write])
        let c = try space.map(0x60_0000..<0x70_0000, flags: [.read, .write])
        try space.faultIn(0x40_0000, pfn: 0x100)
        try space.faultIn(0x60_0000, pfn: 0x101)
        space.mmapLockState = .read
        return (machine, space, a, c)
    }

    @Test func anUnmappedVMAThrowsInsteadOfReadingFreedMemory() throws {
        let (_, space, a, c) = try twoVMAs()
        try space.unmap(0x60_0000..<0x70_0000)
        #expect(!c.exists)
        #expect(throws: PageWalkError.staleVMA(id: c.id)) { try c.start }
        #expect(throws: PageWalkError.staleVMA(id: c.id)) { try c.range }
        #expect(throws: PageWalkError.staleVMA(id: c.id)) { try c.flags }
        #expect(throws: PageWalkError.staleVMA(id: c.id)) { try c.pointer }
        var counter = PresentCounter()
        for engine in [WalkEngine.c, .swift] {
            #expect(throws: PageWalkError.staleVMA(id: c.id)) { try c.walkPageVMA(visitor: &counter, engine: engine) }
            #expect(throws: PageWalkError.staleVMA(id: c.id)) {
                try space.withFolio(at: 0x60_0000, in: c, engine: engine) { $0.folio }
            }
        }
        #expect(counter.present == 0)
        // The other VMA is untouched and still resolves.
        #expect(try a.range == 0x40_0000..<0x50_0000)
        #expect(try a.walkPageVMA(visitor: &counter) == .completed)
        #expect(counter.present == 1)
    }

    @Test func aVMAMergedAwayByMapIsStaleAndItsNeighbourGrows() throws {
        let (_, space, a, c) = try twoVMAs()
        // Filling the gap merges all three into the first VMA; the third is freed.
        let merged = try space.map(0x50_0000..<0x60_0000, flags: [.read, .write])
        #expect(merged == a)
        #expect(try a.range == 0x40_0000..<0x70_0000)
        #expect(throws: PageWalkError.staleVMA(id: c.id)) { try c.end }
        #expect(space.vmas == [a])
    }

    @Test func aVMAMergedAwayByProtectIsStale() throws {
        let (_, space, a, c) = try twoVMAs()
        let b = try space.map(0x50_0000..<0x60_0000, flags: [.read])
        #expect(space.vmas == [a, b, c])
        try space.protect(0x50_0000..<0x60_0000, [.read, .write])
        #expect(space.vmas == [a])
        #expect(throws: PageWalkError.staleVMA(id: b.id)) { try b.flags }
        #expect(throws: PageWalkError.staleVMA(id: c.id)) { try c.info }
    }

    @Test func aSplitVMAKeepsItsNumberAndIdentity() throws {
        let (_, space, a, _) = try twoVMAs()
        try space.unmap(0x48_0000..<0x50_0000)
        #expect(a.exists)
        #expect(try a.range == 0x40_0000..<0x48_0000)
        #expect(space.vma(containing: 0x40_0000) == a)
        #expect(Set([a, space.vma(id: a.id)!]).count == 1)
    }

    @Test func handlesOfDifferentAddressSpacesDiffer() throws {
        let machine = try Machine(levels: 4, frames: 1 << 16, tableBase: 1 << 15)
        let one = try machine.makeAddressSpace(), two = try machine.makeAddressSpace()
        let x = try one.map(0x40_0000..<0x50_0000, flags: [.read])
        let y = try two.map(0x40_0000..<0x50_0000, flags: [.read])
        #expect(x.id == y.id)
        #expect(x != y)
        #expect(Set([x, y]).count == 2)
    }
}

@Suite struct FolioOptionalTests {
    @Test(arguments: [WalkEngine.c, .swift])
    func aBodyReturningAnOptionalGivesOneLevelOfOptional(engine: WalkEngine) throws {
        let (_, space, vma) = try makeSmallSpace()
        // The body's nil and "nothing mapped" are both nil: no Optional<Optional<_>>.
        let page: UInt64? = try space.withFolio(at: 0x40_1000, in: vma, engine: engine) { $0.page }
        #expect(page == 0x101)
        let none = try space.withFolio(at: 0x40_1000, in: vma, engine: engine) { _ -> UInt64? in nil }
        #expect(none == nil)
        let unmapped = try space.withFolio(at: 0x40_9000, in: vma, engine: engine) { $0.page }
        #expect(unmapped == nil)
        #expect(type(of: unmapped) == Optional<UInt64>.self)
        // A non-optional body still gives an optional.
        let order = try space.withFolio(at: 0x40_1000, in: vma, engine: engine) { $0.folioOrder }
        #expect(type(of: order) == Optional<Int>.self)
        #expect(order == 0)
    }
}
