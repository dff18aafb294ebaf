import PageWalk

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// How an import reads a process.
public struct ImportOptions: Sendable {
    /// Use `/proc/kpageflags` and `/proc/kpagecount` when they can be read (THPs, zero pages,
    /// anonymous, compound heads, map counts). Without them those facts are unknown.
    public var usePageFlags = true
    /// Read `VmFlags` and `KernelPageSize` from `/proc/PID/smaps`; without them VMA flags are
    /// inferred from the permissions and hugetlb VMAs are not recognised.
    public var useVMFlags = true
    /// Record the page-cache residency of file VMAs (what mincore reports for file pages that
    /// no page table maps).
    public var recordPageCache = true
    /// Reads of the whole process to try before giving up on a process that keeps changing
    /// its mappings.
    public var attempts = 3
    /// Accept the last read even if the mappings changed during it (importing the importing
    /// process itself always changes them a little).
    public var acceptChanges = false
    /// Spare page-table frames beyond what the import needs (for installers and splits).
    public var spareTables: UInt64 = 4096
    /// Subtract from `/proc/kpagecount` the importer's own mappings of the same frames (the
    /// shared libraries it maps too), so that map counts — and Pss, Shared/Private — are the
    /// process's as they are when the importer is not running. Off by default: a caller that
    /// compares with the kernel's figures read while it runs wants its own mappings counted.
    /// `pagewalk` turns it on. Never applies to importing the importer itself.
    public var discountImporterMappings = false

    /// The defaults.
    public init() {}
}

/// What an import could know, and did.
public struct ImportKnowledge: Sendable, Equatable {
    /// PFNs are the process's real frames (false: pagemap hid them, and the import numbered
    /// the pages itself).
    public var realPFNs: Bool
    /// Page flags and map counts came from `/proc/kpageflags` and `/proc/kpagecount`.
    public var pageFlags: Bool
    /// VMA flags came from smaps' `VmFlags`.
    public var vmFlags: Bool
    /// The zero page's frame is known (and so zero-page PTEs are special).
    public var zeroPage: Bool
    /// The mappings did not change between the first and the last read.
    public var consistent: Bool
}

/// Counts and timings of an import.
public struct ImportSummary: Sendable, Equatable {
    /// VMAs created in the machine.
    public var vmas = 0
    /// PTEs written (present, swap and marker entries).
    public var ptes = 0
    /// PMD leaves written for PMD-mapped THPs.
    public var pmdLeaves = 0
    /// Hugetlb leaves written.
    public var hugetlbLeaves = 0
    /// Swap (and migration, device) PTEs among `ptes`.
    public var swapEntries = 0
    /// PTE markers among `ptes`.
    public var markers = 0
    /// Special PTEs mapping the zero page among `ptes`.
    public var zeroPagePTEs = 0
    /// PMD leaves mapping the huge zero page.
    public var hugeZeroLeaves = 0
    /// Folios of more than one page declared.
    public var largeFolios = 0
    /// Page-table frames the import's tables need.
    public var pageTables = 0
    /// Reads of the whole process it took (see ``ImportOptions/attempts``).
    public var reads = 0
    /// The highest PFN seen.
    public var highestPFN: UInt64 = 0
    /// Frames whose map count was lowered by the importer's own mappings
    /// (`ImportOptions.discountImporterMappings`).
    public var importerSharedFrames = 0
    /// Where the PMD mappings of THPs came from: "PAGEMAP_SCAN" (PAGE_IS_HUGE), "AnonHugePages"
    /// (smaps bounds the candidates per VMA), or "frames" (consecutive frames of a THP folio).
    public var thpSource = "frames"
    /// Where the sources disagree (one line each: the VMA, what each said, what was imported).
    public var thpNotes: [String] = []
    /// Seconds spent reading /proc (maps, smaps, pagemap, kpageflags, kpagecount: what the kernel
    /// hands over), and building the machine from it.
    public var readSeconds = 0.0, buildSeconds = 0.0
}

/// A running process imported into a simulated machine: its VMAs, page tables (PTEs, PMD-mapped
/// THPs as PMD leaves, hugetlb pages as hugetlb leaves, swap and marker entries), folios and the
/// side tables of what the model has no field for (region names, page flags, map counts).
///
/// ```swift
/// let snapshot = try ProcessSnapshot.importProcess(pid: pid)
/// let stats = try snapshot.smapsRollup()            // smaps_rollup, from a walk
/// let entries = try snapshot.pagemap(range)         // /proc/PID/pagemap, from a walk
/// ```
public final class ProcessSnapshot: @unchecked Sendable {
    /// The process id (nil for a recorded process without one).
    public let pid: Int32?
    /// The machine: every imported PFN is a frame below `machine`'s table region.
    public let machine: Machine
    /// The process's address space in the machine.
    public let space: AddressSpace
    /// Every VMA of maps, in address order (the gate VMA included, without a machine VMA).
    public let regions: [ImportedRegion]
    /// Per-frame page flags and map counts.
    public let pages: PhysicalPages
    /// What the import could know, and did.
    public let knowledge: ImportKnowledge
    /// Counts and timings of the import.
    public let summary: ImportSummary
    /// The zero page's frame (the machine's `zero_pfn`) when known.
    public let zeroPFN: UInt64?
    /// The huge zero page's frame when the process maps it.
    public let hugeZeroPFN: UInt64?
    private let regionIndex: [UInt32: Int]

