import CBenchCallbacks
import CWalkCore
import PageWalk

/// A small seeded generator (SplitMix64): workloads are the same run after run.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Sizes of the workloads (`--quick` makes them small).
struct Sizes {
    var densePages: [Int]
    var thpPages: Int
    var sparsePages: Int
    var vmas: Int
    var folioLookups: Int
    var folioPages: Int
    var installPages: Int
    var smapsPages: Int

    static let full = Sizes(densePages: [1 << 18, 1 << 20], thpPages: 1 << 18, sparsePages: 1000, vmas: 10_000,
                            folioLookups: 1_000_000, folioPages: 1 << 18, installPages: 1 << 18, smapsPages: 1 << 18)
    static let quick = Sizes(densePages: [1 << 12, 1 << 14], thpPages: 1 << 14, sparsePages: 100, vmas: 500,
                             folioLookups: 10_000, folioPages: 1 << 12, installPages: 1 << 12, smapsPages: 1 << 14)
}

/// "1GiB", "16MiB" for a number of 4 KiB pages.
func sizeName(pages: Int) -> String {
    let bytes = pages << 12
    if bytes >= 1 << 30 && bytes % (1 << 30) == 0 { return "\(bytes >> 30)GiB" }
    return "\(bytes >> 20)MiB"
}

/// Where the regions start: 4 GiB, aligned for every size used.
let regionStart: UInt64 = 1 << 32
/// First data frame; frames below are unused but for the zero page (1).
let dataBase: UInt64 = 1024
let rw: VMAFlags = [.read, .write]
let userPage: UInt64 = EntryFlags.userPage.rawValue

/// Frames for `dataFrames` data frames and `tables` page tables (with slack).
func makeMachine(levels: Int = 4, dataFrames: UInt64, tables: UInt64) -> Machine {
    let tableBase = (dataBase + dataFrames + 511) & ~511
    do {
        return try Machine(levels: levels, frames: tableBase + tables + 64, tableBase: tableBase, zeroPFN: 1)
    } catch {
        fail("cannot create a machine: \(error)")
    }
}

func must<R>(_ what: String, _ body: () throws -> R) -> R {
    do { return try body() } catch { fail("\(what): \(error)") }
}

// MARK: - shared walkers of the Swift paths

func swiftCount(_ space: AddressSpace, _ range: Range<UInt64>, _ callbacks: WalkCallbacks,
                _ engine: WalkEngine) -> cb_counts {
    var v = CountingVisitor(callbacks)
    must("walk") {
        try space.withMmapReadLock { () throws -> Void in
            let r = try space.walkPageRange(range, visitor: &v, engine: engine)
            if r != .completed { fail("walk stopped: \(r)") }
        }
    }
    return v.counts
}

func cCount(_ space: AddressSpace, _ range: Range<UInt64>, _ mode: UInt32) -> cb_counts {
    var c = cb_counts()
    let err = cb_walk_count(space.pointer, UInt(range.lowerBound), UInt(range.upperBound), mode, &c)
    if err != 0 { fail("walk_page_range returned \(err)") }
    return c
}

func floorCount(_ space: AddressSpace, _ range: Range<UInt64>, perVMA: Bool = false) -> cb_counts {
    var c = cb_counts()
    cb_floor_count(space.pointer, UInt(range.lowerBound), UInt(range.upperBound), perVMA, &c)
    return c
}

let modePTE = CB_PTE_ENTRY.rawValue
let modeRange = CB_PTE_RANGE.rawValue
let modeHole = CB_PTE_HOLE.rawValue
let modeTHP = CB_PMD_THP.rawValue
let modeTest = CB_TEST_WALK.rawValue

