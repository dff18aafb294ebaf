import PageWalk

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Fields of `MemoryStats` the import could not determine exactly.
public struct SmapsUnknowns: OptionSet, Sendable, Hashable {
    /// The raw bits.
    public let rawValue: UInt32
    /// Wraps raw bits.
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// Pss and the private/shared split: a page's map count was unknown (no kpagecount).
    public static let pss = SmapsUnknowns(rawValue: 1 << 0)
    /// The folio's own dirty flag was unknown (no kpageflags).
    public static let dirty = SmapsUnknowns(rawValue: 1 << 1)
    /// The folio's referenced flag was unknown.
    public static let referenced = SmapsUnknowns(rawValue: 1 << 2)
    /// KSM pages could not be told apart.
    public static let ksm = SmapsUnknowns(rawValue: 1 << 3)
    /// LazyFree (needs the swap-backed flag).
    public static let lazyFree = SmapsUnknowns(rawValue: 1 << 4)
    /// Shmem versus file (needs the swap-backed flag): Pss_File, Pss_Shmem, ShmemPmdMapped,
    /// FilePmdMapped.
    public static let shmem = SmapsUnknowns(rawValue: 1 << 5)
    /// SwapPss: a swap slot's count is not in any page table.
    public static let swapPss = SmapsUnknowns(rawValue: 1 << 6)
}

/// The kernel's `struct mem_size_stats` (fs/proc/task_mmu.c): sizes in bytes; the `pss*`
/// fields in bytes << `pssShift`, as the kernel keeps them.
public struct MemoryStats: Sendable, Equatable {
    /// `PSS_SHIFT`: the fixed-point shift of the Pss fields.
    public static let pssShift: UInt64 = 12

    /// `Rss`: bytes mapped and present.
    public var resident: UInt64 = 0
    /// `Shared_Clean`: resident, mapped more than once, clean.
    public var sharedClean: UInt64 = 0
    /// `Shared_Dirty`: resident, mapped more than once, dirty.
    public var sharedDirty: UInt64 = 0
    /// `Private_Clean`: resident, mapped once, clean.
    public var privateClean: UInt64 = 0
    /// `Private_Dirty`: resident, mapped once, dirty.
    public var privateDirty: UInt64 = 0
    /// `Referenced`: young in the entry or referenced in the folio.
    public var referenced: UInt64 = 0
    /// `Anonymous`: anonymous pages.
    public var anonymous: UInt64 = 0
    /// `KSM`: pages merged by KSM.
    public var ksm: UInt64 = 0
    /// `LazyFree`: clean anonymous pages freed by `MADV_FREE`, not yet reclaimed.
    public var lazyFree: UInt64 = 0
    /// `AnonHugePages`: anonymous memory mapped by PMD leaves.
    public var anonymousTHP: UInt64 = 0
    /// `ShmemPmdMapped`: shmem mapped by PMD leaves.
    public var shmemTHP: UInt64 = 0
    /// `FilePmdMapped`: file memory mapped by PMD leaves.
    public var fileTHP: UInt64 = 0
    /// `Swap`: memory swapped out (swap entries).
    public var swap: UInt64 = 0
    /// `Shared_Hugetlb`: hugetlb pages mapped more than once (or not present).
    public var sharedHugetlb: UInt64 = 0
    /// `Private_Hugetlb`: hugetlb pages mapped once.
    public var privateHugetlb: UInt64 = 0
    /// `Pss`: each page's size divided by its map count (<< `pssShift`).
    public var pss: UInt64 = 0
    /// `Pss_Anon`: the anonymous part of `pss` (<< `pssShift`).
    public var pssAnon: UInt64 = 0
    /// `Pss_File`: the file part of `pss` (<< `pssShift`).
    public var pssFile: UInt64 = 0
    /// `Pss_Shmem`: the shmem part of `pss` (<< `pssShift`).
    public var pssShmem: UInt64 = 0
    /// `Pss_Dirty`: the dirty part of `pss` (<< `pssShift`).
    public var pssDirty: UInt64 = 0
    /// `Locked`: the `pss` of the pages of `VM_LOCKED` VMAs (<< `pssShift`).
    public var pssLocked: UInt64 = 0
    /// `SwapPss`: swap divided by each slot's count (<< `pssShift`).
    public var swapPss: UInt64 = 0
    /// What could not be determined exactly.
    public var unknown: SmapsUnknowns = []

    /// All zero.
    public init() {}

