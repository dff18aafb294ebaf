import CWalkCore
import PageWalk
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

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

/// A list that any thread appends to (what an event handler collects).
final class Log<T: Sendable>: Sendable {
    private let storage = Mutex<[T]>([])
    func append(_ item: T) { storage.withLock { $0.append(item) } }
    func append(contentsOf items: some Sequence<T>) { storage.withLock { $0.append(contentsOf: items) } }
    var items: [T] { storage.withLock { $0 } }
    var count: Int { storage.withLock { $0.count } }
}

/// Runs each body on its own thread (pthreads: each body really has a thread of its own, which
/// is what ThreadSanitizer needs to see) and waits for them all.
func onThreads(_ bodies: [@Sendable () -> Void]) {
    final class Body { let run: @Sendable () -> Void; init(_ run: @escaping @Sendable () -> Void) { self.run = run } }
    var threads: [pthread_t] = []
    for body in bodies {
        var thread = pthread_t()
        let context = Unmanaged.passRetained(Body(body)).toOpaque()
        let err = pthread_create(&thread, nil, { context in
            Unmanaged<Body>.fromOpaque(context!).takeRetainedValue().run()
            return nil
        }, context)
        precondition(err == 0, "pthread_create: \(err)")
        threads.append(thread)
    }
    for thread in threads { pthread_join(thread, nil) }
}

/// Counts present PTEs (its pteEntry makes the walker split THPs).
struct PresentPTEs: PageWalkVisitor {
    var present = 0
    mutating func pteEntry(_ pte: inout PTE, address: UInt64, next: UInt64, walk: WalkContext) throws -> WalkStep {
        if pte.isPresent { present += 1 }
        return .proceed
    }
}

@Suite struct ConcurrencyTests {
    /// Two Swift-engine walks under the read lock split the same THPs while a third thread swaps
    /// the event handler: every THP is split once, both walks see every page, and (under
    /// `swift test --sanitize=thread`) nothing races — the engine reads upper-level entries with
    /// acquire loads, as the C core does, and the handler is swapped under a lock.
    @Test(arguments: [WalkEngine.swift, .c])
    func twoWalksUnderTheReadLockSplitTheSameTHPs(engine: WalkEngine) throws {
        let thps = 64
        let base: UInt64 = 0x4000_0000, end = base + UInt64(thps) << 21
        let machine = try Machine(levels: 4, frames: 1 << 18, tableBase: 1 << 17)
        let space = try machine.makeAddressSpace()
        try space.addVMA(base..<end, flags: [.read, .write])
        for i in 0..<UInt64(thps) { try space.installTHP(at: base + i << 21, pfn: 0x1000 + i * 512) }
        let events = Log<MachineEvent>()
        machine.onEvent { events.append($0) }
        let started = Atomic<Int>(0)
        let results = Log<Int>()
        let walker: @Sendable () -> Void = {
            started.add(1, ordering: .relaxed)
            while started.load(ordering: .relaxed) < 2 {}
            var visitor = PresentPTEs()
            do {
                try space.withMmapReadLock { _ = try space.walkPageRange(base..<end, visitor: &visitor, engine: engine) }
                results.append(visitor.present)
            } catch {
                results.append(-1)
            }
        }
        let swapper: @Sendable () -> Void = {
            while started.load(ordering: .relaxed) < 2 {}
            for i in 0..<200 {
                if i % 2 == 0 {
                    machine.onEvent { events.append($0) }
                } else {
                    machine.onEvent { event in events.append(event) }
                }
            }
        }
        onThreads([walker, walker, swapper])
        #expect(results.items == [thps * 512, thps * 512])
        let splits = events.items.filter { if case .split = $0 { true } else { false } }
        #expect(splits.count == thps)
        #expect(events.count == thps)
        #expect(Set(splits.map { "\($0)" }).count == thps)
    }
}

@Suite struct EventDecodingTests {
    @Test func anUnknownEventKindIsReportedAsUnknownWithoutReadingItsVMA() {
        var event = pw_event()
        event.kind = pw_event_kind(rawValue: 99)
        event.vma = nil
        #expect(MachineEvent(event) == .unknown(kind: 99))
        // Known kinds whose VMA is missing, and out-of-range enums, do not crash either.
        event.kind = PW_EVENT_SPLIT_PMD
        event.addr = 0x20_0000
        #expect(MachineEvent(event) == .split(level: .pmd, address: 0x20_0000, vma: 0))
        event.kind = PW_EVENT_ASSERT_FAIL
        event.assertion = pw_assert(rawValue: 42)
        #expect(MachineEvent(event) == .assertionFailed("assertion 42"))
        event.kind = PW_EVENT_BAD
        event.level = pw_level(rawValue: 17)
        #expect(MachineEvent(event) == .unknown(kind: PW_EVENT_BAD.rawValue))
    }
}

/// Records each PTE and PMD callback's `[address, next)`.
struct Spans: PageWalkVisitor {
    var ptes: [(UInt64, UInt64)] = [], pmds: [(UInt64, UInt64)] = []
    mutating func pmdEntry(_ pmd: inout PMD, address: UInt64, next: UInt64, walk: WalkContext) throws -> WalkStep {
        pmds.append((address, next))
        return .proceed
    }
    mutating func pteEntry(_ pte: inout PTE, address: UInt64, next: UInt64, walk: WalkContext) throws -> WalkStep {
        if pte.isPresent { ptes.append((address, next)) }
        return .proceed
    }
}