/// Paths (a) to (e) of a counting walk; `sig` picks the fields every path must agree on.
func countingPaths(_ space: AddressSpace, _ range: Range<UInt64>, swift: WalkCallbacks, cMode: UInt32,
                   perVMA: Bool = false, sig: @escaping (cb_counts) -> [UInt64]) -> [BenchPath] {
    let batchedMode = (cMode & ~modePTE) | modeRange
    return [
        BenchPath(id: .c, run: { sig(cCount(space, range, cMode)) }),
        BenchPath(id: .swiftOnC, run: { sig(swiftCount(space, range, swift, .c)) }),
        BenchPath(id: .swiftEngine, run: { sig(swiftCount(space, range, swift, .swift)) }),
        BenchPath(id: .floor, run: { sig(floorCount(space, range, perVMA: perVMA)) }),
        BenchPath(id: .batched, run: { sig(cCount(space, range, batchedMode)) }),
    ]
}

// MARK: - 1. dense

/// A region of `pages` PTEs from `regionStart`, about 1 in 16 a swap entry (not present).
func buildDense(pages: Int, seed: UInt64) -> (Machine, AddressSpace, VMA, present: [Bool]) {
    let machine = makeMachine(dataFrames: UInt64(pages), tables: UInt64(pages / 512 + 16))
    let space = must("mm") { try machine.makeAddressSpace() }
    let range = regionStart..<regionStart + UInt64(pages) << 12
    let vma = must("vma") { try space.addVMA(range, flags: rw) }
    var rng = SplitMix64(seed: seed)
    var present = [Bool](repeating: true, count: pages)
    for i in 0..<pages {
        let value: UInt64
        if rng.next() % 16 == 0 {
            present[i] = false
            value = pw_swp_entry(1, UInt64(i))
        } else {
            value = userPage | (dataBase + UInt64(i)) << 12
        }
        must("set pte") { try space.setEntry(.pte, at: range.lowerBound + UInt64(i) << 12, to: value) }
    }
    return (machine, space, vma, present)
}

func denseWorkload(pages: Int, seed: UInt64) -> Workload {
    let (machine, space, _, present) = buildDense(pages: pages, seed: seed)
    let range = regionStart..<regionStart + UInt64(pages) << 12
    let count = UInt64(present.lazy.filter { $0 }.count)
    return Workload(
        name: "dense-\(sizeName(pages: pages))", unit: "PTE", entries: pages,
        expected: [UInt64(pages), count], fields: ["ptes", "present"],
        paths: countingPaths(space, range, swift: .pteEntry, cMode: modePTE) { [$0.ptes, $0.present] },
        tables: { machine.stats.tablesInUse })
}

// MARK: - 2. THP

func thpWorkload(pages: Int) -> Workload {
    let leaves = pages / 512
    let machine = makeMachine(dataFrames: UInt64(pages), tables: 16)
    let space = must("mm") { try machine.makeAddressSpace() }
    let range = regionStart..<regionStart + UInt64(pages) << 12
    must("vma") { _ = try space.addVMA(range, flags: rw) }
    for i in 0..<leaves {
        let pfn = dataBase + UInt64(i) * 512
        let value = userPage | EntryFlags.huge.rawValue | pfn << 12
        must("set pmd") { try space.setEntry(.pmd, at: range.lowerBound + UInt64(i) << 21, to: value) }
    }
    return Workload(
        name: "thp-\(sizeName(pages: pages))", unit: "PMD", entries: leaves,
        expected: [UInt64(leaves), 0], fields: ["leaves", "ptes"],
        paths: countingPaths(space, range, swift: [.pmdEntry, .pteEntry], cMode: modeTHP | modePTE) {
            [$0.leaves, $0.ptes]
        },
        tables: { machine.stats.tablesInUse })
}

// MARK: - 3. sparse

