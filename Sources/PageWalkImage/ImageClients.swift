import CWalkImage
import PageWalk

/// x86-64 Linux's reading of one page-table entry (arch/x86's pte_present, pte_pfn with the
/// L1TF inversion of PROT_NONE entries, the swap layout with the type in bits 59..63 and the
/// offset inverted from bit 9).
public struct X86Entry: Sendable, Equatable, CustomStringConvertible {
    /// The raw 64 bits.
    public let rawValue: UInt64
    /// Wraps raw bits.
    public init(_ rawValue: UInt64) { self.rawValue = rawValue }

    /// Zero.
    public var isNone: Bool { rawValue == 0 }
    /// PRESENT or PROTNONE.
    public var isPresent: Bool { pw_x86_present(rawValue) }
    /// PROTNONE without PRESENT.
    public var isProtNone: Bool { pw_x86_protnone(rawValue) }
    /// PSE: a leaf at the PUD and PMD levels.
    public var isHuge: Bool { rawValue & UInt64(PW_X86_PSE) != 0 }
    /// The PFN (a PROT_NONE entry's un-inverted).
    public var pfn: UInt64 { pw_x86_pfn(rawValue) }
    /// Non-zero and not present: a swap, migration or marker entry.
    public var isSwap: Bool { pw_x86_is_swap(rawValue) }
    /// The swap type (bits 59..63).
    public var swapType: UInt32 { pw_x86_swp_type(rawValue) }
    /// The swap offset (bits 9..58, inverted).
    public var swapOffset: UInt64 { pw_x86_swp_offset(rawValue) }
    /// Soft-dirty: bit 11 when present, bit 1 in a swap entry.
    public var isSoftDirty: Bool {
        isPresent ? rawValue & UInt64(PW_X86_SOFT_DIRTY) != 0 : rawValue & UInt64(PW_X86_SWP_SOFT_DIRTY) != 0
    }
    /// uffd-wp: bit 10 when present, bit 2 in a swap entry.
    public var isUffdWP: Bool {
        isPresent ? rawValue & UInt64(PW_X86_UFFD_WP) != 0 : rawValue & UInt64(PW_X86_SWP_UFFD_WP) != 0
    }
    /// The swap entry's exclusive bit (bit 7).
    public var isSwapExclusive: Bool { isSwap && rawValue & UInt64(PW_X86_SWP_EXCLUSIVE) != 0 }
    /// The protection key (bits 59..62) of a present leaf.
    public var protectionKey: UInt32 { UInt32((rawValue >> 59) & 0xf) }

    /// Flags as x86's ptdump names them (for a present entry), or the swap fields.
    public func flags(leafLevel: PageTableLevel) -> String {
        let v = rawValue
        if !isPresent {
            if isNone { return "none" }
            var s = "swap type \(swapType) offset 0x\(String(swapOffset, radix: 16))"
            if isSoftDirty { s += " soft-dirty" }
            if isUffdWP { s += " uffd-wp" }
            if isSwapExclusive { s += " exclusive" }
            return s
        }
        var parts: [String] = []
        parts.append(v & UInt64(PW_X86_USER) != 0 ? "USR" : "   ")
        parts.append(v & UInt64(PW_X86_RW) != 0 ? "RW" : "ro")
        parts.append(v & UInt64(PW_X86_PWT) != 0 ? "PWT" : "   ")
        parts.append(v & UInt64(PW_X86_PCD) != 0 ? "PCD" : "   ")
        let huge = leafLevel == .pud || leafLevel == .pmd
        parts.append(huge && isHuge ? "PSE" : "   ")
        let pat = leafLevel == .pte ? v & UInt64(PW_X86_PSE) != 0 : huge && v & UInt64(PW_X86_PAT_LARGE) != 0
        parts.append(pat ? "PAT" : "   ")
        parts.append(isProtNone ? "NONE" : v & UInt64(PW_X86_GLOBAL) != 0 ? "GLB " : "    ")
        parts.append(v & UInt64(PW_X86_NX) != 0 ? "NX" : "x ")
        if protectionKey != 0 { parts.append("pkey=\(protectionKey)") }
        return parts.joined(separator: " ")
    }

