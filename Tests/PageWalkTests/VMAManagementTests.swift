import PageWalk
import PropertyBased
import Testing

@Suite struct VMAManagementTests {
    @Test func mapMergesUnmapSplitsAndFreesTables() throws {
        let machine = try Machine(levels: 4, frames: 1 << 16, tableBase: 1 << 15)
        let space = try machine.makeAddressSpace()
        let baseline = machine.stats.tablesInUse
        try space.map(0x40_0000..<0x60_0000, flags: [.read, .write])
        try space.map(0x60_0000..<0x80_0000, flags: [.read, .write])
        #expect(try space.vmas.map { try $0.range } == [0x40_0000..<0x80_0000])
        #expect(throws: PageWalkError.exists) { try space.map(0x50_0000..<0x51_0000, flags: [.read]) }
        try space.faultIn(0x40_0000, pfn: 0x100)
        try space.faultIn(0x70_0000, pfn: 0x101)
        #expect(machine.stats.tablesInUse == baseline + 4) // PUD, PMD and two PTE tables
        try space.unmap(0x50_0000..<0x80_0000)
        #expect(try space.vmas.map { try $0.range } == [0x40_0000..<0x50_0000])
        #expect(machine.stats.tablesInUse == baseline + 3) // the emptied PTE table is freed
        try space.protect(0x40_0000..<0x40_1000, [.read])
        #expect(space.vmas.count == 2)
        #expect(try !PTE(rawValue: space.entry(.pte, at: 0x40_0000)).isWritable)
        try space.protect(0x40_0000..<0x40_1000, [.read, .write])
        #expect(space.vmas.count == 1)
        #expect(space.checkInvariants() == nil)
    }

    @Test func randomMapUnmapProtectKeepTheInvariants() async {
        await propertyCheck(count: 100, input: Gen.int(in: 0...Int.max)) { seed in
            var rng = SplitMix(state: UInt64(seed))
            let machine = try Machine(levels: Int(rng.next() % 4) + 2, frames: 1 << 14, tableBase: 1 << 13)
            let space = try machine.makeAddressSpace()
            let page: UInt64 = 4096, span: UInt64 = 1 << 24
            for step in 0..<200 {
                let start = (rng.next() % (span / page)) * page
                let length = (rng.next() % 600 + 1) * page
                let range = start..<min(start + length, span)
                let flags: VMAFlags = rng.pick([[.read], [.read, .write], [.read, .exec]])
                switch rng.next() % 4 {
                case 0: _ = try? space.map(range, flags: flags)
                case 1: try? space.unmap(range)
                case 2: try? space.protect(range, flags)
                default:
                    if space.vma(containing: start) != nil { try? space.faultIn(start, pfn: rng.next() % 4096) }
                }
                if let problem = space.checkInvariants() {
                    Issue.record("seed \(seed), step \(step): \(problem)")
                    return
                }
                let ranges = try space.vmas.map { try $0.range }
                #expect(zip(ranges, ranges.dropFirst()).allSatisfy { $0.upperBound <= $1.lowerBound })
            }
            // Unmapping everything leaves no table but the top one.
            try space.unmap(0..<span)
            #expect(space.vmas.isEmpty)
            #expect(space.dump().isEmpty)
        }
    }
}