@Suite struct TopOfTheAddressSpaceTests {
    @Test(arguments: [WalkEngine.c, .swift])
    func aClosedRangeWalksTheLastPage(engine: WalkEngine) throws {
        let machine = try Machine(levels: 4, frames: 1 << 16, tableBase: 1 << 15)
        let kernel = machine.kernel
        let last: UInt64 = 0xffff_ffff_ffff_f000
        try kernel.setEntry(.pte, at: last, to: PTE.present(pfn: 0x100).rawValue)
        try kernel.setEntry(.pte, at: last - 0x1000, to: PTE.present(pfn: 0x101).rawValue)
        kernel.mmapLockState = .read
        var spans = Spans()
        try machine.walkKernelPageTableRange(0xffff_ffff_ffe0_0000...UInt64.max, visitor: &spans, engine: engine)
        // The last PTE's range ends at 2^64, which wraps to 0 as in the kernel.
        #expect(spans.ptes.map(\.0) == [last - 0x1000, last])
        #expect(spans.ptes.last?.1 == 0)
        #expect(spans.pmds.map(\.0) == [0xffff_ffff_ffe0_0000])
        // A closed range that ends below the top is [start, last + 1).
        var below = Spans()
        try machine.walkKernelPageTableRange(0xffff_ffff_ffe0_0000...(last - 1), visitor: &below, engine: engine)
        #expect(below.ptes.map(\.0) == [last - 0x1000])
        #expect(below.pmds.map(\.1) == [last])
    }

    @Test(arguments: [WalkEngine.c, .swift])
    func aUserWalkThroughTheTopReportsTheHoleAboveTheLastVMA(engine: WalkEngine) throws {
        let (_, space, _) = try makeSmallSpace()
        struct Holes: PageWalkVisitor {
            var holes: [(UInt64, UInt64)] = []
            mutating func pteHole(address: UInt64, next: UInt64, depth: Int, walk: WalkContext) throws -> WalkStep {
                if depth == -1 { holes.append((address, next)) }
                return .proceed
            }
        }
        var v = Holes()
        try space.walkPageRange(0...UInt64.max, visitor: &v, engine: engine)
        #expect(v.holes.first.map { [$0.0, $0.1] } == [0, 0x40_0000])
        #expect(v.holes.last.map { [$0.0, $0.1] } == [0xc0_0000, UInt64.max])
    }
}

@Suite struct StrictLockingTests {
    @Test(arguments: [WalkEngine.c, .swift])
    func aWalkWithoutItsLockFailsOnAStrictMachine(engine: WalkEngine) throws {
        let (machine, space, vma) = try makeSmallSpace()
        let events = Log<MachineEvent>()
        machine.onEvent { events.append($0) }
        #expect(!machine.strictLocking)
        space.mmapLockState = .none
        // Not strict: reported, and the walk goes on, as after the kernel's WARN.
        var counter = PresentCounter()
        #expect(try space.walkPageRange(0x40_0000..<0x40_1000, visitor: &counter, engine: engine) == .completed)
        #expect(counter.present == 1)
        machine.strictLocking = true
        #expect(machine.strictLocking)
        counter = PresentCounter()
        #expect(throws: PageWalkError.lockNotHeld) {
            try space.walkPageRange(0x40_0000..<0x40_1000, visitor: &counter, engine: engine)
        }
        #expect(throws: PageWalkError.lockNotHeld) { try vma.walkPageVMA(visitor: &counter, engine: engine) }
        #expect(counter.present == 0)
        #expect(try space.withFolio(at: 0x40_0000, in: vma, engine: engine) { $0.folio } == nil)
        // The VMA lock a walk requires: held mmap lock, but no VMA write lock.
        space.mmapLockState = .read
        #expect(throws: PageWalkError.lockNotHeld) {
            try space.walkPageRange(0x40_0000..<0x40_1000, visitor: &counter, lock: .vmaReadVerify, engine: engine)
        }
        #expect(counter.present == 0)
        // With its locks held a strict walk is an ordinary walk.
        #expect(try space.walkPageRange(0x40_0000..<0x40_1000, visitor: &counter, engine: engine) == .completed)
        #expect(counter.present == 1)
        #expect(events.items.filter { $0 == .assertionFailed("mmap_locked") }.count == 4)
        #expect(events.items.contains(.assertionFailed("vma_locked")))
    }

    @Test(arguments: [WalkEngine.c, .swift])
    func tableWalksAndMappingWalksFailWithoutTheirLocks(engine: WalkEngine) throws {
        let machine = try Machine(levels: 4, frames: 1 << 16, tableBase: 1 << 15)
        machine.onEvent { _ in }
        machine.strictLocking = true
        var spans = Spans()
        try machine.kernel.setEntry(.pte, at: 0xffff_ffff_ffff_f000, to: PTE.present(pfn: 0x100).rawValue)
        #expect(throws: PageWalkError.lockNotHeld) {
            try machine.walkKernelPageTableRange(0xffff_ffff_ffe0_0000...UInt64.max, visitor: &spans, engine: engine)
        }
        // The lockless twin asserts nothing.
        try machine.walkKernelPageTableRange(0xffff_ffff_ffe0_0000...UInt64.max, visitor: &spans, lockless: true,
                                             engine: engine)
        #expect(spans.ptes.count == 1)
        let space = try machine.makeAddressSpace()
        space.mmapLockState = .read
        #expect(throws: PageWalkError.lockNotHeld) {
            try space.walkPageRangeDebug(0..<0x40_0000, visitor: &spans, engine: engine)
        }
        let file = machine.mapping(1)
        try space.addVMA(0x40_0000..<0x80_0000, flags: [.read], file: file)
        #expect(throws: PageWalkError.lockNotHeld) {
            try file.walkPageMapping(pages: 0..<16, visitor: &spans, engine: engine)
        }
        file.setIMmapHeld(true)
        #expect(try file.walkPageMapping(pages: 0..<16, visitor: &spans, engine: engine) == .completed)
    }
}