    /// The entry in hex.
    public var description: String { "0x" + String(rawValue, radix: 16) }
}

// MARK: - pagemap

/// `/proc/PID/pagemap` as fs/proc/task_mmu.c computes it on x86-64 (`pte_to_pagemap_entry`,
/// `pagemap_pmd_range`, `pagemap_hugetlb_range`, `pagemap_pte_hole`), over an image's tables.
///
/// Bits that need `struct page` (56 exclusively mapped, 61 file/shared-anon) are not derived
/// from page tables and stay 0.
public struct ImagePagemapVisitor: PageWalkVisitor {
    /// One entry per page from the walk's start.
    public var entries: [UInt64] = []
    /// VMAs that smaps marks soft-dirty (VM_SOFTDIRTY), by start.
    let softDirtyVMAs: Set<UInt64>

    public static let present: UInt64 = 1 << 63, swap: UInt64 = 1 << 62, softDirty: UInt64 = 1 << 55
    public static let uffdWP: UInt64 = 1 << 57, exclusive: UInt64 = 1 << 56, file: UInt64 = 1 << 61

    /// A visitor; `maps` gives VM_SOFTDIRTY where smaps says so.
    public init(maps: [MapsLine] = []) {
        softDirtyVMAs = Set(maps.filter { $0.softDirty }.map { $0.start })
    }

    func vmaFlags(_ walk: WalkContext) -> UInt64 {
        guard let v = walk.vma else { return 0 }
        return softDirtyVMAs.contains(v.start) ? Self.softDirty : 0
    }

    mutating func fill(_ address: UInt64, _ next: UInt64, _ e: UInt64) {
        var a = address
        while a < next {
            entries.append(e)
            a += 4096
        }
    }

    /// `pagemap_pte_hole`: outside VMAs 0, inside a VMA soft-dirty if the VMA is.
    public mutating func pteHole(address: UInt64, next: UInt64, depth: Int, walk: WalkContext) throws -> WalkStep {
        // Inside a VMA soft-dirty if the VMA is; between VMAs 0.
        fill(address, next, vmaFlags(walk))
        return .proceed
    }

    /// One PTE (or a PMD leaf's page at `index`).
    func entry(_ e: X86Entry, index: UInt64 = 0, walk: WalkContext) -> UInt64 {
        var flags = vmaFlags(walk)
        var frame: UInt64 = 0
        if e.isPresent {
            frame = e.pfn + index
            flags |= Self.present
            if e.isSoftDirty { flags |= Self.softDirty }
            if e.isUffdWP { flags |= Self.uffdWP }
        } else if e.isSwap {
            frame = UInt64(e.swapType) | ((e.swapOffset + index) << 5)
            flags |= Self.swap
            if e.isSoftDirty { flags |= Self.softDirty }
            if e.isUffdWP { flags |= Self.uffdWP }
        }
        return flags | (frame & ((1 << 55) - 1))
    }

    /// `pagemap_pmd_range`: a trans-huge PMD or PMD migration entry page by page, without going below it.
    public mutating func pmdEntry(_ pmd: inout PMD, address: UInt64, next: UInt64, walk: WalkContext) throws -> WalkStep {
        let e = X86Entry(pmd.rawValue)
        // A trans-huge PMD (present and PSE) or a PMD migration entry: page by page, and the
        // walker must not go below it.
        if (e.isPresent && e.isHuge) || e.isSwap {
            var a = address
            while a < next {
                entries.append(entry(e, index: (a & ((1 << 21) - 1)) >> 12, walk: walk))
                a += 4096
            }
            walk.action = .continue
        }
        return .proceed
    }

    /// `pte_to_pagemap_entry` for one PTE.
    public mutating func pteEntry(_ pte: inout PTE, address: UInt64, next: UInt64, walk: WalkContext) throws -> WalkStep {
        entries.append(entry(X86Entry(pte.rawValue), walk: walk))
        return .proceed
    }