    init(pid: Int32?, machine: Machine, space: AddressSpace, regions: [ImportedRegion], pages: PhysicalPages,
         knowledge: ImportKnowledge, summary: ImportSummary, zeroPFN: UInt64?, hugeZeroPFN: UInt64?) {
        self.pid = pid
        self.machine = machine
        self.space = space
        self.regions = regions
        self.pages = pages
        self.knowledge = knowledge
        self.summary = summary
        self.zeroPFN = zeroPFN
        self.hugeZeroPFN = hugeZeroPFN
        var index: [UInt32: Int] = [:]
        for (i, r) in regions.enumerated() { if let id = r.vmaID { index[id] = i } }
        regionIndex = index
    }

    /// The region of the machine VMA numbered `id`.
    public func region(vma id: UInt32) -> ImportedRegion? { regionIndex[id].map { regions[$0] } }

    /// Imports the running process `pid`.
    public static func importProcess(pid: Int32, options: ImportOptions = ImportOptions()) throws(ImportError)
        -> ProcessSnapshot
    {
        var options = options
        if pid == getpid() { options.acceptChanges = true }
        return try importProcess(from: LiveProcess(pid: pid), options: options)
    }

    /// Imports the process `source` reads.
    public static func importProcess(from source: ProcessSource, options: ImportOptions = ImportOptions())
        throws(ImportError) -> ProcessSnapshot
    {
        var importer = Importer(source: source, options: options)
        return try importer.run()
    }
}

/// Seconds of a monotonic clock.
func monotonicSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

// MARK: - The import

/// The highest user address a 5-level machine can hold; VMAs above (the gate) stay out.
private let userLimit: UInt64 = 1 << 56

private struct Importer {
    let source: ProcessSource
    let options: ImportOptions
    let name: String

    // What the reads produced.
    var lines: [MapsLine] = []
    var vmaInfo: [Range<UInt64>: SmapsVMAInfo]? = nil
    /// Non-empty pagemap entries, in address order: virtual page numbers and entries.
    var vpns: [UInt64] = []
    var pmes: [UInt64] = []
    /// Per maps line: the index range of its entries, and whether its holes read soft-dirty.
    var spans: [Range<Int>] = []
    var softDirtyHoles: [Bool] = []
    var summary = ImportSummary()
    var consistent = true

    init(source: ProcessSource, options: ImportOptions) {
        self.source = source
        self.options = options
        name = source.pid.map { "/proc/\($0)" } ?? "recorded process"
    }

    mutating func run() throws(ImportError) -> ProcessSnapshot {
        let t0 = monotonicSeconds()
        try readConsistently()
        let t1 = monotonicSeconds()
        let snapshot = try build()
        let t2 = monotonicSeconds()
        _ = (t0, t1, t2)
        return snapshot
    }

    // MARK: reading

    mutating func readConsistently() throws(ImportError) {
        let buffer = UnsafeMutableBufferPointer<UInt64>.allocate(capacity: 1 << 16)
        defer { buffer.deallocate() }
        let start = monotonicSeconds()
        var attempt = 0
        while true {
            attempt += 1
            let maps = try source.readMaps()
            lines = try parseMaps(maps, source: "\(name)/maps")
            if lines.isEmpty {
                throw ImportError(.exited, "pagewalk: \(name)/maps is empty: the process has no address space (exited, or a kernel thread)")
            }
            vmaInfo = nil
            if options.useVMFlags, let text = try? source.readSmaps() { vmaInfo = parseSmapsVMAInfo(text) }
            try readPagemap(buffer)
            let again: String
            do {
                again = try source.readMaps()
            } catch {
                if error.kind == .noProcess { throw ImportError(.exited, "pagewalk: process \(source.pid ?? 0) exited during the import") }
                throw error
            }
            if again.isEmpty {
                throw ImportError(.exited, "pagewalk: process \(source.pid ?? 0) exited during the import (\(name)/maps became empty)")
            }
            if again == maps { break }
            if attempt >= options.attempts {
                if options.acceptChanges {
                    consistent = false
                    break
                }
                throw ImportError(.changing, "pagewalk: \(name) kept changing its mappings during \(attempt) reads; no consistent snapshot")
            }
        }
        summary.reads = attempt
        summary.readSeconds = monotonicSeconds() - start
    }