    /// Adds `other` field by field (smaps_rollup accumulates every VMA into one).
    public static func += (a: inout MemoryStats, b: MemoryStats) {
        a.resident += b.resident
        a.sharedClean += b.sharedClean
        a.sharedDirty += b.sharedDirty
        a.privateClean += b.privateClean
        a.privateDirty += b.privateDirty
        a.referenced += b.referenced
        a.anonymous += b.anonymous
        a.ksm += b.ksm
        a.lazyFree += b.lazyFree
        a.anonymousTHP += b.anonymousTHP
        a.shmemTHP += b.shmemTHP
        a.fileTHP += b.fileTHP
        a.swap += b.swap
        a.sharedHugetlb += b.sharedHugetlb
        a.privateHugetlb += b.privateHugetlb
        a.pss += b.pss
        a.pssAnon += b.pssAnon
        a.pssFile += b.pssFile
        a.pssShmem += b.pssShmem
        a.pssDirty += b.pssDirty
        a.pssLocked += b.pssLocked
        a.swapPss += b.swapPss
        a.unknown.formUnion(b.unknown)
    }

    /// The fields as smaps prints them, in its order: (name, kB). `rollup` adds Pss_Anon,
    /// Pss_File and Pss_Shmem, as smaps_rollup does.
    public func fields(rollup: Bool) -> [(name: String, kB: UInt64)] {
        let shift = Self.pssShift + 10
        var out: [(String, UInt64)] = [
            ("Rss", resident >> 10), ("Pss", pss >> shift), ("Pss_Dirty", pssDirty >> shift),
        ]
        if rollup {
            out += [("Pss_Anon", pssAnon >> shift), ("Pss_File", pssFile >> shift), ("Pss_Shmem", pssShmem >> shift)]
        }
        out += [
            ("Shared_Clean", sharedClean >> 10), ("Shared_Dirty", sharedDirty >> 10),
            ("Private_Clean", privateClean >> 10), ("Private_Dirty", privateDirty >> 10),
            ("Referenced", referenced >> 10), ("Anonymous", anonymous >> 10), ("KSM", ksm >> 10),
            ("LazyFree", lazyFree >> 10), ("AnonHugePages", anonymousTHP >> 10), ("ShmemPmdMapped", shmemTHP >> 10),
            ("FilePmdMapped", fileTHP >> 10), ("Shared_Hugetlb", sharedHugetlb >> 10),
            ("Private_Hugetlb", privateHugetlb >> 10), ("Swap", swap >> 10), ("SwapPss", swapPss >> shift),
            ("Locked", pssLocked >> shift),
        ]
        return out
    }

    /// The body lines of smaps (`__show_smap`), each `Name:` padded and the value right-aligned
    /// as the kernel prints them.
    public func formatted(rollup: Bool) -> String {
        fields(rollup: rollup).map { Self.line($0.name, $0.kB) }.joined()
    }

    /// One `Name:   value kB` line, as `seq_put_decimal_ull_width` pads it.
    static func line(_ name: String, _ kB: UInt64) -> String {
        // Every label is 16 wide with an 8-wide value, except "Private_Hugetlb: " (17, 7).
        let label = name == "Private_Hugetlb" ? "Private_Hugetlb: " : pad(name + ":", 16)
        let width = name == "Private_Hugetlb" ? 7 : 8
        let v = String(kB)
        return label + String(repeating: " ", count: max(0, width - v.count)) + v + " kB\n"
    }

    static func pad(_ s: String, _ width: Int) -> String {
        s.count >= width ? s : s + String(repeating: " ", count: width - s.count)
    }

    /// The names of the fields that depend on an unknown (see `SmapsUnknowns`).
    public var unknownFieldNames: [String] {
        var names: [String] = []
        if unknown.contains(.pss) {
            names += ["Pss", "Pss_Dirty", "Pss_Anon", "Pss_File", "Pss_Shmem", "Shared_Clean", "Shared_Dirty",
                      "Private_Clean", "Private_Dirty", "Locked"]
        }
        if unknown.contains(.dirty) { names += ["Pss_Dirty", "Shared_Dirty", "Private_Dirty", "Shared_Clean", "Private_Clean"] }
        if unknown.contains(.referenced) { names.append("Referenced") }
        if unknown.contains(.ksm) { names.append("KSM") }
        if unknown.contains(.lazyFree) { names.append("LazyFree") }
        if unknown.contains(.shmem) { names += ["Pss_File", "Pss_Shmem", "ShmemPmdMapped", "FilePmdMapped"] }
        if unknown.contains(.swapPss) { names.append("SwapPss") }
        var seen = Set<String>()
        return names.filter { seen.insert($0).inserted }
    }
}

