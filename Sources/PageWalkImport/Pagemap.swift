import PageWalk

/// The pagemap walk (fs/proc/task_mmu.c: `pagemap_pmd_range`, `pte_to_pagemap_entry`,
/// `pagemap_pte_hole`, `pagemap_hugetlb_range`) as a visitor: one 64-bit `PagemapEntry` per
/// page of the range walked, in order.
public struct PagemapVisitor: PageWalkVisitor {
    /// The entries produced so far, one per page from the walk's start.
    public var entries: [PagemapEntry] = []
    /// Whether PFNs are shown (the kernel shows them to `CAP_SYS_ADMIN` only).
    public var showPFN: Bool
    let pages: PhysicalPages

    /// A visitor for the walks of `snapshot`'s address space; `showPFN` false zeroes the frames as for an unprivileged reader.
    public init(snapshot: ProcessSnapshot, showPFN: Bool = true) {
        pages = snapshot.pages
        self.showPFN = showPFN
    }

    /// `pagemap_pte_hole`: outside VMAs 0, inside a VMA soft-dirty if the VMA is.
    public mutating func pteHole(address: UInt64, next: UInt64, depth: Int, walk: WalkContext) throws -> WalkStep {
        var addr = address
        while addr < next {
            let vma = walk.findVMA(addr)
            let holeEnd = vma.map { min(next, $0.start) } ?? next
            while addr < holeEnd {
                entries.append(PagemapEntry(rawValue: 0))
                addr += 4096
            }
            guard let vma else { break }
            let pme = PagemapEntry(frame: 0, flags: vma.flags.contains(.softDirty) ? PagemapEntry.softDirtyBit : 0)
            let end = min(next, vma.end)
            while addr < end {
                entries.append(pme)
                addr += 4096
            }
        }
        return .proceed
    }

    /// `pagemap_pmd_range`.
    public mutating func pmdEntry(_ pmd: inout PMD, address: UInt64, next: UInt64, walk: WalkContext) throws -> WalkStep {
        guard let vma = walk.vma else { return .proceed }
        if pmd.isLeaf || pmd.isSwap {
            thp(pmd, address, next, vma)
            return .proceed
        }
        let mapped: Void? = walk.withPTEs(of: &pmd, range: address..<next) { ptes in
            var a = address
            for i in ptes.indices {
                entries.append(entry(ptes[i], a, vma, walk))
                a &+= 4096
            }
        }
        if mapped == nil { walk.action = .again }
        return .proceed
    }

    /// `pagemap_pmd_range_thp`: a PMD leaf or PMD migration entry, page by page.
    mutating func thp(_ pmd: PMD, _ address: UInt64, _ end: UInt64, _ vma: VMAInfo) {
        var idx = (address & ((2 << 20) - 1)) >> 12
        var flags: UInt64 = vma.flags.contains(.softDirty) ? PagemapEntry.softDirtyBit : 0
        var frame: UInt64 = 0
        var page: UInt64? = nil
        if pmd.isPresent {
            page = pmd.pfn
            flags |= PagemapEntry.presentBit
            if pmd.isSoftDirty { flags |= PagemapEntry.softDirtyBit }
            if pmd.isUffdWriteProtected { flags |= PagemapEntry.uffdWriteProtectBit }
            if showPFN { frame = pmd.pfn + idx }
        } else if let type = pmd.swapType, let offset = pmd.swapOffset {
            if showPFN { frame = UInt64(type) | ((offset + idx) << PagemapEntry.swapTypeBits) }
            flags |= PagemapEntry.swapBit
            if pmd.isSoftDirty { flags |= PagemapEntry.softDirtyBit }
            if pmd.isUffdWriteProtected { flags |= PagemapEntry.uffdWriteProtectBit }
            page = offset
        }
        if let page, pages.flags(page)?.contains(.anon) != true { flags |= PagemapEntry.fileBit }
        var addr = address
        while addr != end {
            var cur = flags
            if let page, flags & PagemapEntry.presentBit != 0, pages.mapcount(page + idx) == 1 {
                cur |= PagemapEntry.exclusiveBit
            }
            entries.append(PagemapEntry(frame: frame, flags: cur))
            if showPFN {
                if flags & PagemapEntry.presentBit != 0 {
                    frame += 1
                } else if flags & PagemapEntry.swapBit != 0 {
                    frame += 1 << PagemapEntry.swapTypeBits
                }
            }
            addr += 4096
            idx += 1
        }
    }

