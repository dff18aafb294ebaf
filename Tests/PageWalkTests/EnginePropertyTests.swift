import CWalkCore
import PageWalk
import PropertyBased
import Testing

/// SplitMix64: a small deterministic generator, so one seed builds the same world twice.
struct SplitMix: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9e37_79b9_7f4a_7c15
        var z = state
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }
    mutating func pick<T>(_ xs: [T]) -> T { xs[Int(next() % UInt64(xs.count))] }
    mutating func chance(_ percent: UInt64) -> Bool { next() % 100 < percent }
}

/// Records every callback, with deterministic behaviour drawn from a seed: stops, actions, rewrites.
struct Recorder: PageWalkVisitor {
    /// The callbacks this walk uses (drawn at random); the others are disabled.
    var enabled: WalkCallbacks
    var disabledCallbacks: WalkCallbacks { WalkCallbacks.all.subtracting(enabled) }
    var trace: [String] = []
    var rng: SplitMix
    var calls = 0
    let stopAfter: Int
    var againDone: Set<UInt64> = []

    init(callbacks: WalkCallbacks, seed: UInt64) {
        enabled = callbacks
        rng = SplitMix(state: seed)
        stopAfter = Int(rng.next() % 3000) + 50
    }

    mutating func common(_ name: String, _ a: UInt64, _ n: UInt64, _ walk: WalkContext, _ value: UInt64?) -> WalkStep {
        calls += 1
        let vma = walk.vma.map { "\($0.id)" } ?? "-"
        trace.append("\(name) \(String(a, radix: 16)) \(String(n, radix: 16)) vma=\(vma) \(value.map { String($0, radix: 16) } ?? "")")
        return calls == stopAfter ? .stop(9) : .proceed
    }

    mutating func steer(_ a: UInt64, _ walk: WalkContext) {
        let r = rng.next() % 20
        if r == 0 { walk.action = .continue }
        if r == 1 && !againDone.contains(a) { againDone.insert(a); walk.action = .again }
    }

    mutating func pgdEntry(_ e: inout PGD, address: UInt64, next: UInt64, walk: WalkContext) throws -> WalkStep {
        common("pgd", address, next, walk, e.rawValue)
    }
    mutating func p4dEntry(_ e: inout P4D, address: UInt64, next: UInt64, walk: WalkContext) throws -> WalkStep {
        common("p4d", address, next, walk, e.rawValue)
    }
    mutating func pudEntry(_ e: inout PUD, address: UInt64, next: UInt64, walk: WalkContext) throws -> WalkStep {
        steer(address, walk)
        return common("pud", address, next, walk, e.rawValue)
    }
    mutating func pmdEntry(_ e: inout PMD, address: UInt64, next: UInt64, walk: WalkContext) throws -> WalkStep {
        steer(address, walk)
        if rng.chance(2) { e = .none }
        return common("pmd", address, next, walk, e.rawValue)
    }
    mutating func pteEntry(_ e: inout PTE, address: UInt64, next: UInt64, walk: WalkContext) throws -> WalkStep {
        if rng.chance(1) { throw PageWalkError.errno(-14) }
        return common("pte", address, next, walk, e.rawValue)
    }
    mutating func pteHole(address: UInt64, next: UInt64, depth: Int, walk: WalkContext) throws -> WalkStep {
        common("hole\(depth)", address, next, walk, nil)
    }
    mutating func hugetlbEntry(_ e: inout PTE, hmask: UInt64, address: UInt64, next: UInt64,
                               walk: WalkContext) throws -> WalkStep {
        common("hugetlb", address, next, walk, e.rawValue)
    }
    mutating func testWalk(address: UInt64, next: UInt64, walk: WalkContext) throws -> VMAVerdict {
        _ = common("test", address, next, walk, nil)
        return rng.chance(20) ? .skip : .walk
    }
    mutating func preVMA(start: UInt64, end: UInt64, walk: WalkContext) throws -> WalkStep {
        common("pre", start, end, walk, nil)
    }
    mutating func postVMA(walk: WalkContext) { _ = common("post", 0, 0, walk, nil) }
    mutating func installPTE(address: UInt64, next: UInt64, walk: WalkContext) throws -> InstallStep {
        _ = common("install", address, next, walk, nil)
        return .install(.present(pfn: 0x300 + (address >> 12) % 256))
    }
}