/// The smaps walk (fs/proc/task_mmu.c: `smaps_pte_range`, `smaps_pte_entry`,
/// `smaps_pmd_entry`, `smaps_hugetlb_range`, `smaps_account`, `smaps_page_accumulate`) as a
/// visitor: a `pmdEntry` that handles a PMD leaf itself or loops over the PTE table under the
/// PTE lock, and a `hugetlbEntry`. Page flags and map counts come from the import's
/// `PhysicalPages` (the kernel reads them from `struct folio`).
public struct SmapsVisitor: PageWalkVisitor {
    /// What the walk accumulated.
    public var stats = MemoryStats()
    let pages: PhysicalPages

    /// A visitor for the walks of `snapshot`'s address space.
    public init(snapshot: ProcessSnapshot) {
        pages = snapshot.pages
    }

    /// `smaps_pte_range`.
    public mutating func pmdEntry(_ pmd: inout PMD, address: UInt64, next: UInt64, walk: WalkContext) throws -> WalkStep {
        guard let vma = walk.vma else { return .proceed }
        let locked = vma.flags.contains(.locked)
        // pmd_trans_huge_lock: a trans-huge or a non-present (migration) PMD.
        if pmd.isLeaf || pmd.isSwap {
            pmdLeaf(pmd, address, walk, locked)
            return .proceed
        }
        let mapped: Void? = walk.withPTEs(of: &pmd, range: address..<next) { ptes in
            var a = address
            for i in ptes.indices {
                pte(ptes[i], a, walk, locked)
                a &+= 4096
            }
        }
        if mapped == nil { walk.action = .again }
        return .proceed
    }

    /// `smaps_hugetlb_range`.
    public mutating func hugetlbEntry(_ entry: inout PTE, hmask: UInt64, address: UInt64, next: UInt64,
                                      walk: WalkContext) throws -> WalkStep {
        let size = ~hmask &+ 1
        var folio: UInt64? = nil
        var present = false
        if entry.isPresent {
            folio = entry.pfn
            present = true
        } else if let t = entry.swapType, Self.hasPFN(t) {
            folio = entry.swapOffset
        }
        guard let folio else { return .proceed }
        // Non-present entries count as "maybe shared"; a folio mapped more than once is shared.
        let mapcount = pages.mapcount(folio)
        if mapcount == nil && present { stats.unknown.insert(.pss) }
        if !present || (mapcount ?? 1) >= 2 {
            stats.sharedHugetlb += size
        } else {
            stats.privateHugetlb += size
        }
        return .proceed
    }

    /// Swap types whose offset is a PFN: hwpoison, migration, device (`is_pfn_swap_entry`).
    static func hasPFN(_ type: UInt8) -> Bool { type >= SwapType.hwpoison && type < SwapType.marker }

    /// `smaps_pte_entry`.
    mutating func pte(_ pte: PTE, _ addr: UInt64, _ walk: WalkContext, _ locked: Bool) {
        var page: UInt64? = nil
        var present = false, young = false, dirty = false
        if pte.isPresent {
            page = walk.vmNormalPage(pte, at: addr)?.pfn
            young = pte.isAccessed
            dirty = pte.isDirty
            present = true
        } else if let type = pte.swapType {
            if type < SwapType.hwpoison {
                // A real swap entry: the slot's count is not in any page table.
                stats.swap += 4096
                stats.swapPss += 4096 << MemoryStats.pssShift
                stats.unknown.insert(.swapPss)
            } else if Self.hasPFN(type) {
                if type == SwapType.deviceFirst || type == SwapType.deviceFirst + 1 { present = true }
                page = pte.swapOffset
            }
        } else {
            // pte_none: smaps_pte_hole_lookup counts swapped-out shmem from the page cache,
            // which no page table holds.
            return
        }
        guard let page else { return }
        account(page, walk, compound: false, young: young, dirty: dirty, locked: locked, present: present)
    }