    mutating func readPagemap(_ buffer: UnsafeMutableBufferPointer<UInt64>) throws(ImportError) {
        vpns.removeAll(keepingCapacity: true)
        pmes.removeAll(keepingCapacity: true)
        spans = []
        softDirtyHoles = []
        let live = PagemapEntry.presentBit | PagemapEntry.swapBit
        for line in lines {
            let first = vpns.count
            var sdHole = false
            if line.end <= userLimit {
                var page = line.start >> 12
                let endPage = line.end >> 12
                while page < endPage {
                    let n = Int(min(UInt64(buffer.count), endPage - page))
                    let chunk = UnsafeMutableBufferPointer(rebasing: buffer[0..<n])
                    try source.readPagemap(firstPage: page, into: chunk)
                    for i in 0..<n {
                        let e = chunk[i]
                        if e & live != 0 {
                            vpns.append(page + UInt64(i))
                            pmes.append(e)
                        } else if e & PagemapEntry.softDirtyBit != 0 {
                            sdHole = true
                        }
                    }
                    page += UInt64(n)
                }
            }
            spans.append(first..<vpns.count)
            softDirtyHoles.append(sdHole)
        }
    }

    // MARK: building

    /// How one page of the process becomes entries.
    enum Plan {
        case pte
        case pmdLeaf
        case hugetlbLeaf(shift: UInt32)
    }