func sparseWorkload(levels: Int, pages: Int, seed: UInt64) -> Workload {
    // Each page may need a table at every level below the top.
    let machine = makeMachine(levels: levels, dataFrames: UInt64(pages), tables: UInt64(pages * (levels - 1) + 8))
    let space = must("mm") { try machine.makeAddressSpace() }
    let taskSize = machine.geometry.taskSize
    let range = 0..<taskSize
    must("vma") { _ = try space.addVMA(range, flags: rw) }
    var rng = SplitMix64(seed: seed)
    var used = Set<UInt64>()
    while used.count < pages {
        let page = rng.next() % (taskSize >> 12)
        if used.insert(page).inserted {
            let value = userPage | (dataBase + UInt64(used.count - 1)) << 12
            must("set pte") { try space.setEntry(.pte, at: page << 12, to: value) }
        }
    }
    // The walker reports a hole for every none entry above the PTE level; the floor counts them.
    let f = floorCount(space, range)
    if f.present != UInt64(pages) || f.hole_bytes &+ f.ptes << 12 != taskSize {
        fail("sparse set-up: floor saw \(f)")
    }
    let bits = levels == 5 ? 56 : 47
    return Workload(
        name: "sparse-\(bits)bit-\(pages)pages", unit: "PTE or hole", entries: Int(f.ptes + f.holes),
        expected: [f.ptes, f.present, f.holes, f.hole_bytes], fields: ["ptes", "present", "holes", "hole_bytes"],
        paths: countingPaths(space, range, swift: [.pteEntry, .pteHole], cMode: modePTE | modeHole) {
            [$0.ptes, $0.present, $0.holes, $0.hole_bytes]
        },
        tables: { machine.stats.tablesInUse })
}

// MARK: - 4. many VMAs

/// `count` VMAs of 4 pages every 8 pages, all populated; every 4th is VM_EXEC, which test_walk skips.
func manyVMAsWorkload(count: Int) -> Workload {
    let machine = makeMachine(dataFrames: UInt64(count * 4), tables: UInt64(count / 64 + 16))
    let space = must("mm") { try machine.makeAddressSpace() }
    for i in 0..<count {
        let start = regionStart + UInt64(i) * 8 << 12
        let flags: VMAFlags = i % 4 == 3 ? [.read, .exec] : rw
        must("vma") { _ = try space.addVMA(start..<start + 4 << 12, flags: flags) }
        for p in 0..<4 {
            let value = userPage | (dataBase + UInt64(i * 4 + p)) << 12
            must("set pte") { try space.setEntry(.pte, at: start + UInt64(p) << 12, to: value) }
        }
    }
    let range = regionStart..<regionStart + UInt64(count) * 8 << 12
    let skipped = UInt64(count / 4)
    let walked = UInt64(count) - skipped
    return Workload(
        name: "many-vmas-\(count)", unit: "VMA", entries: count,
        expected: [walked * 4, walked * 4, UInt64(count), skipped], fields: ["ptes", "present", "vmas", "skipped"],
        paths: countingPaths(space, range, swift: [.testWalk, .pteEntry], cMode: modeTest | modePTE, perVMA: true) {
            [$0.ptes, $0.present, $0.vmas, $0.skipped]
        },
        tables: { machine.stats.tablesInUse })
}

// MARK: - 5. folio_walk

func folioWorkload(pages: Int, lookups: Int, seed: UInt64) -> Workload {
    let (machine, space, vma, present) = buildDense(pages: pages, seed: seed)
    var rng = SplitMix64(seed: seed ^ 0x5EED)
    var addrs: [UInt64] = []
    addrs.reserveCapacity(lookups)
    var sum: UInt64 = 0
    while addrs.count < lookups {
        let i = Int(rng.next() % UInt64(pages))
        guard present[i] else { continue }
        addrs.append(regionStart + UInt64(i) << 12 + rng.next() % 4096)
        sum &+= dataBase + UInt64(i)
    }
    let n = addrs.count
    let buffer = UnsafeMutableBufferPointer<UInt64>.allocate(capacity: n)
    _ = buffer.initialize(from: addrs)
    let base = buffer.baseAddress!
    func swiftPath(_ engine: WalkEngine) -> [UInt64] {
        var found: UInt64 = 0
        var total: UInt64 = 0
        mmap_read_lock(space.pointer)
        var i = 0
        while i < n {
            if let page = try! space.withFolio(at: base[i], in: vma, engine: engine, { $0.page }) {
                found &+= 1
                total &+= page
            }
            i &+= 1
        }
        mmap_read_unlock(space.pointer)
        return [found, total]
    }
    return Workload(
        name: "folio-walk-\(n)", unit: "lookup", entries: n,
        expected: [UInt64(n), sum], fields: ["found", "pfn_sum"],
        paths: [
            BenchPath(id: .c, run: {
                var found: UInt64 = 0
                let s = cb_folio_walk(space.pointer, try! vma.pointer, base, n, &found)
                return [found, s]
            }),
            BenchPath(id: .swiftOnC, run: { swiftPath(.c) }),
            BenchPath(id: .swiftEngine, run: { swiftPath(.swift) }),
            BenchPath(id: .floor, run: {
                var found: UInt64 = 0
                let s = cb_floor_lookup(space.pointer, base, n, &found)
                return [found, s]
            }),
        ],
        tables: { machine.stats.tablesInUse })
}