    /// `smaps_pmd_entry`.
    mutating func pmdLeaf(_ pmd: PMD, _ addr: UInt64, _ walk: WalkContext, _ locked: Bool) {
        var page: UInt64? = nil
        var present = false
        if pmd.isPresent {
            page = walk.vmNormalPage(pmd, at: addr)?.pfn
            present = true
        } else if let t = pmd.swapType, Self.hasPFN(t) {
            page = pmd.swapOffset
        }
        guard let page else { return }
        let f = pages.flags(page)
        if f?.contains(.anon) == true {
            stats.anonymousTHP += 2 << 20
        } else if pages.flagsSource == .kpageflags, let f {
            if f.contains(.swapBacked) { stats.shmemTHP += 2 << 20 } else { stats.fileTHP += 2 << 20 }
        } else {
            stats.fileTHP += 2 << 20
            stats.unknown.insert(.shmem)
        }
        account(page, walk, compound: true, young: pmd.isAccessed, dirty: pmd.isDirty, locked: locked, present: present)
    }

    /// `smaps_account`.
    mutating func account(_ pfn: UInt64, _ walk: WalkContext, compound: Bool, young: Bool, dirty: Bool, locked: Bool,
                          present: Bool) {
        var head = pfn
        var nr: UInt64 = 1
        if let page = walk.page(pfn: pfn) {
            head = page.folioHead
            if compound { nr = page.folioPages }
        }
        let size = nr * 4096
        let full = pages.flagsSource == .kpageflags
        let f = pages.flags(pfn) ?? pages.flags(head)
        let anon = f?.contains(.anon) ?? false
        let folioDirty = full ? (f?.contains(.dirty) ?? false) : false
        if !full { stats.unknown.formUnion([.dirty, .referenced, .ksm]) }

        if anon {
            stats.anonymous += size
            if full {
                if !(f?.contains(.swapBacked) ?? true) && !dirty && !folioDirty { stats.lazyFree += size }
            } else {
                stats.unknown.insert(.lazyFree)
            }
        }
        if full && f?.contains(.ksm) == true { stats.ksm += size }
        stats.resident += size
        if young || (full && f?.contains(.referenced) == true) { stats.referenced += size }

        // Non-present entries (migration) are "maybe shared"; otherwise every page's precise
        // map count decides (the kernel's refcount == 1 shortcut gives the same result).
        if !present {
            accumulate(f, size: size, pss: size << MemoryStats.pssShift, dirty: dirty || folioDirty, locked: locked,
                       isPrivate: false)
            return
        }
        for i in 0..<nr {
            var pss: UInt64 = 4096 << MemoryStats.pssShift
            let mapcount: UInt32
            if let c = pages.mapcount(pfn + i) {
                mapcount = c
            } else {
                stats.unknown.insert(.pss)
                mapcount = 1
            }
            if mapcount >= 2 { pss /= UInt64(mapcount) }
            accumulate(f, size: 4096, pss: pss, dirty: dirty || folioDirty, locked: locked, isPrivate: mapcount < 2)
        }
    }

    /// `smaps_page_accumulate`.
    mutating func accumulate(_ f: KPageFlags?, size: UInt64, pss: UInt64, dirty: Bool, locked: Bool, isPrivate: Bool) {
        stats.pss += pss
        if f?.contains(.anon) == true {
            stats.pssAnon += pss
        } else if pages.flagsSource == .kpageflags, f?.contains(.swapBacked) == true {
            stats.pssShmem += pss
        } else {
            stats.pssFile += pss
            if pages.flagsSource != .kpageflags { stats.unknown.insert(.shmem) }
        }
        if locked { stats.pssLocked += pss }
        if dirty {
            stats.pssDirty += pss
            if isPrivate { stats.privateDirty += size } else { stats.sharedDirty += size }
        } else {
            if isPrivate { stats.privateClean += size } else { stats.sharedClean += size }
        }
    }
}

// MARK: - smaps and smaps_rollup of a snapshot

extension ProcessSnapshot {
    /// The smaps figures of one machine VMA: `walk_page_vma` with the smaps visitor, holding
    /// the mmap lock for read (`smap_gather_stats`).
    public func smaps(vma: VMA, engine: WalkEngine = .c) throws -> MemoryStats {
        var visitor = SmapsVisitor(snapshot: self)
        _ = try space.withMmapReadLock { try vma.walkPageVMA(visitor: &visitor, engine: engine) }
        return visitor.stats
    }

    /// The figures of every region, in maps order (the gate VMA, which the machine does not
    /// hold, with all zeros).
    public func smapsAll(engine: WalkEngine = .c) throws -> [(region: ImportedRegion, stats: MemoryStats)] {
        var out: [(ImportedRegion, MemoryStats)] = []
        for r in regions {
            if let id = r.vmaID, let vma = space.vma(id: id) {
                out.append((r, try smaps(vma: vma, engine: engine)))
            } else {
                out.append((r, MemoryStats()))
            }
        }
        return out
    }