    mutating func build() throws(ImportError) -> ProcessSnapshot {
        let start = monotonicSeconds()
        var pageFactsSeconds = 0.0
        let presentBit = PagemapEntry.presentBit

        // PFNs: real, or hidden (no CAP_SYS_ADMIN) and numbered here.
        var realPFNs = false
        var anyPresent = false
        for e in pmes where e & presentBit != 0 {
            anyPresent = true
            if e & PagemapEntry.frameMask != 0 {
                realPFNs = true
                break
            }
        }
        if anyPresent && !realPFNs {
            var next: UInt64 = 2
            for i in pmes.indices where pmes[i] & presentBit != 0 {
                pmes[i] = (pmes[i] & ~PagemapEntry.frameMask) | next
                next += 1
            }
        }
        let useFlags = options.usePageFlags && realPFNs && source.canReadPageFlags

        // Every frame the process refers to: present pages and the PFNs of migration,
        // hwpoison and device entries; a bitmap, visited in PFN order (a sorted array of them
        // took 16 bytes a page and a sort).
        func referencedPFN(_ e: UInt64) -> UInt64? {
            let pme = PagemapEntry(rawValue: e)
            if pme.isPresent { return pme.frame }
            if let t = pme.swapType, t >= SwapType.hwpoison, t < SwapType.marker, let off = pme.swapOffset {
                return off
            }
            return nil
        }
        var highest: UInt64 = 0
        for e in pmes { if let p = referencedPFN(e), p > highest { highest = p } }
        // A machine has at most 2^28 frames (checked again with the tables below).
        if highest >= 1 << 28 {
            throw ImportError(.tooLarge, "pagewalk: PFN 0x\(String(highest, radix: 16)) of \(name) needs more than 2^28 frames; a machine has at most 2^28")
        }
        var unique = PFNSet(highest: highest)
        for e in pmes { if let p = referencedPFN(e) { unique.insert(p) } }
        summary.highestPFN = highest

        // Data frames: every PFN seen, rounded up to a 2 MiB block, plus a spare block.
        let dataFrames = ((highest | 511) + 1) + 512
        let pages = PhysicalPages(frames: dataFrames, source: useFlags ? .kpageflags : .pagemap)
        if useFlags {
            // kpageflags and kpagecount are the kernel's handover, as pagemap is: read time.
            let kernel = try readPageFacts(unique, into: pages)
            summary.readSeconds += kernel
            pageFactsSeconds = kernel
            if options.discountImporterMappings, let own = source.importerMapCounts() {
                var corrected = 0
                func discount(_ p: UInt64) {
                    guard let mine = own[p], let count = pages.mapcount(p) else { return }
                    pages.setMapcount(p, count > mine ? UInt64(count) - mine : 0)
                    corrected += 1
                }
                for p in unique { discount(p) }
                summary.importerSharedFrames = corrected
            }
        } else {
            for e in pmes {
                let pme = PagemapEntry(rawValue: e)
                guard pme.isPresent else { continue }
                pages.setFlags(pme.frame, pme.isFileOrSharedAnon ? 0 : KPageFlags.anon.rawValue)
                if pme.isExclusive { pages.setMapcount(pme.frame, 1) }
            }
        }

        // The zero pages.
        var zeroPFN: UInt64? = nil
        var hugeZeroPFN: UInt64? = nil
        if useFlags {
            for p in unique {
                guard let f = pages.flags(p), f.contains(.zeroPage) else { continue }
                if f.contains(.thp) {
                    if hugeZeroPFN == nil { hugeZeroPFN = f.contains(.compoundHead) ? p : (p & ~511) }
                } else if zeroPFN == nil {
                    zeroPFN = p
                }
            }
        }

        // Regions, with their VMA flags.
        var regions: [ImportedRegion] = []
        var hugeShift: [UInt32] = []
        var nextID: UInt32 = 1
        for (i, line) in lines.enumerated() {
            let kind = line.kind
            let info = vmaInfo?[line.start..<line.end]
            var flags = info?.flags ?? line.inferredFlags
            if softDirtyHoles[i] { flags.insert(.softDirty) }
            var shift: UInt32 = 0
            if let info, info.flags.contains(.hugetlb) {
                let s: UInt32 = info.kernelPageSize == 1 << 30 ? 30 : info.kernelPageSize == 2 << 20 ? 21 : 0
                if s != 0 && (line.start | line.end) & ((1 << UInt64(s)) - 1) == 0 { shift = s }
            }
            hugeShift.append(shift)
            var cache: [UInt8]? = nil
            if kind == .file && options.recordPageCache {
                cache = source.pageCacheResidency(of: line.start..<line.end, fileOffset: line.offset)
            }
            let id: UInt32? = kind == .gate ? nil : nextID
            if id != nil { nextID += 1 }
            regions.append(ImportedRegion(
                range: line.start..<line.end, permissions: line.permissions, offset: line.offset, device: line.device,
                inode: line.inode, name: line.name, kind: kind, vmaID: id, flags: flags, flagsKnown: info != nil,
                unknownFlags: info?.unknown ?? [], kernelPageSize: info?.kernelPageSize ?? 4096, pageCache: cache))
        }

        // The 2 MiB ranges the kernel maps with a PMD, where the source can tell.
        var hugeStarts: Set<UInt64>? = nil
        let scanEnd = lines.map(\.end).filter { $0 <= userLimit }.max() ?? 0
        if useFlags, scanEnd > 0, let ranges = source.hugeMappedRanges(0..<scanEnd) {
            var set = Set<UInt64>()
            for r in ranges {
                var a = (r.lowerBound + (1 << 21) - 1) & ~((1 << 21) - 1)
                while a + (1 << 21) <= r.upperBound {
                    set.insert(a)
                    a += 1 << 21
                }
            }
            hugeStarts = set
            summary.thpSource = "PAGEMAP_SCAN"
        } else if vmaInfo?.values.contains(where: { $0.anonHugePages != nil }) == true {
            summary.thpSource = "AnonHugePages"
        }

        // Which pages become PMD leaves, hugetlb leaves or PTEs.
        var plans = [UInt8](repeating: 0, count: vpns.count)  // 0 pte, 1 leaf head, 2 inside a leaf
        for (ri, span) in spans.enumerated() where !span.isEmpty {
            let r = regions[ri]
            if hugeShift[ri] != 0 {
                let per = UInt64(1) << UInt64(hugeShift[ri] - 12)
                var i = span.lowerBound
                while i < span.upperBound {
                    let head = vpns[i] & ~(per - 1)
                    if vpns[i] == head { plans[i] = 1 } else { plans[i] = 2 }
                    i += 1
                }
                _ = r
                continue
            }
            guard useFlags else { continue }
            // A THP's frames alone do not say how the kernel maps it: after a split of its PMD
            // (mprotect of part of it, then back) it is mapped by PTEs. PAGEMAP_SCAN says which
            // 2 MiB ranges are PMD-mapped; without it, AnonHugePages bounds an anonymous VMA's.
            let anonHuge = vmaInfo?[r.range]?.anonHugePages
            var budget: UInt64? = hugeStarts == nil && r.kind != .file ? anonHuge.map { $0 >> 21 } : nil
            var candidates: UInt64 = 0, leaves: UInt64 = 0
            var i = span.lowerBound
            while i < span.upperBound {
                let v = vpns[i]
                if v & 511 == 0, i + 511 < span.upperBound, vpns[i + 511] == v + 511,
                   isPMDMappedTHP(at: i, pages: pages, hugeZeroPFN: hugeZeroPFN)
                {
                    candidates += 1
                    var leaf = hugeStarts?.contains(v << 12) ?? true
                    if let b = budget { leaf = b > 0; budget = b > 0 ? b - 1 : 0 }
                    if leaf {
                        leaves += 1
                        plans[i] = 1
                        for k in 1..<512 { plans[i + k] = 2 }
                        i += 512
                        continue
                    }
                }
                i += 1
            }
            let name = "\(String(r.range.lowerBound, radix: 16))-\(String(r.range.upperBound, radix: 16)) \(r.name)"
            if hugeStarts != nil, leaves != candidates {
                summary.thpNotes.append("\(name): \(candidates - leaves) THP(s) mapped by PTEs (PAGEMAP_SCAN), imported as PTEs")
            }
            if let anonHuge, r.kind != .file {
                if hugeStarts != nil, anonHuge != leaves << 21 {
                    summary.thpNotes.append("\(name): AnonHugePages \(anonHuge >> 10) kB, PAGEMAP_SCAN \(leaves << 11) kB PMD-mapped: imported as PAGEMAP_SCAN says")
                } else if hugeStarts == nil, candidates != leaves {
                    summary.thpNotes.append("\(name): \(candidates) THP(s) in the frames, AnonHugePages \(anonHuge >> 10) kB: \(leaves) imported as PMD leaves (which ones is a guess)")
                }
            }
        }

        // The machine, built from physical ranges: the 2 MiB blocks that hold the PFNs seen (the
        // frames between them are holes, as in the real machine's memory map), the spare block
        // below `dataFrames` (the zero page when flags did not name one), then the table region.
        // Only these frames cost struct pages, however far apart the PFNs are.
        let levels = lines.contains(where: { $0.end <= userLimit && $0.end > 1 << 47 }) ? 5 : 4
        let tables = countTables(plans: plans, hugeShift: hugeShift, levels: levels)
        summary.pageTables = tables
        var ranges: [PhysicalRange] = []
        func addBlock(_ block: UInt64) {  // blocks come in ascending order
            if let last = ranges.last, block <= last.firstPFN + last.frames {
                ranges[ranges.count - 1].frames = max(last.frames, block + 512 - last.firstPFN)
            } else {
                ranges.append(PhysicalRange(firstPFN: block, frames: 512))
            }
        }
        for p in unique { addBlock(p & ~511) }
        addBlock(dataFrames - 512)
        let tableFrames = UInt64(tables) + 2 + options.spareTables
        ranges.append(PhysicalRange(firstPFN: dataFrames, frames: tableFrames))
        let frames = ranges.reduce(0) { $0 + $1.frames }
        if dataFrames + tableFrames > 1 << 28 {
            throw ImportError(.tooLarge, "pagewalk: PFN 0x\(String(highest, radix: 16)) of \(name) needs \(frames) frames below PFN 0x\(String(dataFrames + tableFrames, radix: 16)); a machine has at most 2^28")
        }
        let zero = zeroPFN ?? (dataFrames - 512)
        let machine: Machine
        let space: AddressSpace
        do {
            machine = try Machine(levels: levels, ranges: ranges, tableBase: dataFrames, zeroPFN: zero,
                                  hugeZeroPFN: hugeZeroPFN ?? 0)
            space = try machine.makeAddressSpace()
        } catch {
            throw ImportError(.tooLarge, "pagewalk: cannot create a machine of \(frames) frames for \(name): \(error)")
        }

        // VMAs, with their files.
        var files: [String: Mapping] = [:]
        var nextFile: UInt32 = 1
        for (ri, r) in regions.enumerated() where r.vmaID != nil {
            var mapping: Mapping? = nil
            if r.kind == .file {
                let key = "\(r.device):\(r.inode):\(r.name)"
                if let m = files[key] {
                    mapping = m
                } else {
                    let m = machine.mapping(nextFile)
                    nextFile += 1
                    files[key] = m
                    mapping = m
                }
            }
            var flags = r.flags
            flags.remove(.hugetlb)
            let pgoff = r.kind == .file ? r.offset >> 12 : r.range.lowerBound >> 12
            let huge: HugePageSize? = hugeShift[ri] == 30 ? .oneGigabyte : hugeShift[ri] == 21 ? .twoMegabytes : nil
            do {
                let vma = try space.addVMA(r.range, flags: flags, file: mapping, pgoff: pgoff, hugePages: huge)
                precondition(vma.id == r.vmaID!)
                // The recorded page-cache residency, for kernel-style clients (filemap_get_entry):
                // one stand-in frame, up to date, for pages whose frame pagemap does not show.
                if let mapping, let cache = r.pageCache {
                    for (i, b) in cache.enumerated() where b & 1 != 0 {
                        mapping.setCachedPage(pgoff + UInt64(i), frame: dataFrames - 1)
                    }
                    machine.setPageFacts(dataFrames - 1, PageFacts(flags: KPageFlags([.uptodate, .lru]).rawValue))
                }
            } catch {
                throw ImportError(.malformed, "pagewalk: \(name)/maps: VMA \(r.headerPrefix)cannot be added: \(error)")
            }
        }
        summary.vmas = Int(nextID - 1)

        // Folios: compound pages from the flags (hugetlb ones from their VMA's page size).
        if useFlags {
            var declared = Set<UInt64>()
            for p in unique {
                guard let f = pages.flags(p), f.isCompound, !f.contains(.huge) else { continue }
                let head = f.contains(.compoundHead) ? p : headOf(p, pages)
                guard let head, declared.insert(head).inserted else { continue }
                let n = pages.compoundPages(head: head)
                if n > 1 && n & (n - 1) == 0 {
                    try? machine.declareFolio(head: head, order: n.trailingZeroBitCount)
                    summary.largeFolios += 1
                }
            }
        }

        // The page facts kernel-style clients read (compat/, pagewalk_pages.h): flags and
        // map counts as kpageflags and kpagecount (or pagemap alone) gave them.
        func recordFacts(_ p: UInt64) {
            guard let f = pages.flags(p) else { return }
            let count = Int32(clamping: pages.mapcount(p) ?? 0)
            machine.setPageFacts(p, PageFacts(flags: f.rawValue, mapcount: count, refcount: count))
        }
        for p in unique { recordFacts(p) }

        // Entries. PTEs go in by runs of consecutive pages inside one PTE table, installed by one
        // walk each (the Swift engine's install_pte loop) instead of a descent from the top per PTE.
        let pte = PageTableLevel.pte
        var run: [UInt64] = []
        run.reserveCapacity(512)
        var runStart: UInt64 = 0
        func flush() throws(ImportError) {
            guard !run.isEmpty else { return }
            let range = runStart..<runStart + UInt64(run.count) << 12
            do {
                try run.withUnsafeBufferPointer { values in
                    var installer = PTEInstaller(start: runStart, values: values.baseAddress!)
                    _ = try space.withMmapReadLock { () throws -> WalkResult in
                        try space.walkPageRangeMM(range, visitor: &installer, engine: .swift)
                    }
                }
            } catch {
                throw ImportError(.tooLarge, "pagewalk: cannot write the entries of [0x\(String(range.lowerBound, radix: 16)), 0x\(String(range.upperBound, radix: 16))) of \(name): \(error)")
            }
            run.removeAll(keepingCapacity: true)
        }
        for (ri, span) in spans.enumerated() where !span.isEmpty {
            let r = regions[ri]
            let shift = hugeShift[ri]
            // A PFNMAP VMA is skipped by walks without test_walk: its PTEs are set one by one.
            let batch = shift == 0 && !r.flags.contains(.pfnmap)
            for i in span where plans[i] != 2 {
                let address = vpns[i] << 12
                do {
                    if shift != 0 {
                        let level: PageTableLevel = shift == 30 ? .pud : .pmd
                        let value = leafValue(pmes[i], region: r, pages: pages, hugeZero: nil, hugetlb: true)
                        try space.setEntry(level, at: address, to: value)
                        if PagemapEntry(rawValue: pmes[i]).isPresent {
                            let pfn = PagemapEntry(rawValue: pmes[i]).frame
                            try? machine.declareFolio(head: pfn, order: Int(shift) - 12)
                        }
                        summary.hugetlbLeaves += 1
                    } else if plans[i] == 1 {
                        try space.setEntry(.pmd, at: address,
                                           to: leafValue(pmes[i], region: r, pages: pages, hugeZero: hugeZeroPFN, hugetlb: false))
                        if PagemapEntry(rawValue: pmes[i]).frame == hugeZeroPFN {
                            summary.hugeZeroLeaves += 1
                        } else {
                            summary.pmdLeaves += 1
                        }
                    } else {
                        let value = pteValue(pmes[i], region: r, pages: pages, zeroPFN: zeroPFN)
                        if batch {
                            if run.count == 512 || (!run.isEmpty && runStart + UInt64(run.count) << 12 != address) {
                                try flush()
                            }
                            if run.isEmpty { runStart = address }
                            run.append(value)
                        } else {
                            try space.setEntry(pte, at: address, to: value)
                        }
                        summary.ptes += 1
                        let e = PTE(rawValue: value)
                        if e.marker != nil { summary.markers += 1 } else if e.isSwap { summary.swapEntries += 1 }
                        if e.isPresent && e.isSpecial && zeroPFN != nil && e.pfn == zeroPFN { summary.zeroPagePTEs += 1 }
                    }
                } catch {
                    throw ImportError(.tooLarge, "pagewalk: cannot write the entry for 0x\(String(address, radix: 16)) of \(name): \(error)")
                }
            }
        }
        try flush()
        summary.buildSeconds = monotonicSeconds() - start - pageFactsSeconds
        let knowledge = ImportKnowledge(realPFNs: realPFNs || !anyPresent, pageFlags: useFlags,
                                        vmFlags: vmaInfo != nil, zeroPage: zeroPFN != nil, consistent: consistent)
        return ProcessSnapshot(pid: source.pid, machine: machine, space: space, regions: regions, pages: pages,
                               knowledge: knowledge, summary: summary, zeroPFN: zeroPFN, hugeZeroPFN: hugeZeroPFN)
    }

