import CWalkCore
import PageWalk
import Testing

/// A 4-level machine with one anonymous VMA [4 MiB, 12 MiB): eight PTEs at 4 MiB and a THP at 8 MiB.
func makeSmallSpace() throws -> (Machine, AddressSpace, VMA) {
    let machine = try Machine(levels: 4, frames: 1 << 16, tableBase: 1 << 15, zeroPFN: 1, hugeZeroPFN: 512)
    let space = try machine.makeAddressSpace()
    let vma = try space.addVMA(0x40_0000..<0xc0_0000, flags: [.read, .write])
    for i in 0..<8 as Range<UInt64> { try space.faultIn(0x40_0000 + i * 4096, pfn: 0x100 + i) }
    try space.installTHP(at: 0x80_0000, pfn: 0x1000)
    space.mmapLockState = .read
    return (machine, space, vma)
}

struct PresentCounter: PageWalkVisitor {
    var present = 0, empty = 0
    mutating func pteEntry(_ pte: inout PTE, address: UInt64, next: UInt64, walk: WalkContext) throws -> WalkStep {
        if pte.isPresent { present += 1 } else if pte.isNone { empty += 1 }
        return .proceed
    }
}

/// Implements pmdEntry and lists nothing: the walk derives the set, so pmdEntry is called.
struct UnlistedPMD: PageWalkVisitor {
    var pmdCalls = 0, ptes = 0
    mutating func pmdEntry(_ pmd: inout PMD, address: UInt64, next: UInt64, walk: WalkContext) throws -> WalkStep {
        pmdCalls += 1
        return .proceed
    }
}

/// Implements pmdEntry and pteHole, and disables some of them per walk (a set chosen at run time).
struct DisabledPMD: PageWalkVisitor {
    var pmdCalls = 0, holes = 0
    var disabledCallbacks: WalkCallbacks = .pmdEntry
    mutating func pmdEntry(_ pmd: inout PMD, address: UInt64, next: UInt64, walk: WalkContext) throws -> WalkStep {
        pmdCalls += 1
        return .proceed
    }
    mutating func pteHole(address: UInt64, next: UInt64, depth: Int, walk: WalkContext) throws -> WalkStep {
        holes += 1
        return .proceed
    }
}

/// Declares pmdEntry with a result type the walker does not accept.
struct WrongResultPMD: PageWalkVisitor {
    var pmdCalls = 0
    mutating func pmdEntry(_ pmd: inout PMD, address: UInt64, next: UInt64, walk: WalkContext) -> Int32 {
        pmdCalls += 1
        return 0
    }
}

/// Forwards PTEs to an inner visitor: it implements pteEntry exactly when the inner one does.
struct Forwarding<Inner: PageWalkVisitor>: PageWalkVisitor {
    var inner: Inner
    mutating func pteEntry(_ pte: inout PTE, address: UInt64, next: UInt64, walk: WalkContext) throws
        -> Inner.PTEEntryResult {
        try inner.pteEntry(&pte, address: address, next: next, walk: walk)
    }
}

struct THPCounter: PageWalkVisitor {
    var leaves = 0, tables = 0
    mutating func pmdEntry(_ pmd: inout PMD, address: UInt64, next: UInt64, walk: WalkContext) throws -> WalkStep {
        if pmd.isLeaf { leaves += 1; walk.action = .continue } else { tables += 1 }
        return .proceed
    }
}

struct StopAt: PageWalkVisitor {
    let address: UInt64
    var seen: [UInt64] = []
    var posts = 0
    mutating func pteEntry(_ pte: inout PTE, address: UInt64, next: UInt64, walk: WalkContext) throws -> WalkStep {
        seen.append(address)
        return address == self.address ? .stop(7) : .proceed
    }
    mutating func postVMA(walk: WalkContext) { posts += 1 }
}

struct Boom: Error, Equatable { let at: UInt64 }

struct ThrowAt: PageWalkVisitor {
    let address: UInt64
    var posts = 0
    mutating func pteEntry(_ pte: inout PTE, address: UInt64, next: UInt64, walk: WalkContext) throws -> WalkStep {
        if address == self.address { throw Boom(at: address) }
        return .proceed
    }
    mutating func postVMA(walk: WalkContext) { posts += 1 }
}

struct Installer: PageWalkVisitor {
    var installed = 0
    mutating func installPTE(address: UInt64, next: UInt64, walk: WalkContext) throws -> InstallStep {
        installed += 1
        return .install(.marker(.guardRegion))
    }
}