    /// `pte_to_pagemap_entry`.
    func entry(_ pte: PTE, _ addr: UInt64, _ vma: VMAInfo, _ walk: WalkContext) -> PagemapEntry {
        var frame: UInt64 = 0
        var flags: UInt64 = 0
        var page: UInt64? = nil
        if pte.isPresent {
            if showPFN { frame = pte.pfn }
            flags |= PagemapEntry.presentBit
            page = walk.vmNormalPage(pte, at: addr)?.pfn
            if pte.isSoftDirty { flags |= PagemapEntry.softDirtyBit }
            if pte.isUffdWriteProtected { flags |= PagemapEntry.uffdWriteProtectBit }
        } else if let type = pte.swapType, let offset = pte.swapOffset {
            if pte.isSoftDirty { flags |= PagemapEntry.softDirtyBit }
            if pte.isUffdWriteProtected { flags |= PagemapEntry.uffdWriteProtectBit }
            if showPFN { frame = UInt64(type) | (offset << PagemapEntry.swapTypeBits) }
            flags |= PagemapEntry.swapBit
            if SmapsVisitor.hasPFN(type) { page = offset }
            if let marker = pte.marker {
                if marker.contains(.uffdWriteProtect) { flags |= PagemapEntry.uffdWriteProtectBit }
                if marker.contains(.guardRegion) { flags |= PagemapEntry.guardRegionBit }
            }
        }
        if let page {
            if pages.flags(page)?.contains(.anon) != true { flags |= PagemapEntry.fileBit }
            if flags & PagemapEntry.presentBit != 0 && pages.mapcount(page) == 1 { flags |= PagemapEntry.exclusiveBit }
        }
        if vma.flags.contains(.softDirty) { flags |= PagemapEntry.softDirtyBit }
        return PagemapEntry(frame: frame, flags: flags)
    }

    /// `pagemap_hugetlb_range`.
    public mutating func hugetlbEntry(_ pte: inout PTE, hmask: UInt64, address: UInt64, next: UInt64,
                                      walk: WalkContext) throws -> WalkStep {
        guard let vma = walk.vma else { return .proceed }
        var flags: UInt64 = vma.flags.contains(.softDirty) ? PagemapEntry.softDirtyBit : 0
        var frame: UInt64 = 0
        if pte.isPresent {
            let folio = pte.pfn
            if pages.flags(folio)?.contains(.anon) != true { flags |= PagemapEntry.fileBit }
            if (pages.mapcount(folio) ?? 2) < 2 { flags |= PagemapEntry.exclusiveBit }
            if pte.isUffdWriteProtected { flags |= PagemapEntry.uffdWriteProtectBit }
            flags |= PagemapEntry.presentBit
            if showPFN { frame = pte.pfn + ((address & ~hmask) >> 12) }
        } else if pte.isUffdWriteProtected || pte.marker?.contains(.uffdWriteProtect) == true {
            flags |= PagemapEntry.uffdWriteProtectBit
        }
        var addr = address
        while addr != next {
            entries.append(PagemapEntry(frame: frame, flags: flags))
            if showPFN && flags & PagemapEntry.presentBit != 0 { frame += 1 }
            addr += 4096
        }
        return .proceed
    }
}

extension ProcessSnapshot {
    /// `/proc/PID/pagemap` for the pages of `range` (page-aligned; clipped to the user address
    /// space): `walk_page_range` with the pagemap visitor under the mmap read lock.
    public func pagemap(_ range: Range<UInt64>, showPFN: Bool = true, engine: WalkEngine = .c) throws -> [PagemapEntry] {
        let start = range.lowerBound & ~4095
        let end = min((range.upperBound + 4095) & ~4095, machine.geometry.taskSize)
        guard start < end else { return [] }
        var visitor = PagemapVisitor(snapshot: self, showPFN: showPFN)
        _ = try space.withMmapReadLock { try space.walkPageRange(start..<end, visitor: &visitor, engine: engine) }
        return visitor.entries
    }
}