// MARK: - 6. install

/// An empty address space with one anonymous VMA, rebuilt before every run (untimed).
final class InstallState {
    let pages: Int
    var machine: Machine!
    var space: AddressSpace!
    var range: Range<UInt64> { regionStart..<regionStart + UInt64(pages) << 12 }

    init(pages: Int) { self.pages = pages }

    func reset() {
        space = nil
        machine = nil
        let tables = UInt64(pages / 512 + 16)
        machine = makeMachine(dataFrames: UInt64(pages), tables: tables)
        space = must("mm") { try machine.makeAddressSpace() }
        must("vma") { _ = try space.addVMA(range, flags: rw) }
        // Fault in the frames the tables will take, so that a run times the walk and its
        // allocations, not the simulation's first touch of its memory.
        let lay = pw_machine_layout(machine.pointer)!.pointee
        let first = Int(lay.table_base) * 512
        let count = Int(tables) * 512
        (lay.mem + first).update(repeating: 0, count: count)
    }
}

func installWorkload(pages: Int) -> Workload {
    let state = InstallState(pages: pages)
    let pfnBase = dataBase
    var checksum: UInt64 = 0
    for i in 0..<UInt64(pages) { checksum &+= userPage | (pfnBase + i) << 12 }
    // init_mm's and the user PGD, one PUD table, a PMD table per GiB (regionStart is 1 GiB aligned),
    // a PTE table per 2 MiB.
    let expectedTables = UInt64(2 + 1 + (pages + (1 << 18) - 1) >> 18 + (pages + 511) / 512)
    func finish(_ raw: [UInt64]) -> [UInt64] {
        let sum = cb_pte_checksum(state.space.pointer, UInt(state.range.lowerBound), UInt(state.range.upperBound))
        return raw + [sum, state.machine.stats.tablesInUse]
    }
    func swiftPath(_ engine: WalkEngine) -> [UInt64] {
        var v = InstallingVisitor(start: state.range.lowerBound, pfnBase: pfnBase)
        must("install") {
            try state.space.withMmapReadLock { () throws -> Void in
                let r = try state.space.walkPageRangeMM(state.range, visitor: &v, engine: engine)
                if r != .completed { fail("install stopped: \(r)") }
            }
        }
        return [v.installed]
    }
    return Workload(
        name: "install-\(sizeName(pages: pages))", unit: "PTE", entries: pages,
        expected: [UInt64(pages), checksum, expectedTables], fields: ["installed", "pte_sum", "tables"],
        paths: [
            BenchPath(id: .c, prepare: state.reset, run: {
                var n: UInt64 = 0
                let err = cb_install(state.space.pointer, UInt(state.range.lowerBound), UInt(state.range.upperBound),
                                     pfnBase, &n)
                if err != 0 { fail("walk_page_range_mm returned \(err)") }
                return [n]
            }, finish: finish),
            BenchPath(id: .swiftOnC, prepare: state.reset, run: { swiftPath(.c) }, finish: finish),
            BenchPath(id: .swiftEngine, prepare: state.reset, run: { swiftPath(.swift) }, finish: finish),
            BenchPath(id: .floor, prepare: state.reset, run: {
                var n: UInt64 = 0
                let err = cb_floor_install(state.space.pointer, UInt(state.range.lowerBound),
                                           UInt(state.range.upperBound), pfnBase, &n)
                if err != 0 { fail("floor install returned \(err)") }
                return [n]
            }, finish: finish),
        ],
        tables: { state.machine.stats.tablesInUse })
}