/// A pmdEntry that reads the PTE table itself, as smaps does.
struct TableReader: PageWalkVisitor {
    var present = 0, thpPages = 0
    mutating func pmdEntry(_ pmd: inout PMD, address: UInt64, next: UInt64, walk: WalkContext) throws -> WalkStep {
        walk.action = .continue
        if pmd.isLeaf {
            thpPages += Int((next - address) / 4096)
            return .proceed
        }
        let counted = walk.withPTEs(of: &pmd, range: address..<next) { ptes in ptes.filter(\.isPresent).count }
        #expect(walk.withPTEs(of: &pmd, range: address..<(address + 0x20_1000)) { _ in 0 } == nil)
        present += counted ?? 0
        return .proceed
    }
}

@Suite struct VisitorTests {
    @Test(arguments: [WalkEngine.c, .swift])
    func countsPresentPTEsAndSplitsTheTHPForPTEEntry(engine: WalkEngine) throws {
        let (machine, space, _) = try makeSmallSpace()
        let splits = Log<MachineEvent>()
        machine.onEvent { splits.append($0) }
        var counter = PresentCounter()
        let result = try space.walkPageRange(0x40_0000..<0xc0_0000, visitor: &counter, engine: engine)
        #expect(result == .completed)
        // 8 PTEs + the 512 PTEs the THP split into; 504 empty PTEs in the first table; no table at 6 MiB.
        #expect(counter.present == 8 + 512)
        #expect(counter.empty == 504)
        #expect(splits.items == [.split(level: .pmd, address: 0x80_0000, vma: 1)])
    }

    @Test func theSetIsDerivedFromTheMethodsAVisitorDeclares() {
        #expect(UnlistedPMD.implementedCallbacks == .pmdEntry)
        #expect(PresentCounter.implementedCallbacks == .pteEntry)
        #expect(StopAt.implementedCallbacks == [.pteEntry, .postVMA])
        #expect(Installer.implementedCallbacks == .installPTE)
        #expect(DisabledPMD.implementedCallbacks == [.pmdEntry, .pteHole])
        #expect(DisabledPMD().activeCallbacks == .pteHole)
        #expect(Forwarding<PresentCounter>.implementedCallbacks == .pteEntry)
        #expect(Forwarding<UnlistedPMD>.implementedCallbacks == [])
    }

    @Test(arguments: [WalkEngine.c, .swift])
    func anImplementedCallbackIsCalledWithoutBeingListed(engine: WalkEngine) throws {
        let (_, space, _) = try makeSmallSpace()
        var v = UnlistedPMD()
        try space.walkPageRange(0x40_0000..<0xc0_0000, visitor: &v, engine: engine)
        // The PTE table at 4 MiB and the THP at 8 MiB; no PTE handler, so nothing is split.
        #expect(v.pmdCalls == 2)
        #expect(try PMD(rawValue: space.entry(.pmd, at: 0x80_0000)).isLeaf)
    }

    @Test(arguments: [WalkEngine.c, .swift])
    func disabledCallbacksAreNeverCalledAndChangeTheWalk(engine: WalkEngine) throws {
        let (_, space, _) = try makeSmallSpace()
        var v = DisabledPMD()
        try space.walkPageRange(0x40_0000..<0xc0_0000, visitor: &v, engine: engine)
        // Only pteHole is active: as in the kernel the walk does not descend below the present
        // top-level entry, so it sees no PMD and no PMD hole.
        #expect(v.pmdCalls == 0)
        #expect(v.holes == 0)
        var enabled = DisabledPMD(disabledCallbacks: [])
        try space.walkPageRange(0x40_0000..<0xc0_0000, visitor: &enabled, engine: engine)
        // With pmdEntry: the table at 4 MiB and the THP at 8 MiB; holes at 6 and 10 MiB.
        #expect(enabled.pmdCalls == 2)
        #expect(enabled.holes == 2)
        #expect(try PMD(rawValue: space.entry(.pmd, at: 0x80_0000)).isLeaf)
    }