    /// `pagemap_hugetlb_range`: one entry per page of the huge page.
    public mutating func hugetlbEntry(_ pte: inout PTE, hmask: UInt64, address: UInt64, next: UInt64,
                                      walk: WalkContext) throws -> WalkStep {
        let e = X86Entry(pte.rawValue)
        var flags = vmaFlags(walk)
        var frame: UInt64 = 0
        if e.isPresent {
            flags |= Self.present
            if e.isUffdWP { flags |= Self.uffdWP }
            frame = e.pfn + ((address & ~hmask) >> 12)
        } else if e.isSwap && e.isUffdWP {
            flags |= Self.uffdWP
        }
        var a = address
        while a < next {
            entries.append(flags | frame)
            if flags & Self.present != 0 { frame += 1 }
            a += 4096
        }
        return .proceed
    }
}

extension ImageTarget {
    /// The pagemap entries of the user pages `range` (page aligned), as the guest's
    /// `/proc/PID/pagemap` gives them (PFNs shown): with VMA semantics after ``attach(maps:)``,
    /// else over the tables alone (`walk_page_range_debug`; hugetlb pages then read as THPs).
    public func pagemap(_ range: Range<UInt64>, engine: WalkEngine = .c) throws -> [UInt64] {
        let start = range.lowerBound & ~0xfff
        let end = min((range.upperBound + 0xfff) & ~0xfff, machine.geometry.taskSize)
        guard start < end else { return [] }
        var v = ImagePagemapVisitor(maps: maps)
        if maps.isEmpty {
            _ = try user.withMmapWriteLock { try user.walkPageRangeDebug(start..<end, visitor: &v, engine: engine) }
        } else {
            _ = try user.withMmapReadLock { try user.walkPageRange(start..<end, visitor: &v, engine: engine) }
        }
        return v.entries
    }
}

// MARK: - translate

/// One step of a translation: the entry read at a level.
public struct TranslationStep: Sendable, Equatable {
    /// The level.
    public let level: PageTableLevel
    /// The entry's index in its table.
    public let index: Int
    /// The entry.
    public let entry: X86Entry
}

/// The translation of one virtual address.
public struct Translation: Sendable, Equatable {
    /// The address translated.
    public let virtualAddress: UInt64
    /// The entries read, top first.
    public let steps: [TranslationStep]
    /// The physical address, when a present leaf maps it.
    public let physicalAddress: UInt64?
    /// The level of that leaf.
    public let leafLevel: PageTableLevel?
}

struct TranslateVisitor: PageWalkVisitor {
    let levels: Int
    var steps: [(PageTableLevel, UInt64)] = []

    mutating func pgdEntry(_ e: inout PGD, address: UInt64, next: UInt64, walk: WalkContext) throws -> WalkStep {
        steps.append((.pgd, e.rawValue))
        return .proceed
    }
    mutating func p4dEntry(_ e: inout P4D, address: UInt64, next: UInt64, walk: WalkContext) throws -> WalkStep {
        if levels == 5 { steps.append((.p4d, e.rawValue)) }
        return .proceed
    }
    mutating func pudEntry(_ e: inout PUD, address: UInt64, next: UInt64, walk: WalkContext) throws -> WalkStep {
        steps.append((.pud, e.rawValue))
        return .proceed
    }
    mutating func pmdEntry(_ e: inout PMD, address: UInt64, next: UInt64, walk: WalkContext) throws -> WalkStep {
        steps.append((.pmd, e.rawValue))
        return .proceed
    }
    mutating func pteEntry(_ e: inout PTE, address: UInt64, next: UInt64, walk: WalkContext) throws -> WalkStep {
        steps.append((.pte, e.rawValue))
        return .proceed
    }
}