    /// Reads kpageflags and kpagecount for `pfns` in batched preads: runs of nearby frames read
    /// together. Then, for compound pages, the 2 MiB-aligned block around them, so that heads and
    /// tails are known (folio order). Returns the seconds spent in the reads (the kernel's part).
    func readPageFacts(_ pfns: PFNSet, into pages: PhysicalPages) throws(ImportError) -> Double {
        let maxRun = 1 << 16
        let flagBuf = UnsafeMutableBufferPointer<UInt64>.allocate(capacity: maxRun)
        let countBuf = UnsafeMutableBufferPointer<UInt64>.allocate(capacity: maxRun)
        defer {
            flagBuf.deallocate()
            countBuf.deallocate()
        }
        var kernel = 0.0
        func read(_ first: UInt64, _ count: Int, counts: Bool) throws(ImportError) {
            let f = UnsafeMutableBufferPointer(rebasing: flagBuf[0..<count])
            let t0 = monotonicSeconds()
            try source.readPageFlags(firstPFN: first, into: f)
            kernel += monotonicSeconds() - t0
            for k in 0..<count { pages.setFlags(first + UInt64(k), f[k]) }
            if counts {
                let c = UnsafeMutableBufferPointer(rebasing: countBuf[0..<count])
                let t1 = monotonicSeconds()
                try source.readPageCounts(firstPFN: first, into: c)
                kernel += monotonicSeconds() - t1
                for k in 0..<count { pages.setMapcount(first + UInt64(k), c[k]) }
            }
        }
        var run: (first: UInt64, last: UInt64)? = nil
        for p in pfns {
            if let r = run, p - r.last <= 64 && p - r.first < UInt64(maxRun) {
                run = (r.first, p)
                continue
            }
            if let r = run { try read(r.first, Int(r.last - r.first + 1), counts: true) }
            run = (p, p)
        }
        if let r = run { try read(r.first, Int(r.last - r.first + 1), counts: true) }
        // Complete compound pages that are only partly mapped.
        var blocks = Set<UInt64>()
        for p in pfns {
            guard let f = pages.flags(p), f.isCompound, !f.contains(.huge) else { continue }
            let block = p & ~511
            if blocks.insert(block).inserted {
                if (0..<512).allSatisfy({ pages.isKnown(block + $0) }) { continue }
                try read(block, 512, counts: false)
            }
        }
        return kernel
    }