    /// smaps_rollup: every VMA's figures added up (the gate VMA is not part of it).
    public func smapsRollup(engine: WalkEngine = .c) throws -> MemoryStats {
        var visitor = SmapsVisitor(snapshot: self)
        try space.withMmapReadLock {
            for vma in space.vmas { try vma.walkPageVMA(visitor: &visitor, engine: engine) }
        }
        return visitor.stats
    }

    /// `/proc/PID/smaps` text: each VMA's maps line, Size, KernelPageSize, MMUPageSize, the
    /// figures, THPeligible and VmFlags.
    public func formatSmaps(engine: WalkEngine = .c) throws -> String {
        let thp = TransparentHugepageSettings.current()
        var out = ""
        for (r, s) in try smapsAll(engine: engine) {
            let vma = r.vmaID.flatMap { space.vma(id: $0) }
            let flags = try vma?.flags ?? r.flags
            out += r.mapsLine + "\n"
            out += MemoryStats.line("Size", (r.range.upperBound - r.range.lowerBound) >> 10)
            out += MemoryStats.line("KernelPageSize", r.kernelPageSize >> 10)
            out += MemoryStats.line("MMUPageSize", r.kernelPageSize >> 10)
            out += s.formatted(rollup: false)
            out += "THPeligible:    " + Self.padLeft(thp.eligible(r, flags: flags) ? "1" : "0", 8) + "\n"
            out += "VmFlags: " + flags.vmFlagsText + r.unknownFlags.map { $0 + " " }.joined() + "\n"
        }
        return out
    }

    /// `/proc/PID/smaps_rollup` text for `stats`.
    public func formatSmapsRollup(_ stats: MemoryStats) -> String {
        let user = regions.filter { $0.vmaID != nil }
        let start = user.first?.range.lowerBound ?? 0
        let end = user.last?.range.upperBound ?? 0
        let prefix = "\(Self.hex8(start))-\(Self.hex8(end)) ---p 00000000 00:00 0 "
        return ImportedRegion.mapsLine(prefix: prefix, name: "[rollup]") + "\n" + stats.formatted(rollup: true)
    }

    static func hex8(_ v: UInt64) -> String {
        let s = String(v, radix: 16)
        return s.count >= 8 ? s : String(repeating: "0", count: 8 - s.count) + s
    }

    static func padLeft(_ s: String, _ width: Int) -> String {
        s.count >= width ? s : String(repeating: " ", count: width - s.count) + s
    }
}

/// The THP settings smaps' `THPeligible` depends on, from /sys/kernel/mm/transparent_hugepage.
struct TransparentHugepageSettings {
    /// "always", "madvise" or "never" for PMD-sized THPs (with "inherit" resolved).
    var pmdMode: String

    static func current() -> TransparentHugepageSettings {
        func read(_ path: String) -> String? {
            guard let f = try? ProcFile(path, pid: nil), let text = try? f.readAll() else { return nil }
            guard let open = text.firstIndex(of: "["), let close = text.firstIndex(of: "]") else { return nil }
            return String(text[text.index(after: open)..<close])
        }
        let global = read("/sys/kernel/mm/transparent_hugepage/enabled") ?? "never"
        var mode = read("/sys/kernel/mm/transparent_hugepage/hugepages-2048kB/enabled") ?? "inherit"
        if mode == "inherit" { mode = global }
        return TransparentHugepageSettings(pmdMode: mode)
    }

    /// An approximation of `thp_vma_allowable_orders(..., TVA_SMAPS, ...)` for PMD-sized THPs:
    /// anonymous VMAs allowed by the mode and MADV_(NO)HUGEPAGE, large enough to hold an aligned
    /// 2 MiB range. File VMAs are reported 0 (their eligibility depends on the filesystem).
    func eligible(_ r: ImportedRegion, flags: VMAFlags) -> Bool {
        guard r.kind == .anonymous || r.kind == .heap || r.kind == .stack else { return false }
        if flags.contains(.noHugePage) || flags.contains(.hugetlb) || !flags.isDisjoint(with: [.pfnmap, .mixedmap, .io]) {
            return false
        }
        let allowed = pmdMode == "always" || (pmdMode == "madvise" && flags.contains(.hugePage))
        guard allowed else { return false }
        let size: UInt64 = 2 << 20
        let haddr = (r.range.upperBound - size) & ~(size - 1)
        return r.range.upperBound >= size && haddr >= r.range.lowerBound && haddr + size <= r.range.upperBound
    }
}