// MARK: - 7. smaps

/// Every other 2 MiB a THP leaf (dirty or clean), the others PTE tables of mixed PTEs.
func smapsWorkload(pages: Int, seed: UInt64) -> Workload {
    let pmds = pages / 512
    let machine = makeMachine(dataFrames: UInt64(pages), tables: UInt64(pmds + 16))
    let space = must("mm") { try machine.makeAddressSpace() }
    let range = regionStart..<regionStart + UInt64(pages) << 12
    must("vma") { _ = try space.addVMA(range, flags: rw) }
    var rng = SplitMix64(seed: seed)
    var e = cb_smaps()
    for j in 0..<pmds {
        let addr = range.lowerBound + UInt64(j) << 21
        let pfn = dataBase + UInt64(j) * 512
        if j % 2 == 0 {
            let flags: UInt64 = j % 4 == 0 ? userPage : userPage & ~EntryFlags.dirty.rawValue
            let value = flags | EntryFlags.huge.rawValue | pfn << 12
            must("set pmd") { try space.setEntry(.pmd, at: addr, to: value) }
            cb_smaps_pmd_leaf(&e, value, 1 << 21)
            e.pmds += 1
            continue
        }
        for i in 0..<512 {
            let value: UInt64
            switch rng.next() % 8 {
            case 0: value = 0
            case 1: value = pw_swp_entry(1, pfn + UInt64(i))
            case 2: value = (userPage & ~(EntryFlags.dirty.rawValue | EntryFlags.accessed.rawValue)) | (pfn + UInt64(i)) << 12
            case 3, 4: value = (userPage & ~EntryFlags.dirty.rawValue) | (pfn + UInt64(i)) << 12
            default: value = userPage | (pfn + UInt64(i)) << 12
            }
            must("set pte") { try space.setEntry(.pte, at: addr + UInt64(i) << 12, to: value) }
            cb_smaps_pte(&e, value)
        }
        e.ptes += 512
        e.pmds += 1
    }
    func sig(_ s: cb_smaps) -> [UInt64] { [s.rss, s.dirty, s.referenced, s.swap, s.anon_thp, s.ptes, s.pmds] }
    func swiftPath(_ engine: WalkEngine) -> [UInt64] {
        var v = SmapsVisitor(machine: machine)
        must("smaps") {
            try space.withMmapReadLock { () throws -> Void in
                let r = try space.walkPageRange(range, visitor: &v, engine: engine)
                if r != .completed { fail("smaps walk stopped: \(r)") }
            }
        }
        return sig(v.s)
    }
    let leaves = (pmds + 1) / 2
    return Workload(
        name: "smaps-\(sizeName(pages: pages))", unit: "PTE or PMD leaf", entries: Int(e.ptes) + leaves,
        expected: sig(e), fields: ["rss", "dirty", "referenced", "swap", "anon_thp", "ptes", "pmds"],
        paths: [
            BenchPath(id: .c, run: {
                var s = cb_smaps()
                let err = cb_smaps(space.pointer, UInt(range.lowerBound), UInt(range.upperBound), &s)
                if err != 0 { fail("smaps walk returned \(err)") }
                return sig(s)
            }),
            BenchPath(id: .swiftOnC, run: { swiftPath(.c) }),
            BenchPath(id: .swiftEngine, run: { swiftPath(.swift) }),
            BenchPath(id: .floor, run: {
                var s = cb_smaps()
                cb_floor_smaps(space.pointer, UInt(range.lowerBound), UInt(range.upperBound), &s)
                return sig(s)
            }),
        ],
        tables: { machine.stats.tablesInUse })
}