    /// The head of the compound page holding tail `pfn`, searched back within its 2 MiB block.
    func headOf(_ pfn: UInt64, _ pages: PhysicalPages) -> UInt64? {
        var p = pfn
        while p > (pfn & ~511) {
            p -= 1
            guard let f = pages.flags(p) else { return nil }
            if f.contains(.compoundHead) { return p }
            if !f.contains(.compoundTail) { return nil }
        }
        return nil
    }

    /// True if the 512 pages from entry `i` on are one PMD-mapped THP (or the huge zero page):
    /// present, consecutive frames from an aligned head of an order-9 THP folio.
    func isPMDMappedTHP(at i: Int, pages: PhysicalPages, hugeZeroPFN: UInt64?) -> Bool {
        let first = PagemapEntry(rawValue: pmes[i])
        guard first.isPresent, first.frame & 511 == 0, let f = pages.flags(first.frame) else { return false }
        let isHugeZero = hugeZeroPFN == first.frame
        guard isHugeZero || (f.contains(.thp) && f.contains(.compoundHead) && !f.contains(.zeroPage)
                             && pages.compoundPages(head: first.frame) == 512) else { return false }
        for k in 1..<512 {
            let e = PagemapEntry(rawValue: pmes[i + k])
            if !e.isPresent || e.frame != first.frame + UInt64(k) { return false }
        }
        return true
    }