extension ImageTarget {
    /// Translates `va` with a walk of its page (user addresses in the user half, kernel
    /// addresses in the kernel half), recording the entry at every level.
    public func translate(_ va: UInt64, engine: WalkEngine = .c) throws -> Translation {
        let page = va & ~0xfff
        var v = TranslateVisitor(levels: root.levels)
        let g = machine.geometry
        let kernelHalf = va >= g.taskSize
        if kernelHalf {
            // canonical kernel addresses only
            guard va >= ~(g.taskSize - 1) else { return Translation(virtualAddress: va, steps: [], physicalAddress: nil, leafLevel: nil) }
            _ = try kernel.withMmapReadLock { try machine.walkKernelPageTableRange(page..<(page &+ 4096 == 0 ? UInt64.max : page + 4096), visitor: &v, engine: engine) }
        } else {
            _ = try user.withMmapWriteLock { try user.walkPageRangeDebug(page..<page + 4096, visitor: &v, engine: engine) }
        }
        var steps: [TranslationStep] = []
        var pa: UInt64? = nil
        var leaf: PageTableLevel? = nil
        for (level, raw) in v.steps {
            let shift: UInt64 = switch level {
            case .pgd: root.levels == 5 ? 48 : 39
            case .p4d: 39
            case .pud: 30
            case .pmd: 21
            case .pte: 12
            }
            let e = X86Entry(raw)
            steps.append(TranslationStep(level: level, index: Int((va >> shift) & 511), entry: e))
            let isLeaf = level == .pte || ((level == .pud || level == .pmd) && e.isHuge)
            if isLeaf && e.isPresent {
                pa = (e.pfn << 12) + (va & ((1 << shift) - 1))
                leaf = level
            }
        }
        return Translation(virtualAddress: va, steps: steps, physicalAddress: pa, leafLevel: leaf)
    }
}

// MARK: - ptdump

/// One run of pages with the same attributes, as x86's ptdump prints it.
public struct ImagePTDumpRange: Sendable, Equatable {
    /// The addresses.
    public let start: UInt64, end: UInt64
    /// The level of the leaves.
    public let level: PageTableLevel
    /// The flags shown.
    public let flags: String
}

/// x86-64's address markers (Documentation/arch/x86/x86_64/mm.rst) for 4 or 5 levels. With
/// KASLR's memory randomization the direct map, vmalloc and vmemmap bases move inside their
/// regions; the markers name the regions.
public func x86AddressMarkers(levels: Int) -> [(UInt64, String)] {
    let five = levels == 5
    return [
        (0, "User Space"),
        (five ? 0xff00_0000_0000_0000 : 0xffff_8000_0000_0000, "Kernel Space"),
        (five ? 0xff10_0000_0000_0000 : 0xffff_8800_0000_0000, "LDT remap"),
        (five ? 0xff11_0000_0000_0000 : 0xffff_8880_0000_0000, "Low Kernel Mapping (direct map)"),
        (five ? 0xffa0_0000_0000_0000 : 0xffff_c900_0000_0000, "vmalloc() Area"),
        (five ? 0xffd4_0000_0000_0000 : 0xffff_ea00_0000_0000, "Vmemmap"),
        (0xffff_fc00_0000_0000, "KASAN shadow"),
        (0xffff_fe00_0000_0000, "CPU entry Area"),
        (0xffff_ff00_0000_0000, "ESPfix Area"),
        (0xffff_ffef_0000_0000, "EFI Runtime Services"),
        (0xffff_ffff_8000_0000, "High Kernel Mapping"),
        (0xffff_ffff_c000_0000, "Modules"),
        (0xffff_ffff_ff00_0000, "End Modules / Fixmap"),
    ]
}

struct PTDumpVisitor: PageWalkVisitor {
    var ranges: [ImagePTDumpRange] = []
    var cur: (start: UInt64, end: UInt64, level: PageTableLevel, flags: String)? = nil

    mutating func note(_ start: UInt64, _ end: UInt64, _ level: PageTableLevel, _ e: X86Entry) {
        guard e.isPresent else { flush(); return }
        let f = e.flags(leafLevel: level)
        if let c = cur, c.end == start, c.level == level, c.flags == f {
            cur!.end = end
        } else {
            flush()
            cur = (start, end, level, f)
        }
    }

    mutating func flush() {
        if let c = cur { ranges.append(ImagePTDumpRange(start: c.start, end: c.end, level: c.level, flags: c.flags)) }
        cur = nil
    }

    /// A PUD or PMD entry: a present PSE entry is a leaf, noted and not descended into.
    mutating func upper(_ level: PageTableLevel, _ raw: UInt64, _ address: UInt64, _ next: UInt64,
                        _ walk: WalkContext) -> WalkStep {
        let x = X86Entry(raw)
        if x.isPresent && x.isHuge {
            note(address, next, level, x)
            walk.action = .continue
        }
        return .proceed
    }
    mutating func pudEntry(_ e: inout PUD, address: UInt64, next: UInt64, walk: WalkContext) throws -> WalkStep {
        upper(.pud, e.rawValue, address, next, walk)
    }
    mutating func pmdEntry(_ e: inout PMD, address: UInt64, next: UInt64, walk: WalkContext) throws -> WalkStep {
        upper(.pmd, e.rawValue, address, next, walk)
    }
    mutating func pteEntry(_ e: inout PTE, address: UInt64, next: UInt64, walk: WalkContext) throws -> WalkStep {
        note(address, next, .pte, X86Entry(e.rawValue))
        return .proceed
    }
}