    @Test(arguments: [WalkEngine.c, .swift])
    func aCallbackWithTheWrongResultTypeIsReportedBeforeTheWalk(engine: WalkEngine) throws {
        let (_, space, _) = try makeSmallSpace()
        var v = WrongResultPMD()
        #expect(WrongResultPMD.implementedCallbacks == .pmdEntry)
        let error = #expect(throws: PageWalkVisitorError.self) {
            try space.walkPageRange(0x40_0000..<0xc0_0000, visitor: &v, engine: engine)
        }
        #expect(error?.callback == "pmdEntry")
        #expect(error?.description.contains("returns Swift.Int32; a pmdEntry callback must return PageWalk.WalkStep")
                == true)
        #expect(v.pmdCalls == 0)
    }

    @Test(arguments: [WalkEngine.c, .swift])
    func aForwardingVisitorWalksAsItsInnerVisitor(engine: WalkEngine) throws {
        let (_, space, _) = try makeSmallSpace()
        var v = Forwarding(inner: PresentCounter())
        try space.walkPageRange(0x40_0000..<0xc0_0000, visitor: &v, engine: engine)
        #expect(v.inner.present == 8 + 512)
    }

    @Test(arguments: [WalkEngine.c, .swift])
    func actionContinueKeepsTHPLeaves(engine: WalkEngine) throws {
        let (_, space, _) = try makeSmallSpace()
        var v = THPCounter()
        try space.walkPageRange(0x40_0000..<0xc0_0000, visitor: &v, engine: engine)
        #expect(v.leaves == 1)
        #expect(v.tables == 1)
        #expect(try PMD(rawValue: space.entry(.pmd, at: 0x80_0000)).isLeaf)
    }

    @Test(arguments: [WalkEngine.c, .swift])
    func aPositiveStopValueIsReturnedAndPostVMAStillRuns(engine: WalkEngine) throws {
        let (_, space, _) = try makeSmallSpace()
        var v = StopAt(address: 0x40_2000)
        let result = try space.walkPageRange(0x40_0000..<0xc0_0000, visitor: &v, engine: engine)
        #expect(result == .stopped(7))
        #expect(v.seen == [0x40_0000, 0x40_1000, 0x40_2000])
        #expect(v.posts == 1)
    }

    @Test(arguments: [WalkEngine.c, .swift])
    func aVisitorsOwnErrorIsRethrown(engine: WalkEngine) throws {
        let (_, space, _) = try makeSmallSpace()
        var v = ThrowAt(address: 0x40_3000)
        #expect(throws: Boom(at: 0x40_3000)) {
            try space.walkPageRange(0x40_0000..<0xc0_0000, visitor: &v, engine: engine)
        }
        #expect(v.posts == 1)
        #expect(pw_ptl_held_by_thread() == 0)
    }

    @Test(arguments: [WalkEngine.c, .swift])
    func invalidArguments(engine: WalkEngine) throws {
        let (_, space, vma) = try makeSmallSpace()
        var counter = PresentCounter()
        #expect(throws: PageWalkError.invalidArgument) {
            try space.walkPageRange(0x40_0000..<0x40_0000, visitor: &counter, engine: engine)
        }
        #expect(throws: PageWalkError.invalidArgument) {
            try vma.walkPageRangeVMA(0x30_0000..<0x40_1000, visitor: &counter, engine: engine)
        }
        var installer = Installer()
        #expect(throws: PageWalkError.invalidArgument) {
            try space.walkPageRange(0x40_0000..<0x50_0000, visitor: &installer, engine: engine)
        }
        #expect(throws: PageWalkError.invalidArgument) { try vma.walkPageVMA(visitor: &installer, engine: engine) }
        #expect(installer.installed == 0)
    }

    @Test(arguments: [WalkEngine.c, .swift])
    func installAllocatesAndFailsWithOutOfMemory(engine: WalkEngine) throws {
        let (machine, space, _) = try makeSmallSpace()
        space.mmapLockState = .write
        var installer = Installer()
        // 4 MiB + 8 pages is populated; the next table (at 6 MiB) must be allocated.
        machine.setAllocationBudget(0)
        #expect(throws: PageWalkError.outOfMemory) {
            try space.walkPageRangeMM(0x60_0000..<0x60_2000, visitor: &installer, engine: engine)
        }
        machine.setAllocationBudget(nil)
        installer = Installer()
        #expect(try space.walkPageRangeMM(0x40_6000..<0x40_a000, visitor: &installer, engine: engine) == .completed)
        // 0x406000, 0x407000 are populated; 0x408000 and 0x409000 get markers.
        #expect(installer.installed == 2)
        #expect(try PTE(rawValue: space.entry(.pte, at: 0x40_9000)).marker == .guardRegion)
    }

    @Test(arguments: [WalkEngine.c, .swift])
    func pmdEntryCanReadItsPTETable(engine: WalkEngine) throws {
        let (_, space, _) = try makeSmallSpace()
        var v = TableReader()
        try space.walkPageRange(0x40_0000..<0xc0_0000, visitor: &v, engine: engine)
        #expect(v.present == 8)
        #expect(v.thpPages == 512)
        #expect(pw_ptl_held_by_thread() == 0)
    }

    @Test(arguments: [WalkEngine.c, .swift])
    func failedLockAssertionsReachTheHook(engine: WalkEngine) throws {
        let (machine, space, _) = try makeSmallSpace()
        let events = Log<MachineEvent>()
        machine.onEvent { events.append($0) }
        space.mmapLockState = .none
        var counter = PresentCounter()
        try space.walkPageRange(0x40_0000..<0x40_1000, visitor: &counter, engine: engine)
        #expect(events.items == [.assertionFailed("mmap_locked")])
        #expect(machine.stats.assertionFailures == 1)
    }
}