    /// The page tables the entries need: PTE tables, PMD, PUD (and P4D) tables, by distinct
    /// prefixes of the virtual page numbers.
    func countTables(plans: [UInt8], hugeShift: [UInt32], levels: Int) -> Int {
        var count = 0
        var lastPTE = UInt64.max, lastPMD = UInt64.max, lastPUD = UInt64.max, lastP4D = UInt64.max
        for (ri, span) in spans.enumerated() {
            for i in span {
                let v = vpns[i]
                if hugeShift[ri] == 0 && plans[i] == 0 && v >> 9 != lastPTE {
                    lastPTE = v >> 9
                    count += 1
                }
                if hugeShift[ri] != 30 && v >> 18 != lastPMD {
                    lastPMD = v >> 18
                    count += 1
                }
                if v >> 27 != lastPUD {
                    lastPUD = v >> 27
                    count += 1
                }
                if levels == 5 && v >> 36 != lastP4D {
                    lastP4D = v >> 36
                    count += 1
                }
            }
        }
        return count
    }

    /// The PTE for a pagemap entry. Present: PRESENT|USER|ACCESSED, the PFN, NX unless the VMA
    /// is executable, soft-dirty (bit 11) and uffd-wp (bit 10) as reported; the zero page is
    /// SPECIAL; RW where the kernel would have the page writable (a writable VMA, and a shared
    /// mapping or an exclusively mapped anonymous page); DIRTY for anonymous pages (other than
    /// lazily freed ones) and for file pages whose folio is dirty. Swapped: the swap entry, with
    /// soft-dirty and uffd-wp in the same bits.
    func pteValue(_ raw: UInt64, region r: ImportedRegion, pages: PhysicalPages, zeroPFN: UInt64?) -> UInt64 {
        let pme = PagemapEntry(rawValue: raw)
        var v: UInt64 = 0
        if pme.isSoftDirty && !r.flags.contains(.softDirty) { v |= EntryFlags.softDirty.rawValue }
        if pme.isUffdWriteProtected { v |= EntryFlags.uffdWriteProtect.rawValue }
        if pme.isPresent {
            let pfn = pme.frame
            v |= EntryFlags.present.rawValue | EntryFlags.user.rawValue | EntryFlags.accessed.rawValue
            if !r.flags.contains(.exec) { v |= EntryFlags.noExecute.rawValue }
            if let zeroPFN, pfn == zeroPFN {
                v |= EntryFlags.special.rawValue
            } else {
                let f = pages.flags(pfn)
                let anon = f?.contains(.anon) ?? !pme.isFileOrSharedAnon
                if r.flags.contains(.write) && (r.flags.contains(.shared) || (anon && pme.isExclusive)) {
                    v |= EntryFlags.writable.rawValue
                }
                let dirty: Bool
                if pages.flagsSource == .kpageflags, let f {
                    dirty = f.contains(.dirty) || (anon && f.contains(.swapBacked))
                } else {
                    dirty = anon
                }
                if dirty { v |= EntryFlags.dirty.rawValue }
            }
            return v | ((pfn << 12) & EntryFlags.pfnMask)
        }
        if pme.isSwapped, let type = pme.swapType, let offset = pme.swapOffset {
            return v | PTE.swap(type: type, offset: offset).rawValue
        }
        return 0
    }