/// Physical memory with two holes, for `runWorld(sparse: true)`.
var sparseRanges: [PhysicalRange] {
    [PhysicalRange(firstPFN: 0, frames: 1100), PhysicalRange(firstPFN: 2048, frames: 1024),
     PhysicalRange(firstPFN: 3500, frames: 8192 - 3500)]
}

/// Builds a random world from `seed` and runs a random sequence of walks on `engine`; returns
/// everything observable: callback traces, results, machine events, the final tables.
///
/// With `sparse`, the machine's memory has holes (frames 1100 ..< 2048 and 3072 ..< 3500) and its
/// tables start at 3000, so they spill across a hole; entries name frames in the holes too.
func runWorld(seed: UInt64, engine: WalkEngine, sparse: Bool = false) throws -> [String] {
    var rng = SplitMix(state: seed)
    let levels = Int(rng.next() % 4) + 2
    let machine = sparse
        ? try Machine(levels: levels, ranges: sparseRanges, tableBase: 3000, zeroPFN: 1, hugeZeroPFN: 512)
        : try Machine(levels: levels, frames: 8192, tableBase: 4096, zeroPFN: 1, hugeZeroPFN: 512)
    try machine.declareFolio(head: 512, order: 9)
    let out = Log<String>()
    machine.onEvent { out.append("event \($0)") }
    let space = try machine.makeAddressSpace()
    let top = min(machine.geometry.taskSize, 1 << 31)
    let twoMB: UInt64 = 1 << 21

    // VMAs: a few non-overlapping ranges of whole 2 MiB blocks.
    var vmas: [VMA] = []
    var cursor = (rng.next() % 4 + 1) * twoMB
    for _ in 0..<(rng.next() % 5 + 1) where cursor + 4 * twoMB < top {
        let len = (rng.next() % 3 + 1) * twoMB - (rng.chance(50) ? 0 : 0x3000)
        let kind = rng.next() % 6
        let flags: VMAFlags = kind == 3 ? [.read, .pfnmap] : kind == 4 ? [.read, .mixedmap] : [.read, .write]
        let file = kind == 2 ? machine.mapping(1) : nil
        let huge: HugePageSize? = kind == 5 ? .twoMegabytes : nil
        let length = huge != nil ? (len + twoMB - 1) / twoMB * twoMB : len
        if let vma = try? space.addVMA(cursor..<(cursor + length), flags: flags, file: file, pgoff: rng.next() % 64,
                                       hugePages: huge) {
            vmas.append(vma)
        }
        cursor += length + (rng.next() % 3) * twoMB
    }
    // Entries: a palette of what real tables hold, and some garbage.
    let real = machine.geometry.realLevels
    for _ in 0..<(rng.next() % 60 + 5) {
        let level = rng.pick(real)
        let address = rng.next() % min(cursor + 4 * twoMB, top)
        let pfn = rng.next() % 4096
        let values: [UInt64] = [
            PTE.present(pfn: pfn).rawValue, PTE.present(pfn: pfn, flags: [.present, .user]).rawValue,
            PMD.present(pfn: 1024, flags: [.present, .writable, .user, .huge]).rawValue,
            PMD.present(pfn: 512, flags: [.present, .user, .huge]).rawValue,
            PTE.swap(type: 2, offset: pfn).rawValue, PTE.migration(pfn: pfn).rawValue,
            PTE.marker(.guardRegion).rawValue, PTE.present(pfn: 1, flags: [.present, .user, .special]).rawValue,
            PTE.present(pfn: 9000 + pfn).rawValue, rng.next() & ~PW_PFN_MASK,
        ]
        try? space.setEntry(level, at: address, to: rng.pick(values))
    }
    // Walks.
    let all: [WalkCallbacks] = [.pgdEntry, .p4dEntry, .pudEntry, .pmdEntry, .pteEntry, .pteHole, .hugetlbEntry,
                                .testWalk, .preVMA, .postVMA]
    for round in 0..<8 {
        var set: WalkCallbacks = []
        for c in all where rng.chance(50) { set.insert(c) }
        var v = Recorder(callbacks: set, seed: rng.next())
        let s = rng.next() % cursor, e = s + rng.next() % (8 * twoMB) + 0x1000
        let lock = rng.pick([WalkLock.read, .write, .writeVerify, .vmaReadVerify])
        space.mmapLockState = rng.pick([.none, .read, .write])
        let result: String
        do {
            switch rng.next() % 6 {
            case 0:
                v.enabled.insert(.installPTE)
                machine.setAllocationBudget(rng.chance(50) ? Int(rng.next() % 4) : nil)
                result = "\(try space.walkPageRangeMM(s..<e, visitor: &v, lock: lock, engine: engine))"
                machine.setAllocationBudget(nil)
            case 1 where !vmas.isEmpty:
                result = "\(try rng.pick(vmas).walkPageVMA(visitor: &v, lock: lock, engine: engine))"
            case 2:
                space.mmapLockState = .write
                result = "\(try space.walkPageRangeDebug(s..<e, visitor: &v, engine: engine))"
            case 3:
                machine.mapping(1).setIMmapHeld(rng.chance(50))
                result = "\(try machine.mapping(1).walkPageMapping(pages: 0..<(rng.next() % 2048 + 1), visitor: &v, engine: engine))"
            default:
                result = "\(try space.walkPageRange(s..<e, visitor: &v, lock: lock, engine: engine))"
            }
        } catch {
            result = "error \(error)"
        }
        out.append("walk \(round): \(result)")
        out.append(contentsOf: v.trace)
        if let vma = vmas.first {
            let address = try vma.start + rng.next() % (vma.end - vma.start)
            let flags = FolioWalkFlags(rawValue: Int32(rng.next() % 4))
            let found = try space.withFolio(at: address, in: vma, flags: flags, engine: engine) {
                "\($0.level) \($0.entry) \(String(describing: $0.page)) \($0.folio)"
            }
            out.append("folio \(String(address, radix: 16)): \(found ?? "none")")
        }
        #expect(pw_ptl_held_by_thread() == 0)
    }
    out.append(contentsOf: space.dump().map(\.description))
    out.append("tables \(machine.stats.tablesInUse)")
    return out.items
}