extension ImageTarget {
    /// The present leaves of the user half (`kernel` false) or the kernel half, merged into runs of
    /// equal attributes as ptdump does.
    public func ptdump(kernel kernelHalf: Bool, engine: WalkEngine = .c) throws -> [ImagePTDumpRange] {
        var v = PTDumpVisitor()
        let g = machine.geometry
        if kernelHalf {
            let start = ~(g.taskSize - 1)
            _ = try kernel.withMmapReadLock { try machine.walkKernelPageTableRange(start..<UInt64.max, visitor: &v, engine: engine) }
        } else {
            _ = try user.withMmapWriteLock { try user.walkPageRangeDebug(0..<g.taskSize, visitor: &v, engine: engine) }
        }
        v.flush()
        return v.ranges
    }
}

// MARK: - a full walk

/// Counts of a full walk: every entry at every level, both halves.
public struct FullWalkCounts: Sendable, Equatable {
    /// Callbacks per level (PGD, P4D, PUD, PMD, PTE) and holes.
    public var entries: [Int] = [0, 0, 0, 0, 0]
    /// `pteHole` calls.
    public var holes = 0
    /// Present leaves (PTEs and PUD/PMD leaves) and swap PTEs.
    public var presentLeaves = 0, swapEntries = 0
    /// All zero.
    public init() {}
}

struct FullWalkVisitor: PageWalkVisitor {
    var c = FullWalkCounts()

    mutating func pgdEntry(_ e: inout PGD, address: UInt64, next: UInt64, walk: WalkContext) throws -> WalkStep {
        c.entries[0] += 1
        return .proceed
    }
    mutating func p4dEntry(_ e: inout P4D, address: UInt64, next: UInt64, walk: WalkContext) throws -> WalkStep {
        c.entries[1] += 1
        return .proceed
    }
    /// A PUD or PMD entry: a present PSE entry is a leaf, not descended into.
    mutating func upper(_ level: Int, _ raw: UInt64, _ walk: WalkContext) -> WalkStep {
        c.entries[level] += 1
        if raw & 0x81 == 0x81 {
            c.presentLeaves += 1
            walk.action = .continue
        }
        return .proceed
    }
    mutating func pudEntry(_ e: inout PUD, address: UInt64, next: UInt64, walk: WalkContext) throws -> WalkStep {
        upper(2, e.rawValue, walk)
    }
    mutating func pmdEntry(_ e: inout PMD, address: UInt64, next: UInt64, walk: WalkContext) throws -> WalkStep {
        upper(3, e.rawValue, walk)
    }
    mutating func pteEntry(_ e: inout PTE, address: UInt64, next: UInt64, walk: WalkContext) throws -> WalkStep {
        c.entries[4] += 1
        let x = e.rawValue
        if x & 0x101 != 0 { c.presentLeaves += 1 } else if x != 0 { c.swapEntries += 1 }
        return .proceed
    }
    mutating func pteHole(address: UInt64, next: UInt64, depth: Int, walk: WalkContext) throws -> WalkStep {
        c.holes += 1
        return .proceed
    }
}

extension ImageTarget {
    /// Walks every table reachable from the root, both halves, with a callback at every level.
    public func fullWalk(engine: WalkEngine = .c) throws -> FullWalkCounts {
        var v = FullWalkVisitor()
        let g = machine.geometry
        _ = try user.withMmapWriteLock { try user.walkPageRangeDebug(0..<g.taskSize, visitor: &v, engine: engine) }
        _ = try kernel.withMmapReadLock {
            try machine.walkKernelPageTableRange(~(g.taskSize - 1)..<UInt64.max, visitor: &v, engine: engine)
        }
        return v.c
    }
}