@Suite struct FolioTests {
    @Test(arguments: [WalkEngine.c, .swift])
    func findsPTEAndTHPFolios(engine: WalkEngine) throws {
        let (machine, space, vma) = try makeSmallSpace()
        try machine.declareFolio(head: 0x104, order: 2)
        let small = try space.withFolio(at: 0x40_5000, in: vma, engine: engine) { ($0.level, $0.page, $0.folio, $0.folioOrder) }
        #expect(small?.0 == .pte)
        #expect(small?.1 == 0x105)
        #expect(small?.2 == 0x104)
        #expect(small?.3 == 2)
        let huge = try space.withFolio(at: 0x80_3000, in: vma, engine: engine) { ($0.level, $0.page, $0.folio) }
        #expect(huge?.0 == .pmd)
        #expect(huge?.1 == 0x1003)
        #expect(huge?.2 == 0x1000)
        #expect(try space.withFolio(at: 0x40_9000, in: vma, engine: engine) { _ in true } == nil)
    }

    @Test(arguments: [WalkEngine.c, .swift])
    func theLockIsHeldInsideAndReleasedEvenWhenTheBodyThrows(engine: WalkEngine) throws {
        let (_, space, vma) = try makeSmallSpace()
        let held = try space.withFolio(at: 0x40_0000, in: vma, engine: engine) { _ in pw_ptl_held_by_thread() }
        #expect(held == 1)
        #expect(pw_ptl_held_by_thread() == 0)
        #expect(throws: Boom(at: 1)) {
            try space.withFolio(at: 0x40_0000, in: vma, engine: engine) { _ in throw Boom(at: 1) }
        }
        #expect(pw_ptl_held_by_thread() == 0)
    }

    @Test(arguments: [WalkEngine.c, .swift])
    func zeroPagesAndMigrationEntriesOnlyWhenAsked(engine: WalkEngine) throws {
        let (_, space, vma) = try makeSmallSpace()
        try space.mapZeroPage(at: 0x41_0000)
        try space.setMigrationEntry(at: 0x41_1000, pfn: 0x200)
        #expect(try space.withFolio(at: 0x41_0000, in: vma, engine: engine) { _ in true } == nil)
        let zero = try space.withFolio(at: 0x41_0000, in: vma, flags: .zeroPage, engine: engine) { ($0.page, $0.folio) }
        #expect(zero?.0 == nil)
        #expect(zero?.1 == 1)
        #expect(try space.withFolio(at: 0x41_1000, in: vma, engine: engine) { _ in true } == nil)
        let migrating = try space.withFolio(at: 0x41_1000, in: vma, flags: .migration, engine: engine) { ($0.page, $0.folio) }
        #expect(migrating?.0 == nil)
        #expect(migrating?.1 == 0x200)
    }
}

@Suite struct EntryTests {
    @Test func accessorsDecodeTheX86Layout() {
        let pte = PTE(rawValue: 0x8000_0000_0001_2867)
        #expect(pte.isPresent && pte.isWritable && pte.isUser && pte.isDirty && pte.isSoftDirty && pte.isNoExecute)
        #expect(!pte.isHuge && !pte.isSpecial)
        #expect(pte.pfn == 0x12)
        let swap = PTE.swap(type: 3, offset: 0x1234)
        #expect(swap.isSwap && swap.swapType == 3 && swap.swapOffset == 0x1234 && !swap.isMigration)
        #expect(PTE.migration(pfn: 0x40, writable: true).rawValue == 0x40036)
        #expect(PTE.marker(.guardRegion).marker == .guardRegion)
        #expect(PTE.none.swapType == nil)
        #expect(PMD.present(pfn: 0x400, flags: [.present, .writable, .user, .accessed, .dirty, .huge]).rawValue == 0x4000e7)
    }

    @Test func geometryFollowsTheLevels() throws {
        for (levels, bits) in [(2, 30), (3, 39), (4, 48), (5, 57)] {
            let machine = try Machine(levels: levels, frames: 4096, tableBase: 2048)
            #expect(machine.geometry.virtualAddressBits == bits)
            #expect(machine.geometry.realLevels.count == levels)
            #expect(machine.geometry.taskSize == 1 << UInt64(bits - 1))
        }
        #expect(throws: PageWalkError.invalidArgument) { try Machine(levels: 6, frames: 4096, tableBase: 2048) }
        #expect(throws: PageWalkError.invalidArgument) { try Machine(levels: 4, frames: 4096, tableBase: 4096) }
    }
}