/// Compares two traces line by line; records the first difference.
func expectSameTrace(_ c: [String], _ swift: [String], seed: Int) {
    let mismatch = (0..<min(c.count, swift.count)).first { c[$0] != swift[$0] }
    if let i = mismatch ?? (c.count == swift.count ? nil : min(c.count, swift.count)) {
        Issue.record("seed \(seed): first difference at line \(i): c '\(i < c.count ? c[i] : "<end>")' swift '\(i < swift.count ? swift[i] : "<end>")'")
    }
}

@Suite struct EnginePropertyTests {
    /// The memory layer's sparse path: holes, tables across a hole, entries into holes.
    @Test func bothEnginesProduceTheSameTraceOnSparseMachines() async throws {
        var badEntries = 0, tablesPastHole = 0
        await propertyCheck(count: 150, input: Gen.int(in: 0...Int.max)) { seed in
            let c = try runWorld(seed: UInt64(seed), engine: .c, sparse: true)
            let swift = try runWorld(seed: UInt64(seed), engine: .swift, sparse: true)
            #expect(c.count > 10)
            expectSameTrace(c, swift, seed: seed)
            badEntries += c.filter { $0.hasPrefix("event bad") }.count
        }
        // The worlds do reach what only a sparse machine has.
        #expect(badEntries > 0)
        let machine = try Machine(levels: 4, ranges: sparseRanges, tableBase: 3000)
        let space = try machine.makeAddressSpace()
        for i in 0..<100 as Range<UInt64> {
            try space.setEntry(.pte, at: i << 21, to: PTE.present(pfn: 2048 + i).rawValue)
        }
        for entry in space.dump() where entry.isTable {
            if (entry.value & PW_PFN_MASK) >> 12 >= 3500 { tablesPastHole += 1 }
        }
        #expect(tablesPastHole > 0)
        #expect(!machine.isValid(pfn: 1100) && !machine.isValid(pfn: 3499) && machine.isValid(pfn: 3500))
        #expect(machine.physicalRanges.map(\.frames) == [1100, 1024, 8192 - 3500])
        #expect(machine.stats.frames == 1100 + 1024 + 8192 - 3500)
    }

    @Test func bothEnginesProduceTheSameTraceOnRandomWorlds() async {
        await propertyCheck(count: 300, input: Gen.int(in: 0...Int.max)) { seed in
            let c = try runWorld(seed: UInt64(seed), engine: .c)
            let swift = try runWorld(seed: UInt64(seed), engine: .swift)
            #expect(c.count > 10)
            let mismatch = (0..<min(c.count, swift.count)).first { c[$0] != swift[$0] }
            if let i = mismatch ?? (c.count == swift.count ? nil : min(c.count, swift.count)) {
                Issue.record("seed \(seed): first difference at line \(i): c '\(i < c.count ? c[i] : "<end>")' swift '\(i < swift.count ? swift[i] : "<end>")'")
            }
        }
    }
}