    /// A PMD leaf (THP or huge zero page) or a hugetlb leaf for the entry of its first page.
    func leafValue(_ raw: UInt64, region r: ImportedRegion, pages: PhysicalPages, hugeZero: UInt64?,
                   hugetlb: Bool) -> UInt64 {
        let pme = PagemapEntry(rawValue: raw)
        if !pme.isPresent {
            if hugetlb, pme.isSwapped, let type = pme.swapType, let offset = pme.swapOffset {
                return PTE.swap(type: type, offset: offset).rawValue
            }
            return 0
        }
        var v = pteValue(raw, region: r, pages: pages, zeroPFN: nil) | EntryFlags.huge.rawValue
        if let hugeZero, pme.frame == hugeZero {
            v &= ~(EntryFlags.writable.rawValue | EntryFlags.dirty.rawValue)
            v |= EntryFlags.special.rawValue
        }
        return v
    }
}

/// A set of PFNs: one bit per frame up to the highest, visited in increasing order.
struct PFNSet: Sequence {
    private var words: [UInt64]

    init(highest: UInt64) { words = [UInt64](repeating: 0, count: Int(highest >> 6) + 1) }

    mutating func insert(_ pfn: UInt64) { words[Int(pfn >> 6)] |= 1 << (pfn & 63) }

    /// The PFNs in increasing order.
    struct Iterator: IteratorProtocol {
        fileprivate let words: [UInt64]
        fileprivate var index = 0
        fileprivate var word: UInt64 = 0

        mutating func next() -> UInt64? {
            while word == 0 {
                guard index < words.count else { return nil }
                word = words[index]
                index += 1
            }
            let bit = UInt64(word.trailingZeroBitCount)
            word &= word &- 1
            return UInt64(index - 1) << 6 | bit
        }
    }

    func makeIterator() -> Iterator { Iterator(words: words) }
}

/// Installs the PTEs `values[k]` at `start + k` pages over a run of none PTEs (an import's fresh
/// page tables).
private struct PTEInstaller: PageWalkVisitor {
    let start: UInt64
    let values: UnsafePointer<UInt64>

    mutating func installPTE(address: UInt64, next: UInt64, walk: WalkContext) -> InstallStep {
        .install(PTE(rawValue: values[Int((address &- start) >> 12)]))
    }
}
